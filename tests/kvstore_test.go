package tests

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/redstage/redstage/cluster"
	"github.com/redstage/redstage/internal/redistest"
)

// TestKVStoreClusterFaults runs the faults of a Redis 7.4.1 cluster (one
// dict per slot, so scans use slot-cursor partitions) through the real
// programs: a coordinator and three worker processes, the redstage CLI, and
// 300k hashes on three masters. A master stopped with SHUTDOWN SAVE and
// restarted mid-scan, and `redis-cli --cluster reshard` moving 3000 slots
// during a 64-task scan: both scans succeed with exactly the input's rows.
func TestKVStoreClusterFaults(t *testing.T) {
	tc := startCluster(t, 3) // the production retry policy: 4 attempts, backoff 0.5 s doubling
	rc := redistest.StartCluster(t, redistest.ClusterOptions{Version: redistest.Version74})
	input := filepath.Join(t.TempDir(), "input.parquet")
	writeDataset(t, input, 0, faultRows)
	env := tc.env(rc.URL())
	mustRedstage(t, env, 5*time.Minute, "load", input, "--key-column", "id", "--prefix", "kv:")

	t.Run("master-restart", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.parquet")
		start := time.Now()
		cli := startProc(t, "redstage", env, "scan", "kv:*", "--schema", dataSchemaSpec, "--tasks", "64", "--json", "-o", out)
		id := tc.jobOf(cluster.KindScan, start)
		tc.waitRunning(t, id)
		rc.StopNode(1)
		rc.RestartNode(1)
		code, err := cli.wait(3 * time.Minute)
		if err != nil || code != 0 {
			t.Fatalf("scan across a master restart: exit %d (%v)\n%s", code, err, tail(cli.output(), 30))
		}
		compareUnordered(t, input, out, "kv:")
		if st, err := tc.status(id); err == nil && st.Result != nil {
			t.Logf("%d executions for %d tasks", st.Result.Attempts, st.Result.Tasks)
		}
	})

	t.Run("reshard", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		reshard := make(chan error, 1)
		go func() { reshard <- rc.Reshard(ctx, 0, 2, 3000, 10) }()
		poll(t, time.Minute, "resharding under way", func() error {
			owner, err := rc.SlotOwner(ctx, 0)
			if err == nil && owner != 2 {
				return context.DeadlineExceeded
			}
			return err
		})
		out := filepath.Join(t.TempDir(), "out.parquet")
		start := time.Now()
		mustRedstage(t, env, 3*time.Minute, "scan", "kv:*", "--schema", dataSchemaSpec, "--tasks", "64", "--json", "-o", out)
		took := time.Since(start)
		running := len(reshard) == 0
		if err := <-reshard; err != nil {
			t.Fatal(err)
		}
		compareUnordered(t, input, out, "kv:")
		t.Logf("scan took %v; reshard still running when it ended: %v", took.Round(time.Millisecond), running)
	})
}
