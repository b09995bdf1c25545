package shard

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/redstage/redstage/internal/redistest"
)

// replanStale re-plans slot partitions that failed with ErrStaleTopology,
// as the coordinator does.
func replanStale(c *Client) func(ctx context.Context, p Partition, err error) ([]Partition, error) {
	return func(ctx context.Context, p Partition, err error) ([]Partition, error) {
		if !errors.Is(err, ErrStaleTopology) {
			return nil, err
		}
		return ReplanPartition(ctx, c, p)
	}
}

// slotsOf returns the slots of master index i that hold keys, in order.
func slotsWithKeys(t *testing.T, cl *redistest.Cluster, i int, n int) []int {
	t.Helper()
	ctx := context.Background()
	seen := map[int]bool{}
	var out []int
	for k := 0; len(out) < n && k < stableKeys; k += 7 {
		s := redistest.KeySlot("h:" + strconv.Itoa(k))
		if seen[s] {
			continue
		}
		seen[s] = true
		if owner, err := cl.SlotOwner(ctx, s); err == nil && owner == i {
			out = append(out, s)
		}
	}
	return out
}

// reshardDuringScan migrates slots from master 0 to master 1 while a scan
// runs: some slots are left half-migrated when the scan starts, more are
// migrated key by key while it runs.
func reshardDuringScan(t *testing.T, cl *redistest.Cluster, c *Client) {
	ctx := context.Background()
	slots := slotsWithKeys(t, cl, 0, 60)
	if len(slots) < 60 {
		t.Fatalf("found only %d slots of master 0", len(slots))
	}
	parts, err := PlanScan(ctx, c, PlanOptions{Tasks: 8})
	if err != nil {
		t.Fatal(err)
	}
	// Half-migrated before the scan starts: listing them must follow them.
	var pending []*redistest.Migration
	for _, s := range slots[:10] {
		m, err := cl.BeginMigration(ctx, s, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Step(ctx, 5); err != nil {
			t.Fatal(err)
		}
		pending = append(pending, m)
	}
	// While the scan runs, migrate 50 more, key by key.
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			for _, s := range slots[10:] {
				m, err := cl.BeginMigration(ctx, s, 0, 1)
				if err != nil {
					return err
				}
				for {
					n, err := m.Step(ctx, 1)
					if err != nil {
						return err
					}
					if n == 0 {
						break
					}
				}
				if err := m.Finish(ctx); err != nil {
					return err
				}
			}
			return nil
		}()
	}()
	res := newScanResult()
	opts := scanOpts(t)
	opts.BatchSize = 500
	r := &runner{c: c, opts: opts, parallel: 2, replan: replanStale(c)}
	err = r.run(ctx, parts, res)
	if merr := <-done; merr != nil {
		t.Fatalf("migrating: %v", merr)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range pending {
		if err := m.Finish(ctx); err != nil {
			t.Fatal(err)
		}
	}
	checkExactlyOnce(t, res, stableKeys)
	if res.stats.Followed == 0 {
		t.Fatal("no slot was seen moving: the test did not exercise resharding")
	}
	t.Logf("slots followed across nodes %d, duplicates united %d, partitions re-planned %d",
		res.stats.Followed, res.stats.Duplicates, res.attempts)
	for _, s := range slots {
		if owner, _ := cl.SlotOwner(ctx, s); owner != 1 {
			t.Fatalf("slot %d owned by %d after migration", s, owner)
		}
	}
}

// restartDuringScan stops and restarts master 1 (data saved) in the middle
// of a slot scan; slot listing keeps no server state, so the scan stays
// exact.
func restartDuringScan(t *testing.T, cl *redistest.Cluster, c *Client) {
	ctx := context.Background()
	parts, err := PlanScan(ctx, c, PlanOptions{Tasks: 6})
	if err != nil {
		t.Fatal(err)
	}
	restarted := false
	res := newScanResult()
	opts := scanOpts(t)
	opts.BatchSize = 2000
	r := &runner{c: c, opts: opts, parallel: 1, replan: replanStale(c), onBatch: func() {
		if !restarted {
			restarted = true
			cl.StopNode(1)
			cl.RestartNode(1)
		}
	}}
	if err := r.run(ctx, parts, res); err != nil {
		t.Fatal(err)
	}
	if !restarted {
		t.Fatal("no batch was emitted")
	}
	checkExactlyOnce(t, res, stableKeys)
}

func TestScanRestartStandalone(t *testing.T) {
	srv := redistest.StartServer(t)
	const n = 20_000
	srv.Load(n, redistest.HashGen("h:", 3))
	c := dial(t, srv.URL())
	ctx := context.Background()
	opts := scanOpts(t)
	opts.BatchSize = 500

	parts, err := PlanScan(ctx, c, PlanOptions{Tasks: 8})
	if err != nil {
		t.Fatal(err)
	}
	// A partition planned before a restart fails at its start.
	srv.Stop()
	srv.Restart()
	_, err = ScanPartition(ctx, c, parts[0], opts, func(arrow.RecordBatch) error { return nil })
	if !errors.Is(err, ErrServerRestarted) {
		t.Fatalf("scan after restart: %v, want ErrServerRestarted", err)
	}
	if !parts[0].NodeWideRestart() {
		t.Fatal("cursor partitions must be re-planned node-wide")
	}
	// A restart in the middle of a partition fails it at its end.
	parts, err = PlanScan(ctx, c, PlanOptions{Tasks: 8})
	if err != nil {
		t.Fatal(err)
	}
	restarted := false
	_, err = ScanPartition(ctx, c, parts[3], opts, func(arrow.RecordBatch) error {
		if !restarted {
			restarted = true
			srv.Stop()
			srv.Restart()
		}
		return nil
	})
	if !restarted || !errors.Is(err, ErrServerRestarted) {
		t.Fatalf("restart during scan: restarted=%v err=%v, want ErrServerRestarted", restarted, err)
	}
	// The coordinator re-plans the node and reruns everything: exact again.
	parts, err = PlanScan(ctx, c, PlanOptions{Tasks: 8})
	if err != nil {
		t.Fatal(err)
	}
	res := newScanResult()
	if err := runPartitions(ctx, c, parts, opts, 4, res, nil); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, res, n)
}

func TestStaleTopology(t *testing.T) {
	cl := redistest.StartCluster(t, redistest.ClusterOptions{})
	cl.Load(3000, redistest.HashGen("h:", 3))
	c := dial(t, cl.URL())
	ctx := context.Background()
	parts, err := PlanScan(ctx, c, PlanOptions{Tasks: 3})
	if err != nil {
		t.Fatal(err)
	}
	p := parts[0]
	from, _ := cl.SlotOwner(ctx, p.SlotStart)
	cl.MigrateSlot(p.SlotStart, from, (from+1)%3)
	_, err = ScanPartition(ctx, c, p, scanOpts(t), func(arrow.RecordBatch) error { return nil })
	if !errors.Is(err, ErrStaleTopology) {
		t.Fatalf("scan of a partition whose first slot moved: %v, want ErrStaleTopology", err)
	}
	more, err := ReplanPartition(ctx, c, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(more) != 2 || more[0].SlotStart != p.SlotStart || more[0].SlotEnd != p.SlotStart ||
		more[1].SlotStart != p.SlotStart+1 || more[1].SlotEnd != p.SlotEnd || more[0].Node == p.Node {
		t.Fatalf("re-planned %v into %v", p, more)
	}
	res := newScanResult()
	if err := runPartitions(ctx, c, append(more, parts[1:]...), scanOpts(t), 2, res, nil); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, res, 3000)
	if _, err := ReplanPartition(ctx, c, Partition{Kind: KindCursor, Node: p.Node}); err == nil {
		t.Fatal("ReplanPartition accepted a cursor partition")
	}
}
