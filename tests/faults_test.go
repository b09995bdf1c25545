package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/redstage/redstage/cluster"
	"github.com/redstage/redstage/internal/redistest"
)

// faultRows is the size of the fault tests' data: large enough that a job
// of many small tasks is still running when the fault is injected.
const faultRows = 300_000

// loadedServer starts a standalone Redis and loads the ground-truth data
// set under prefix through the cluster. It returns the server and the input.
func loadedServer(t *testing.T, tc *testCluster, prefix string) (*redistest.Server, string) {
	t.Helper()
	srv := redistest.StartServer(t)
	input := filepath.Join(t.TempDir(), "input.parquet")
	writeDataset(t, input, 0, faultRows)
	mustRedstage(t, tc.env(srv.URL()), 5*time.Minute, "load", input, "--key-column", "id", "--prefix", prefix)
	return srv, input
}

// waitRunning waits until the job has finished at least one task and a
// worker process runs one of its tasks, and returns that worker's process.
func (tc *testCluster) waitRunning(t *testing.T, id string) *proc {
	t.Helper()
	var victim *proc
	poll(t, time.Minute, "job "+id+" running on a worker", func() error {
		st, err := tc.status(id)
		if err != nil {
			return err
		}
		if st.State.Terminal() {
			t.Fatalf("job %s already %s before the fault could be injected: make the job larger", id, st.State)
		}
		if st.Progress.TasksDone < 1 {
			return fmt.Errorf("no task done yet (%d/%d)", st.Progress.TasksDone, st.Progress.TasksTotal)
		}
		live, err := tc.liveWorkers()
		if err != nil {
			return err
		}
		for _, w := range live {
			if w.Running > 0 {
				victim = tc.workerProc(w.PID)
				return nil
			}
		}
		return fmt.Errorf("no worker reports a running task")
	})
	return victim
}

// TestWorkerKilledMidScan kills a worker with SIGKILL while it runs scan
// tasks: the job completes and its output equals the ground truth. Worker
// records are up to a heartbeat old, so the victim may have just finished
// its task; the scenario is repeated (with a fresh worker) until the kill
// provably interrupted a task, i.e. some task ran more than once.
func TestWorkerKilledMidScan(t *testing.T) {
	tc := startCluster(t, 3, fastFailover...)
	srv, input := loadedServer(t, tc, "ks:")
	for try := 1; ; try++ {
		out := filepath.Join(t.TempDir(), "out.parquet")
		start := time.Now()
		cli := startProc(t, "redstage", tc.env(srv.URL()), "scan", "ks:*", "--schema", dataSchemaSpec, "--tasks", "64", "--json", "-o", out)
		id := tc.jobOf(cluster.KindScan, start)
		victim := tc.waitRunning(t, id)
		victim.kill()
		t.Logf("try %d: killed worker pid %d mid-scan", try, victim.pid())
		code, err := cli.wait(3 * time.Minute)
		if err != nil || code != 0 {
			t.Fatalf("scan after a worker was killed: exit %d (%v)\n%s", code, err, tail(cli.output(), 30))
		}
		compareUnordered(t, input, out, "ks:")
		st, err := tc.status(id)
		if err != nil {
			t.Fatal(err)
		}
		if st.Result == nil {
			t.Fatalf("job %s has no result", id)
		}
		if st.Result.Attempts > st.Result.Tasks {
			t.Logf("%d executions for %d tasks: the killed worker's task ran again", st.Result.Attempts, st.Result.Tasks)
			return
		}
		if try == 3 {
			t.Fatalf("3 kills and no task ran twice (%d executions for %d tasks): the kill never hit a running task", st.Result.Attempts, st.Result.Tasks)
		}
		tc.addWorker()
		tc.waitWorkers(3)
	}
}

// TestWorkerKilledMidLoad kills a worker with SIGKILL while it writes load
// chunks: the job completes, Redis holds exactly the input's keys, and a
// scan of them equals the ground truth.
func TestWorkerKilledMidLoad(t *testing.T) {
	tc := startCluster(t, 3, fastFailover...)
	srv := redistest.StartServer(t)
	input := filepath.Join(t.TempDir(), "input.parquet")
	writeDataset(t, input, 0, faultRows)
	env := tc.env(srv.URL())
	start := time.Now()
	cli := startProc(t, "redstage", env, "load", input, "--key-column", "id", "--prefix", "kl:", "--chunk-rows", "4000", "--json")
	id := tc.jobOf(cluster.KindLoad, start)
	victim := tc.waitRunning(t, id)
	victim.kill()
	t.Logf("killed worker pid %d mid-load", victim.pid())
	code, err := cli.wait(3 * time.Minute)
	if err != nil || code != 0 {
		t.Fatalf("load after a worker was killed: exit %d (%v)\n%s", code, err, tail(cli.output(), 30))
	}
	if got := keyCount(t, serverSize{srv}); got != faultRows {
		t.Fatalf("Redis holds %d keys, want %d", got, faultRows)
	}
	out := filepath.Join(t.TempDir(), "out.parquet")
	mustRedstage(t, env, 3*time.Minute, "scan", "kl:*", "--schema", dataSchemaSpec, "-o", out)
	compareUnordered(t, input, out, "kl:")
}

// TestWorkerDrainsOnSIGTERM stops a worker with SIGTERM while it runs scan
// tasks (as Kubernetes does): it exits 0 within its drain timeout, the job
// completes and its output equals the ground truth. Then the coordinator
// stops on SIGTERM too.
func TestWorkerDrainsOnSIGTERM(t *testing.T) {
	tc := startCluster(t, 3, fastFailover...)
	srv, input := loadedServer(t, tc, "dr:")
	out := filepath.Join(t.TempDir(), "out.parquet")
	start := time.Now()
	cli := startProc(t, "redstage", tc.env(srv.URL()), "scan", "dr:*", "--schema", dataSchemaSpec, "--tasks", "64", "-o", out)
	id := tc.jobOf(cluster.KindScan, start)
	victim := tc.waitRunning(t, id)
	victim.signal(syscall.SIGTERM)
	stopped := time.Now()
	// The workers run with the default 10s drain timeout.
	if code, err := victim.wait(20 * time.Second); err != nil || code != 0 {
		t.Fatalf("worker after SIGTERM: exit %d (%v), want 0 within the drain timeout\n%s", code, err, tail(victim.output(), 20))
	}
	t.Logf("worker drained and exited %s after SIGTERM", time.Since(stopped).Round(time.Millisecond))
	if !contains(victim.output(), "worker stopped") {
		t.Errorf("worker log does not say it stopped:\n%s", tail(victim.output(), 10))
	}
	code, err := cli.wait(3 * time.Minute)
	if err != nil || code != 0 {
		t.Fatalf("scan after a worker drained: exit %d (%v)\n%s", code, err, tail(cli.output(), 30))
	}
	compareUnordered(t, input, out, "dr:")

	tc.coord.signal(syscall.SIGTERM)
	if code, err := tc.coord.wait(20 * time.Second); err != nil || code != 0 {
		t.Fatalf("coordinator after SIGTERM: exit %d (%v), want 0\n%s", code, err, tail(tc.coord.output(), 20))
	}
	if !contains(tc.coord.output(), "coordinator stopped") {
		t.Errorf("coordinator log does not say it stopped:\n%s", tail(tc.coord.output(), 10))
	}
}

// TestCoordinatorRestartMidJob kills the coordinator while a scan runs and
// starts a new one: the job completes with the exact output.
func TestCoordinatorRestartMidJob(t *testing.T) {
	tc := startCluster(t, 3, fastFailover...)
	srv, input := loadedServer(t, tc, "cr:")
	out := filepath.Join(t.TempDir(), "out.parquet")
	start := time.Now()
	cli := startProc(t, "redstage", tc.env(srv.URL()), "scan", "cr:*", "--schema", dataSchemaSpec, "--tasks", "64", "-o", out)
	id := tc.jobOf(cluster.KindScan, start)
	tc.waitRunning(t, id)
	tc.coord.kill()
	t.Logf("killed the coordinator (pid %d) mid-job", tc.coord.pid())
	tc.startCoordinator()
	code, err := cli.wait(3 * time.Minute)
	if err != nil || code != 0 {
		t.Fatalf("scan across a coordinator restart: exit %d (%v)\n%s", code, err, tail(cli.output(), 30))
	}
	compareUnordered(t, input, out, "cr:")
}

// TestCoordinatorRestartMidLoad kills the coordinator while a load uploads
// and runs its chunks and starts a new one: the load completes and Redis
// holds exactly the input.
func TestCoordinatorRestartMidLoad(t *testing.T) {
	tc := startCluster(t, 3, fastFailover...)
	srv := redistest.StartServer(t)
	input := filepath.Join(t.TempDir(), "input.parquet")
	writeDataset(t, input, 0, faultRows)
	env := tc.env(srv.URL())
	start := time.Now()
	cli := startProc(t, "redstage", env, "load", input, "--key-column", "id", "--prefix", "cl:", "--chunk-rows", "4000")
	id := tc.jobOf(cluster.KindLoad, start)
	tc.waitRunning(t, id)
	tc.coord.kill()
	t.Logf("killed the coordinator (pid %d) mid-load", tc.coord.pid())
	tc.startCoordinator()
	code, err := cli.wait(3 * time.Minute)
	if err != nil || code != 0 {
		t.Fatalf("load across a coordinator restart: exit %d (%v)\n%s", code, err, tail(cli.output(), 30))
	}
	if got := keyCount(t, serverSize{srv}); got != faultRows {
		t.Fatalf("Redis holds %d keys, want %d", got, faultRows)
	}
	out := filepath.Join(t.TempDir(), "out.parquet")
	mustRedstage(t, env, 3*time.Minute, "scan", "cl:*", "--schema", dataSchemaSpec, "-o", out)
	compareUnordered(t, input, out, "cl:")
}

// TestRedisStopsMidJob kills Redis while a scan runs: the job fails with a
// clear error within a bounded time, and no output file is left.
func TestRedisStopsMidJob(t *testing.T) {
	tc := startCluster(t, 3, fastFailover...)
	srv, _ := loadedServer(t, tc, "rs:")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.parquet")
	start := time.Now()
	cli := startProc(t, "redstage", tc.env(srv.URL()), "scan", "rs:*", "--schema", dataSchemaSpec, "--tasks", "64", "-o", out)
	id := tc.jobOf(cluster.KindScan, start)
	tc.waitRunning(t, id)
	srv.Kill()
	killed := time.Now()
	code, err := cli.wait(2 * time.Minute)
	if err != nil {
		t.Fatalf("the scan did not end within 2 minutes of Redis stopping: %v", err)
	}
	t.Logf("scan failed %s after Redis was killed", time.Since(killed).Round(time.Millisecond))
	if code != 6 {
		t.Fatalf("exit %d, want 6 (job failed)\n%s", code, tail(cli.output(), 30))
	}
	log := cli.output()
	for _, want := range []string{"redstage: error:", "what to do:"} {
		if !contains(log, want) {
			t.Errorf("stderr lacks %q:\n%s", want, tail(log, 30))
		}
	}
	if !contains(log, "refused") && !contains(log, "EOF") && !contains(log, "redis") && !contains(log, "Redis") {
		t.Errorf("the error does not say that Redis failed:\n%s", tail(log, 30))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("a failed scan left files: %v", entries)
	}
}

// TestCancel interrupts a scan (SIGINT to the CLI) and cancels another with
// redstage cancel: the jobs end cancelled and the workers stop within
// seconds.
func TestCancel(t *testing.T) {
	tc := startCluster(t, 3, fastFailover...)
	srv, _ := loadedServer(t, tc, "cc:")
	env := tc.env(srv.URL())
	idle := func() { t.Helper(); tc.waitIdle(t, 10*time.Second, "workers idle after the cancel") }

	t.Run("SIGINT", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.parquet")
		start := time.Now()
		cli := startProc(t, "redstage", env, "scan", "cc:*", "--schema", dataSchemaSpec, "--tasks", "64", "-o", out)
		id := tc.jobOf(cluster.KindScan, start)
		tc.waitRunning(t, id)
		cli.signal(syscall.SIGINT)
		code, err := cli.wait(15 * time.Second)
		if err != nil || code != 130 {
			t.Fatalf("after SIGINT: exit %d (%v), want 130\n%s", code, err, tail(cli.output(), 20))
		}
		cancelled := time.Now()
		idle()
		t.Logf("workers idle %s after the CLI exited", time.Since(cancelled).Round(time.Millisecond))
		if st, err := tc.status(id); err != nil || st.State != cluster.JobCancelled {
			t.Fatalf("job state %v (%v), want cancelled", st, err)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("an interrupted scan left its output: %v", err)
		}
	})
	t.Run("redstage cancel", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.parquet")
		start := time.Now()
		cli := startProc(t, "redstage", env, "scan", "cc:*", "--schema", dataSchemaSpec, "--tasks", "64", "-o", out)
		id := tc.jobOf(cluster.KindScan, start)
		tc.waitRunning(t, id)
		mustRedstage(t, env, 30*time.Second, "cancel", id)
		code, err := cli.wait(15 * time.Second)
		if err != nil || code != 10 {
			t.Fatalf("scan cancelled by another client: exit %d (%v), want 10\n%s", code, err, tail(cli.output(), 20))
		}
		idle()
		r := redstage(t, env, 30*time.Second, "cancel", id)
		if r.code != 8 {
			t.Fatalf("cancelling a finished job: %s\nwant exit 8", r)
		}
	})
}
