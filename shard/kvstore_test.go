package shard

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/redstage/redstage/internal/redistest"
)

// kvstoreKeys is the fixture size of the Redis 7.4 cluster tests: big enough
// that a scan is still running while a master restarts or slots move, small
// enough for 2 cores under -race.
const kvstoreKeys = 100_000

// replanRerun re-plans partitions that failed with ErrStaleTopology (as the
// coordinator does) and reruns those that failed with ErrSlotUnstable (as a
// retry does); anything else ends the run.
func replanRerun(c *Client) func(ctx context.Context, p Partition, err error) ([]Partition, error) {
	return func(ctx context.Context, p Partition, err error) ([]Partition, error) {
		switch {
		case errors.Is(err, ErrStaleTopology):
			return ReplanPartition(ctx, c, p)
		case errors.Is(err, ErrSlotUnstable):
			return []Partition{p}, nil
		}
		return nil, err
	}
}

func startKVStoreCluster(t *testing.T) (*redistest.Cluster, *Client) {
	t.Helper()
	cl := redistest.StartCluster(t, redistest.ClusterOptions{Version: redistest.Version74})
	cl.Load(kvstoreKeys, redistest.HashGen("h:", 3))
	c := dial(t, cl.URL())
	if !c.Topology().KVStore() {
		t.Fatalf("%s is not a kvstore server", c.Topology())
	}
	return cl, c
}

// TestKVStoreClusterRestart: on a Redis 7.4 cluster (slot-cursor
// partitions), a master that restarts (SHUTDOWN SAVE + start) does not
// fail the scan: partitions planned before the restart run on the new
// process, and an attempt the restart cuts through fails as a stale
// topology (its rows discarded) and is re-planned as slot listing.
func TestKVStoreClusterRestart(t *testing.T) {
	cl, c := startKVStoreCluster(t)
	ctx := context.Background()
	opts := scanOpts(t)
	opts.BatchSize = 1000
	parts, err := PlanScan(ctx, c, PlanOptions{Tasks: 12})
	if err != nil {
		t.Fatal(err)
	}
	if parts[0].Kind != KindSlotCursor {
		t.Fatalf("planned %s partitions on 7.4, want %s", parts[0].Kind, KindSlotCursor)
	}
	// The restart cuts through the attempt of the first partition of its
	// master: the attempt must fail as restarted and stale.
	victim, idx := -1, -1
	for i, p := range parts {
		for m, nd := range cl.Masters() {
			if nd.Addr() == p.Node {
				victim, idx = m, i
			}
		}
		if idx >= 0 {
			break
		}
	}
	restarted := false
	_, err = ScanPartition(ctx, c, parts[idx], opts, func(arrow.RecordBatch) error {
		if !restarted {
			restarted = true
			cl.StopNode(victim)
			cl.RestartNode(victim)
		}
		return nil
	})
	// The cut attempt fails as restarted and stale, or, when a fetch reaches
	// the new process before the run_id check does, with the node's
	// CLUSTERDOWN or LOADING (or a broken connection): an error the task
	// retries. Either way it never succeeds, so its rows are never read.
	if !restarted || err == nil {
		t.Fatalf("restart during the attempt: restarted=%v err=%v, want the attempt to fail", restarted, err)
	}
	if !errors.Is(err, ErrServerRestarted) || !errors.Is(err, ErrStaleTopology) {
		if !cutByRestart(err) {
			t.Fatalf("restart during the attempt: %v, want ErrServerRestarted and ErrStaleTopology, or CLUSTERDOWN/LOADING/a broken connection", err)
		}
		t.Logf("the restart was seen first as %v (retried in a job)", err)
	}
	more, err := ReplanPartition(ctx, c, parts[idx])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range more {
		if p.Kind != KindSlots || !p.Follow {
			t.Fatalf("re-planned %v into %v, want followed slot listing", parts[idx], p)
		}
	}
	// Every partition planned before the restart (the victim's included)
	// plus the re-planned ones: every key exactly once.
	res := newScanResult()
	all := append(append([]Partition{}, parts[:idx]...), parts[idx+1:]...)
	r := &runner{c: c, opts: opts, parallel: 4, replan: replanRerun(c)}
	if err := r.run(ctx, append(all, more...), res); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, res, kvstoreKeys)
}

// TestKVStoreClusterReshard: a 64-partition scan of a Redis 7.4 cluster
// while redis-cli --cluster reshard moves 3000 slots ends, and exactly:
// partitions whose slots move are re-planned once, as slot listing that
// follows moving slots.
func TestKVStoreClusterReshard(t *testing.T) {
	cl, c := startKVStoreCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := scanOpts(t)
	opts.BatchSize = 500
	opts.Count = 100
	parts, err := PlanScan(ctx, c, PlanOptions{Tasks: 64})
	if err != nil {
		t.Fatal(err)
	}
	var moving atomic.Bool
	moving.Store(true)
	done := make(chan error, 1)
	go func() {
		defer moving.Store(false)
		done <- cl.Reshard(ctx, 0, 1, 3000, 10)
	}()
	// Scan repeatedly while the reshard runs, so that it is under way
	// during at least one whole scan.
	passes, replans := 0, 0
	for first := true; first || moving.Load(); first = false {
		res := newScanResult()
		r := &runner{c: c, opts: opts, parallel: 4, replan: replanRerun(c)}
		if err := r.run(ctx, parts, res); err != nil {
			t.Fatalf("scan pass %d: %v", passes, err)
		}
		checkExactlyOnce(t, res, kvstoreKeys)
		passes++
		replans += res.attempts
		if parts, err = PlanScan(ctx, c, PlanOptions{Tasks: 64}); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if replans == 0 {
		t.Fatal("no partition was re-planned: the scans did not overlap the resharding")
	}
	t.Logf("%d exact scans during the reshard, %d partitions re-planned", passes, replans)
}

// TestAttemptWaitsForLoading: an attempt that starts while its master is
// loading its data set after a restart waits for the load to end instead
// of failing with LOADING (which would cost the task an attempt per try for
// as long as the load lasts).
func TestAttemptWaitsForLoading(t *testing.T) {
	// 300 µs per key: the restarted master needs about 3 s to load 10k keys,
	// and answers clients (LOADING) every KiB of its RDB meanwhile.
	cl := redistest.StartCluster(t, redistest.ClusterOptions{Version: redistest.Version74,
		Extra: []string{"key-load-delay 300", "loading-process-events-interval-bytes 1024"}})
	const n = 30_000
	cl.Load(n, redistest.HashGen("h:", 3))
	c := dial(t, cl.URL())
	ctx := context.Background()
	parts, err := PlanScan(ctx, c, PlanOptions{Tasks: 3})
	if err != nil {
		t.Fatal(err)
	}
	victim := cl.Masters()[1]
	var p Partition
	for _, q := range parts {
		if q.Node == victim.Addr() {
			p = q
		}
	}
	if p.Node == "" {
		t.Fatalf("no partition on %s among %v", victim.Addr(), parts)
	}
	victim.Stop()
	if err := victim.RestartLoading(); err != nil {
		t.Fatal(err)
	}
	if info := victim.Client().Info(ctx, "persistence").Val(); redistest.InfoField(info, "loading") != "1" {
		t.Fatalf("the restarted master is not loading: the test cannot show the wait: %s", info)
	}
	res := newScanResult()
	if err := runPartitions(ctx, c, []Partition{p}, scanOpts(t), 1, res, nil); err != nil {
		t.Fatalf("scan of %s while its master loads: %v", p, err)
	}
	want := 0
	for i := range n {
		if s := KeySlot("h:" + strconv.Itoa(i)); s >= p.SlotStart && s <= p.SlotEnd {
			want++
			if res.counts["h:"+strconv.Itoa(i)] != 1 {
				t.Fatalf("h:%d came out %d times", i, res.counts["h:"+strconv.Itoa(i)])
			}
		}
	}
	if len(res.counts) != want {
		t.Fatalf("%d keys, want %d", len(res.counts), want)
	}
}

// cutByRestart tells the errors a restarted node gives a running attempt
// before its run_id check sees the restart.
func cutByRestart(err error) bool {
	msg := err.Error()
	for _, s := range []string{"CLUSTERDOWN", "LOADING", "connection refused", "EOF", "connection reset"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
