package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/redstage/redstage/internal/redistest"
	"github.com/redstage/redstage/shard"
)

// kvstoreUsers is the fixture size of the Redis 7.4 cluster jobs: 150k, or
// REDSTAGE_KVSTORE_USERS (at most 999999, the keys' six digits) to measure
// at the scale.
var kvstoreUsers = 150_000

func startUsers74(t *testing.T) *redistest.Cluster {
	t.Helper()
	if s := os.Getenv("REDSTAGE_KVSTORE_USERS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 999_999 {
			t.Fatalf("REDSTAGE_KVSTORE_USERS=%q: want 1..999999", s)
		}
		kvstoreUsers = n
	}
	rc := redistest.StartCluster(t, redistest.ClusterOptions{Version: redistest.Version74})
	rc.Load(kvstoreUsers, func(i int) []string {
		return []string{"HSET", fmt.Sprintf("user:%06d", i), "name", fmt.Sprintf("n%d", i), "age", strconv.Itoa(i % 100)}
	})
	return rc
}

// restartOnce stops master `victim` with SHUTDOWN SAVE and starts it again,
// once, from inside the first scan attempt on it that emits a batch, so the
// restart cuts through an attempt that already emitted rows.
type restartOnce struct {
	rc     *redistest.Cluster
	victim int
	once   sync.Once
	cut    chan restartCut // receives the one restart's outcome
}

type restartCut struct {
	part string // the partition whose attempt was cut
	err  error  // of stopping or starting the master
}

// restartingExec is the shard executor with restartOnce in its Scan.
type restartingExec struct {
	executor
	r *restartOnce
}

func (e *restartingExec) Scan(ctx context.Context, spec *JobSpec, part json.RawMessage, emit func(arrow.RecordBatch) error) (counts, error) {
	var p shard.Partition
	if err := json.Unmarshal(part, &p); err != nil {
		return counts{}, err
	}
	node := e.r.rc.Masters()[e.r.victim]
	return e.executor.Scan(ctx, spec, part, func(rec arrow.RecordBatch) error {
		if err := emit(rec); err != nil {
			return err
		}
		if p.Node == node.Addr() && p.Kind == shard.KindSlotCursor {
			e.r.once.Do(func() {
				err := node.StopErr()
				if err == nil {
					err = node.RestartErr()
				}
				e.r.cut <- restartCut{part: p.String(), err: err}
			})
		}
		return nil
	})
}

// TestKVStoreMasterRestartMidScan: on a Redis 7.4.1 cluster (slot-cursor
// partitions) a master stopped with SHUTDOWN SAVE and restarted in the
// middle of a scan, under an attempt that already emitted rows, does not
// fail the job: the cut attempt is discarded and its range re-planned, the
// master's other partitions run on the new process, and every key comes
// out exactly once.
func TestKVStoreMasterRestartMidScan(t *testing.T) {
	rc := startUsers74(t)
	r := &restartOnce{rc: rc, victim: 1, cut: make(chan restartCut, 1)}
	tc := newTestClusterWith(t, 0, func() executor {
		return &restartingExec{executor: newShardExecutor(testLogger(t)), r: r}
	})
	// The production retry policy: a task that meets the master while it
	// is down is retried after 0.5 s, 1 s and 2 s.
	tc.ccfg.MaxAttempts, tc.ccfg.RetryBackoff, tc.ccfg.MaxRetryBackoff = 4, 500*time.Millisecond, 5*time.Second
	tc.stopCoordinator(false)
	tc.startCoordinator()
	tc.addWorker(nil)
	tc.addWorker(nil)
	spec := usersScan(rc.URL(), 16)
	spec.Scan.BatchSize = 1000
	keys, res := scanAll(t, tc.client, spec, ResultOptions{})
	var cut restartCut
	select {
	case cut = <-r.cut:
	default:
		t.Fatal("no scan attempt on the victim master emitted a batch: nothing was restarted")
	}
	if cut.err != nil {
		t.Fatalf("restarting master: %v", cut.err)
	}
	checkExactlyOnce(t, keys, kvstoreUsers)
	if res.Rows != int64(kvstoreUsers) {
		t.Fatalf("job counts %d rows, want %d", res.Rows, kvstoreUsers)
	}
	// The cut attempt must not have won: its task was either re-planned (the
	// restart was seen as a new run_id) or retried (the restart was seen as
	// a broken connection, LOADING or CLUSTERDOWN first).
	var cutTask *taskRecord
	replaced := 0
	if err := forEachTask(context.Background(), tc.client.in.taskKV, res.ID, func(tr *taskRecord) error {
		if tr.State == taskReplaced {
			replaced++
		}
		var p shard.Partition
		if json.Unmarshal(tr.Part, &p) == nil && p.String() == cut.part {
			cutTask = tr
		}
		if len(tr.ID) > 11 {
			return fmt.Errorf("task id %q longer than 11 characters", tr.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	switch {
	case cutTask == nil:
		t.Fatalf("no task scans the partition the restart cut (%s)", cut.part)
	case cutTask.State == taskReplaced:
		t.Logf("restart cut %s (task %s): re-planned; %d task(s) re-planned in all", cut.part, cutTask.ID, replaced)
	case len(cutTask.Errors) > 0 && cutTask.WinnerDelivered > 1:
		t.Logf("restart cut %s (task %s): retried after %q", cut.part, cutTask.ID, cutTask.Errors[0].Error)
	default:
		t.Fatalf("the attempt the restart cut (%s, task %s) was neither re-planned nor retried: state %s, winner delivery %d",
			cut.part, cutTask.ID, cutTask.State, cutTask.WinnerDelivered)
	}
}

// migrateSpread moves slots of master `from`, whose range starts at lo and
// is 5461 slots long, to the other two masters, one whole slot at a time
// the way redis-cli --cluster reshard does (SETSLOT IMPORTING / MIGRATING,
// MIGRATE, SETSLOT NODE), in an order that spreads the moves over the whole
// range, until stop is set or max slots moved.
func migrateSpread(ctx context.Context, rc *redistest.Cluster, from, lo, max int, stop *atomic.Bool, moved *atomic.Int64) error {
	const span, stride = 5461, 97 // 97 is coprime with 5461 = 43·127
	for k := 0; k < max && !stop.Load(); k++ {
		slot := lo + k*stride%span
		m, err := rc.BeginMigration(ctx, slot, from, (from+1+k%2)%3)
		if err == nil {
			err = m.Finish(ctx)
		}
		if err != nil {
			return fmt.Errorf("moving slot %d: %w", slot, err)
		}
		moved.Add(1)
	}
	return nil
}

// TestKVStoreScanDuringReshard: a 64-task scan of a Redis 7.4.1 cluster
// while slots move ends (no endless re-planning, no dropped task, task ids
// of bounded length) with every key exactly once: while `redis-cli
// --cluster reshard` moves 3000 slots, and while the harness moves slots
// spread over a master's whole range, so that every range of its
// slot-cursor tasks sees slots move again and again during the scan.
func TestKVStoreScanDuringReshard(t *testing.T) {
	rc := startUsers74(t)
	tc := newTestCluster(t, 2)
	t.Run("redis-cli", func(t *testing.T) {
		ctx := testCtx(t, 3*time.Minute)
		reshard := make(chan error, 1)
		go func() { reshard <- rc.Reshard(ctx, 0, 2, 3000, 10) }()
		eventually(t, 60*time.Second, "resharding under way", func() bool {
			owner, err := rc.SlotOwner(ctx, 0)
			return err == nil && owner == 2
		})
		scanWhileMoving(t, tc, rc.URL(), func() int { return len(reshard) })
		if err := <-reshard; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("spread", func(t *testing.T) {
		ctx := testCtx(t, 3*time.Minute)
		var stop atomic.Bool
		var moved atomic.Int64
		migrated := make(chan error, 1)
		go func() { migrated <- migrateSpread(ctx, rc, 1, 5461, 5000, &stop, &moved) }()
		eventually(t, 60*time.Second, "moves under way", func() bool { return moved.Load() >= 50 })
		scanWhileMoving(t, tc, rc.URL(), func() int { return int(moved.Load()) })
		stop.Store(true)
		if err := <-migrated; err != nil {
			t.Fatal(err)
		}
	})
}

// scanWhileMoving runs a 64-task scan of the users and checks that it is
// exact, that some task was re-planned, none twice, and every task id is
// short. progress reports what the mover did (logged).
func scanWhileMoving(t *testing.T, tc *testCluster, url string, progress func() int) {
	t.Helper()
	start := time.Now()
	keys, res := scanAll(t, tc.client, usersScan(url, 64), ResultOptions{})
	took := time.Since(start)
	checkExactlyOnce(t, keys, kvstoreUsers)
	replaced, longest, again := 0, 0, 0
	if err := forEachTask(context.Background(), tc.client.in.taskKV, res.ID, func(tr *taskRecord) error {
		if tr.State == taskReplaced {
			replaced++
			if tr.Parent != "" || strings.Contains(tr.ID, "-") {
				again++
			}
		}
		longest = max(longest, len(tr.ID))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if longest > 11 {
		t.Fatalf("a task id has %d characters; ids must stay bounded", longest)
	}
	if again > 0 {
		t.Fatalf("%d re-planned task(s) were re-planned again: re-planning must end after one round", again)
	}
	if replaced == 0 {
		t.Fatal("no task was re-planned: the scan did not overlap the slot moves")
	}
	t.Logf("scan took %v (mover progress %d); %d task(s) re-planned", took, progress(), replaced)
}
