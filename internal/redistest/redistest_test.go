package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestServerLoadStopRestart(t *testing.T) {
	ctx := context.Background()
	s := StartServer(t)
	s.Load(1000, HashGen("h:", 3))
	s.Load(100, MixedGen("m:"))
	c := s.Client()
	if n := c.DBSize(ctx).Val(); n != 1100 {
		t.Fatalf("DBSIZE = %d, want 1100", n)
	}
	if v := c.HGet(ctx, "h:7", "f2").Val(); v != "v7_2" {
		t.Fatalf("h:7 f2 = %q", v)
	}
	if typ := c.Type(ctx, "m:1").Val(); typ != "list" {
		t.Fatalf("m:1 type %q", typ)
	}
	run1, err := s.RunID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Stop() // saves
	if s.Running() {
		t.Fatal("still running after Stop")
	}
	s.Restart()
	run2, err := s.RunID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if run1 == run2 {
		t.Fatal("run_id unchanged after restart")
	}
	if n := c.DBSize(ctx).Val(); n != 1100 {
		t.Fatalf("after Stop+Restart DBSIZE = %d, want 1100", n)
	}
	s.Kill()
	s.Restart()
	// Kill does not save; the RDB written by Stop is loaded again.
	if n := c.DBSize(ctx).Val(); n != 1100 {
		t.Fatalf("after Kill+Restart DBSIZE = %d, want 1100 (from the earlier snapshot)", n)
	}
	s.FlushAll()
	if n := c.DBSize(ctx).Val(); n != 0 {
		t.Fatalf("after FLUSHALL DBSIZE = %d", n)
	}
}

func TestKeySlotMatchesServer(t *testing.T) {
	cl := StartCluster(t, ClusterOptions{})
	ctx := context.Background()
	c := cl.Masters()[0].Client()
	keys := []string{"", "a", "foo", "user:{42}:x", "{}x", "x{}{y}", "{a}{b}", "h:123456", "{", "}{a}"}
	for i := range 50 {
		keys = append(keys, "k"+strconv.Itoa(i*7919))
	}
	for _, k := range keys {
		want, err := c.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := KeySlot(k); got != int(want) {
			t.Errorf("KeySlot(%q) = %d, server says %d", k, got, want)
		}
	}
}

func TestClusterLoadMigrateRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	cl := StartCluster(t, ClusterOptions{})
	t.Logf("cluster ready in %v", time.Since(start))
	cl.Load(5000, HashGen("h:", 2))
	if n, err := cl.DBSize(ctx); err != nil || n != 5000 {
		t.Fatalf("DBSIZE = %d, %v", n, err)
	}
	// Pick a slot owned by master 0 that holds keys.
	slot := KeySlot("h:1")
	from, err := cl.SlotOwner(ctx, slot)
	if err != nil {
		t.Fatal(err)
	}
	to := (from + 1) % 3
	before, _ := cl.Nodes()[from].Client().ClusterCountKeysInSlot(ctx, slot).Result()
	if before == 0 {
		t.Fatal("slot unexpectedly empty")
	}
	m, err := cl.BeginMigration(ctx, slot, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := m.Step(ctx, 1); err != nil || n != 1 {
		t.Fatalf("Step moved %d, %v", n, err)
	}
	// During migration the cluster client follows ASK redirects.
	if v := cl.Client().HGet(ctx, "h:1", "f1").Val(); v != "v1_1" {
		t.Fatalf("h:1 during migration = %q", v)
	}
	if err := m.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if owner, _ := cl.SlotOwner(ctx, slot); owner != to {
		t.Fatalf("owner after migration %d, want %d", owner, to)
	}
	after, _ := cl.Nodes()[to].Client().ClusterCountKeysInSlot(ctx, slot).Result()
	if after != before {
		t.Fatalf("target holds %d keys of slot, want %d", after, before)
	}
	if n, _ := cl.DBSize(ctx); n != 5000 {
		t.Fatalf("DBSIZE after migration %d", n)
	}
	cl.StopNode(1)
	cl.RestartNode(1)
	if n, _ := cl.DBSize(ctx); n != 5000 {
		t.Fatalf("DBSIZE after restart %d", n)
	}
}

func TestClusterWithReplicas(t *testing.T) {
	cl := StartCluster(t, ClusterOptions{Masters: 3, Replicas: 1})
	if len(cl.Nodes()) != 6 {
		t.Fatalf("%d nodes", len(cl.Nodes()))
	}
	ctx := context.Background()
	cl.Load(300, HashGen("r:", 1))
	for _, nd := range cl.Nodes()[3:] {
		info := nd.Client().Info(ctx, "replication").Val()
		if InfoField(info, "role") != "slave" {
			t.Fatalf("%s role %q", nd.Addr(), InfoField(info, "role"))
		}
	}
}

// TestStack74Standalone: the 7.4.1 binary of the stack starts with both
// modules, which answer their commands.
func TestStack74Standalone(t *testing.T) {
	ctx := context.Background()
	s := StartServerWith(t, ServerOptions{Version: Version74, Modules: []string{ModuleSearch, ModuleJSON}})
	if v := s.Version(); v != "7.4.1" {
		t.Fatalf("version %q, want 7.4.1", v)
	}
	c := s.Client()
	if err := c.Do(ctx, "FT.CREATE", "idx", "ON", "HASH", "PREFIX", "1", "u:", "SCHEMA", "city", "TAG").Err(); err != nil {
		t.Fatalf("FT.CREATE: %v", err)
	}
	s.Load(10, func(i int) []string {
		return []string{"HSET", "u:" + strconv.Itoa(i), "city", []string{"NYC", "LA"}[i%2]}
	})
	if err := c.Do(ctx, "JSON.SET", "doc", "$", `{"a":1}`).Err(); err != nil {
		t.Fatalf("JSON.SET: %v", err)
	}
	if err := poll(ctx, func() error {
		res, err := c.Do(ctx, "FT.SEARCH", "idx", "@city:{NYC}", "NOCONTENT").Slice()
		if err != nil {
			return err
		}
		if len(res) == 0 || res[0] != int64(5) {
			return fmt.Errorf("FT.SEARCH gave %v, want 5 hits", res)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s.Restart() // the same binary and modules again
	if v := s.Version(); v != "7.4.1" {
		t.Fatalf("version after restart %q", v)
	}
}

// TestStack74ClusterReshard: a 7.4.1 cluster forms, and Reshard (redis-cli
// --cluster reshard) moves slots with their keys.
func TestStack74ClusterReshard(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := StartCluster(t, ClusterOptions{Version: Version74})
	if v := cl.Masters()[0].Version(); v != "7.4.1" {
		t.Fatalf("version %q, want 7.4.1", v)
	}
	cl.Load(3000, HashGen("h:", 1))
	before, err := cl.Masters()[0].Client().DBSize(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Reshard(ctx, 0, 1, 100, 50); err != nil {
		t.Fatal(err)
	}
	if err := cl.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := cl.Masters()[0].Client().DBSize(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if after >= before {
		t.Fatalf("master 0 holds %d keys after resharding away 100 slots, %d before", after, before)
	}
	if n, err := cl.DBSize(ctx); err != nil || n != 3000 {
		t.Fatalf("DBSIZE after reshard %d, %v", n, err)
	}
	if owner, err := cl.SlotOwner(ctx, 0); err != nil || owner != 1 {
		t.Fatalf("slot 0 owned by %d (%v), want master 1", owner, err)
	}
}

// TestStackMissingFails: a missing stack is an error naming the setup
// command, never a skip.
func TestStackMissingFails(t *testing.T) {
	t.Setenv(StackEnv, t.TempDir())
	_, _, err := serverBinary(Version74, nil)
	if err == nil || !strings.Contains(err.Error(), "scripts/setup.sh") {
		t.Fatalf("missing stack: %v, want an error naming scripts/setup.sh", err)
	}
	if _, _, err := serverBinary(VersionDefault, []string{ModuleSearch}); err == nil {
		t.Fatal("modules accepted without Version74")
	}
}
