package shard

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/redstage/redstage/internal/redistest"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"redis://localhost:6379/0", "redis://localhost:6379/0"},
		{"redis://:secret@localhost:6379", "redis://:xxxxx@localhost:6379"},
		{"rediss://user:secret@h:1/2", "rediss://user:xxxxx@h:1/2"},
		{"redis://user@h:1", "redis://user@h:1"},
		{"redis://u:se%2Fcret@h:1", "redis://u:xxxxx@h:1"},
		{"redis://u:bad%zzpw@h:1", "redis://xxxxx@h:1"},
	}
	for _, tt := range tests {
		got := RedactURL(tt.in)
		if got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "secret") || strings.Contains(got, "cret") {
			t.Errorf("RedactURL(%q) leaks the password: %q", tt.in, got)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []string{"", "http://h:1", "redis://h:1/x", "redis://h:1/1/2", "::"}
	for _, u := range bad {
		if err := DefaultConfig(u).Validate(); !errors.Is(err, ErrInvalidURL) {
			t.Errorf("Validate(%q) = %v, want ErrInvalidURL", u, err)
		}
	}
	for _, u := range []string{"redis://h:1", "rediss://u:p@h:1/3", "redis://h"} {
		if err := DefaultConfig(u).Validate(); err != nil {
			t.Errorf("Validate(%q) = %v", u, err)
		}
	}
}

func TestDialStandaloneWithPasswordAndDB(t *testing.T) {
	s := redistest.StartServerWith(t, redistest.ServerOptions{Password: "s3cret"})
	ctx := context.Background()
	if _, err := Dial(ctx, "redis://"+s.Addr()); err == nil {
		t.Fatal("Dial without the password succeeded")
	} else if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error leaks password: %v", err)
	}
	c, err := Dial(ctx, "redis://:s3cret@"+s.Addr()+"/3")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	topo := c.Topology()
	if topo.Cluster || topo.DB != 3 || topo.Version != "7.0.15" || topo.Server != "redis" || len(topo.Masters) != 1 ||
		topo.Masters[0].Addr != s.Addr() || len(topo.Masters[0].RunID) != 40 {
		t.Fatalf("topology %+v", topo)
	}
	if err := c.Redis().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// The key went to db 3, not db 0.
	if n, _ := s.Client().DBSize(ctx).Result(); n != 0 {
		t.Fatalf("db 0 holds %d keys", n)
	}
	if n, _ := c.Node("").DBSize(ctx).Result(); n != 1 {
		t.Fatalf("db 3 holds %d keys", n)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestDialCluster(t *testing.T) {
	cl := redistest.StartCluster(t, redistest.ClusterOptions{})
	ctx := context.Background()
	c, err := Dial(ctx, cl.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	topo := c.Topology()
	if !topo.Cluster || len(topo.Masters) != 3 || topo.KVStore() {
		t.Fatalf("topology %+v", topo)
	}
	total := 0
	for _, m := range topo.Masters {
		if m.ID == "" || m.RunID == "" {
			t.Fatalf("master %+v lacks id or run_id", m)
		}
		for _, r := range m.Slots {
			total += r.Len()
		}
	}
	if total != NumSlots {
		t.Fatalf("masters own %d slots", total)
	}
	for slot := range NumSlots {
		if topo.SlotOwner(slot) == nil {
			t.Fatalf("slot %d has no owner", slot)
		}
	}
	b, err := json.Marshal(topo)
	if err != nil || len(b) > 1024 {
		t.Fatalf("topology JSON %d bytes, %v", len(b), err)
	}
	var back Topology
	if err := json.Unmarshal(b, &back); err != nil || back.Masters[2].Slots[0] != topo.Masters[2].Slots[0] {
		t.Fatalf("JSON round trip: %v %+v", err, back)
	}
	if _, err := Dial(ctx, cl.URL()+"/2"); !errors.Is(err, ErrClusterDB) {
		t.Fatalf("Dial cluster db 2: %v, want ErrClusterDB", err)
	}
	// Key-routed commands go through the cluster client.
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := c.Redis().Set(ctx, k, "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := cl.DBSize(ctx); n != 4 {
		t.Fatalf("cluster holds %d keys", n)
	}
}

func TestTopologyVersions(t *testing.T) {
	tests := []struct {
		server, version string
		kv              bool
	}{
		{"redis", "7.0.15", false}, {"redis", "7.2.4", false}, {"redis", "7.4.1", true},
		{"redis", "8.0.0", true}, {"valkey", "7.2.5", false}, {"valkey", "8.0.1", true}, {"redis", "", false},
	}
	for _, tt := range tests {
		if got := (&Topology{Server: tt.server, Version: tt.version}).KVStore(); got != tt.kv {
			t.Errorf("KVStore(%s %s) = %v", tt.server, tt.version, got)
		}
	}
}
