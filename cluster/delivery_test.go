package cluster

import (
	"context"
	"errors"
	"github.com/apache/arrow-go/v18/arrow"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redstage/redstage/internal/redistest"
)

// blocker makes chosen task executions wait (in the worker's beforeRun
// hook) and reports them.
type blocker struct {
	mu      sync.Mutex
	match   func(tm *taskMsg, delivered int) bool
	entered chan blocked
	release chan struct{} // closed to let blocked executions go on
}

type blocked struct {
	task      string
	delivered int
	worker    string
	ctxDone   <-chan struct{}
}

func newBlocker(match func(tm *taskMsg, delivered int) bool) *blocker {
	return &blocker{match: match, entered: make(chan blocked, 64), release: make(chan struct{})}
}

func (b *blocker) hooks(worker string) *workerHooks {
	return &workerHooks{beforeRun: func(ctx context.Context, tm *taskMsg, attempt string, delivered int) {
		if !b.match(tm, delivered) {
			return
		}
		b.entered <- blocked{task: tm.Task, delivered: delivered, worker: worker, ctxDone: ctx.Done()}
		select {
		case <-b.release:
		case <-ctx.Done():
		}
	}}
}

func (b *blocker) wait(t *testing.T, within time.Duration) blocked {
	t.Helper()
	select {
	case bl := <-b.entered:
		return bl
	case <-time.After(within):
		t.Fatalf("no task execution blocked within %s", within)
	}
	return blocked{}
}

func loadSpec(url string) JobSpec {
	return JobSpec{Kind: KindLoad, Redis: url, Load: &LoadSpec{Prefix: "row:"}}
}

func loadInputs(rows int) []LoadInput {
	return []LoadInput{{Name: "rows", Source: &sliceSource{recs: makeRows(0, rows, 500)}}}
}

func taskRecordOf(t *testing.T, tc *testCluster, job, task string) *taskRecord {
	t.Helper()
	rec, _, err := getRecord[taskRecord](context.Background(), tc.client.in.taskKV, taskKey(job, task))
	if err != nil || rec == nil {
		t.Fatalf("task record %s/%s: %v", job, task, err)
	}
	return rec
}

// TestWorkerKilledMidTaskIsRedelivered: a worker dies (no ack, no nak, no
// heartbeat) while running a task; the task is redelivered after AckWait
// to another worker and the job's counts hold every row exactly once.
func TestWorkerKilledMidTaskIsRedelivered(t *testing.T) {
	rs := redistest.StartServer(t)
	tc := newTestCluster(t, 0)
	b := newBlocker(func(tm *taskMsg, d int) bool { return tm.Task == "t00001" && d == 1 })
	victims := map[string]*testWorker{}
	for _, name := range []string{"a", "b"} {
		victims[name] = tc.addWorker(b.hooks(name))
	}
	ctx := testCtx(t, 60*time.Second)
	job, err := tc.client.Load(ctx, loadSpec(rs.URL()), loadInputs(5000))
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	bl := b.wait(t, 20*time.Second)
	victims[bl.worker].kill()
	res, err := job.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 5000 || res.Written != 5000 {
		t.Fatalf("rows=%d written=%d, want 5000 each (counted once)", res.Rows, res.Written)
	}
	if n, _ := rs.Client().DBSize(ctx).Result(); n != 5000 {
		t.Fatalf("dbsize %d, want 5000", n)
	}
	tr := taskRecordOf(t, tc, job.ID(), "t00001")
	if tr.WinnerDelivered < 2 {
		t.Errorf("winner of t00001 was delivery %d, want a redelivery (≥2)", tr.WinnerDelivered)
	}
}

// TestSlowAttemptLoses: an execution stalls past AckWait, the task runs
// again elsewhere and wins; when the stalled one completes later it loses
// and is not counted.
func TestSlowAttemptLoses(t *testing.T) {
	rs := redistest.StartServer(t)
	tc := newTestCluster(t, 0)
	b := newBlocker(func(tm *taskMsg, d int) bool { return tm.Task == "t00000" && d == 1 })
	tc.addWorker(b.hooks("a"))
	tc.addWorker(b.hooks("b"))
	ctx := testCtx(t, 60*time.Second)
	job, err := tc.client.Load(ctx, loadSpec(rs.URL()), loadInputs(3000))
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	b.wait(t, 20*time.Second)
	res, err := job.Wait(ctx) // the redelivery (after AckWait) completes the job
	if err != nil {
		t.Fatal(err)
	}
	close(b.release) // the stalled execution goes on, finds its task decided and stops
	tr := taskRecordOf(t, tc, job.ID(), "t00000")
	if tr.WinnerDelivered != 2 {
		t.Fatalf("winner delivery %d, want 2", tr.WinnerDelivered)
	}
	eventually(t, 10*time.Second, "late attempt ended", func() bool {
		info, err := tc.client.in.events.Info(ctx)
		return err == nil && info.State.Msgs == 0 && runningTasks(tc) == 0
	})
	st, err := tc.client.Status(ctx, job.ID())
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 3000 || st.Result.Written != 3000 || st.Progress.Rows != 3000 {
		t.Fatalf("written %d / status %d rows %d, want 3000 (the loser not counted)", res.Written, st.Result.Written, st.Progress.Rows)
	}
}

func runningTasks(tc *testCluster) int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	n := 0
	for _, w := range tc.workers {
		n += w.w.runningCount()
	}
	return n
}

func totalDone(tc *testCluster) int64 {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	var n int64
	for _, w := range tc.workers {
		n += w.w.done.Load()
	}
	return n
}

// TestCancelStopsRunningTasks: cancelling a job stops its running tasks
// within seconds and Wait reports the cancellation.
func TestCancelStopsRunningTasks(t *testing.T) {
	rs := redistest.StartServer(t)
	tc := newTestCluster(t, 0)
	b := newBlocker(func(*taskMsg, int) bool { return true })
	tc.addWorker(b.hooks("a"))
	tc.addWorker(b.hooks("b"))
	ctx := testCtx(t, 60*time.Second)
	job, err := tc.client.Load(ctx, loadSpec(rs.URL()), loadInputs(5000))
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	running := []blocked{b.wait(t, 20*time.Second), b.wait(t, 20*time.Second)}
	start := time.Now()
	if err := job.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	for _, bl := range running {
		select {
		case <-bl.ctxDone:
		case <-time.After(5 * time.Second):
			t.Fatalf("task %s on worker %s still running 5s after cancel", bl.task, bl.worker)
		}
	}
	t.Logf("running tasks stopped %s after cancel", time.Since(start))
	_, err = job.Wait(ctx)
	var je *JobError
	if !errors.Is(err, ErrJobCancelled) || !errors.As(err, &je) || je.State != JobCancelled {
		t.Fatalf("Wait err = %v, want a cancelled JobError", err)
	}
	if err := job.Cancel(ctx); !errors.Is(err, ErrJobFinished) {
		t.Errorf("second cancel: %v, want ErrJobFinished", err)
	}
	eventually(t, 5*time.Second, "workers idle", func() bool {
		for _, w := range tc.workers {
			if w.w.runningCount() != 0 {
				return false
			}
		}
		return true
	})
}

// flakyExec fails Write for chosen chunk offsets a number of times.
type flakyExec struct {
	executor
	mu       *sync.Mutex
	failures map[uint64]int // offset → remaining failures (-1 = always)
	calls    atomic.Int64
}

func (f *flakyExec) Write(ctx context.Context, spec *JobSpec, rec arrow.RecordBatch, offset uint64) (counts, error) {
	f.calls.Add(1)
	f.mu.Lock()
	n, ok := f.failures[offset]
	if ok && n != 0 {
		f.failures[offset] = n - 1
		f.mu.Unlock()
		return counts{}, errors.New("injected write failure")
	}
	f.mu.Unlock()
	return f.executor.Write(ctx, spec, rec, offset)
}

// TestRetryThenSucceedOrFail: a task failing twice succeeds on its third
// attempt; a task that always fails fails the job after MaxAttempts with
// its error, and the other tasks' work stops.
func TestRetryThenSucceedOrFail(t *testing.T) {
	cases := []struct {
		name     string
		failures int
		wantErr  bool
	}{
		{"transient", 2, false},
		{"permanent", -1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := redistest.StartServer(t)
			fe := map[uint64]int{1000: c.failures}
			var mu sync.Mutex // shared by all executors of the test
			tc := newTestClusterWith(t, 2, func() executor {
				return &flakyExec{executor: newShardExecutor(nil), mu: &mu, failures: fe}
			})
			ctx := testCtx(t, 60*time.Second)
			job, err := tc.client.Load(ctx, loadSpec(rs.URL()), loadInputs(3000))
			if err != nil {
				t.Fatal(err)
			}
			defer job.Close()
			res, err := job.Wait(ctx)
			tr := taskRecordOf(t, tc, job.ID(), "t00001")
			if !c.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				if tr.WinnerDelivered != 3 || len(tr.Errors) != 2 || res.Written != 3000 {
					t.Fatalf("winner delivery %d, errors %d, written %d; want 3, 2, 3000", tr.WinnerDelivered, len(tr.Errors), res.Written)
				}
				return
			}
			var je *JobError
			if !errors.As(err, &je) || !errors.Is(err, ErrJobFailed) {
				t.Fatalf("err = %v, want a failed JobError", err)
			}
			if !strings.Contains(je.Reason, "injected write failure") || !strings.Contains(je.Reason, "t00001") || !strings.Contains(je.Reason, "3 attempt") {
				t.Errorf("reason %q should name the task, the attempts and the error", je.Reason)
			}
			if tr.State != taskFailed || len(tr.Errors) != 3 {
				t.Errorf("task state %s with %d errors, want failed with 3", tr.State, len(tr.Errors))
			}
		})
	}
}

// TestCoordinatorRestartMidJob: the coordinator crashes while tasks run;
// a new one resumes tracking and the job completes.
func TestCoordinatorRestartMidJob(t *testing.T) {
	rs := redistest.StartServer(t)
	tc := newTestCluster(t, 0)
	b := newBlocker(func(tm *taskMsg, d int) bool { return tm.Task == "t00000" || tm.Task == "t00001" })
	tc.addWorker(b.hooks("a"))
	tc.addWorker(b.hooks("b"))
	ctx := testCtx(t, 60*time.Second)
	job, err := tc.client.Load(ctx, loadSpec(rs.URL()), loadInputs(4000))
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	b.wait(t, 20*time.Second)
	b.wait(t, 20*time.Second)
	tc.stopCoordinator(true)
	close(b.release) // tasks complete while no coordinator runs
	eventually(t, 10*time.Second, "tasks done without a coordinator", func() bool { return totalDone(tc) >= 2 })
	tc.startCoordinator()
	res, err := job.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 4000 {
		t.Fatalf("written %d, want 4000", res.Written)
	}
}

// TestRedisStoppedMidJobFails: Redis goes away during a load; the job
// fails with a clear error within a bounded time instead of hanging.
func TestRedisStoppedMidJobFails(t *testing.T) {
	rs := redistest.StartServer(t)
	tc := newTestCluster(t, 0)
	var once sync.Once
	stopped := make(chan error, 1)
	hooks := &workerHooks{beforeRun: func(ctx context.Context, tm *taskMsg, attempt string, d int) {
		if tm.Task == "t00003" {
			once.Do(func() { stopped <- rs.StopErr() })
		}
	}}
	tc.addWorker(hooks)
	tc.addWorker(hooks)
	ctx := testCtx(t, 90*time.Second)
	job, err := tc.client.Load(ctx, loadSpec(rs.URL()), loadInputs(10000))
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = job.Wait(ctx)
	var je *JobError
	if !errors.As(err, &je) || je.State != JobFailed {
		t.Fatalf("err = %v, want a failed job", err)
	}
	t.Logf("failed %s after Redis stopped: %s", time.Since(start), je.Reason)
	if !strings.Contains(je.Reason, "row") || !strings.Contains(je.Reason, "attempt") {
		t.Errorf("reason %q should say what failed and how often it was tried", je.Reason)
	}
	if time.Since(start) > 45*time.Second {
		t.Errorf("failing took %s", time.Since(start))
	}
}

// TestDrainHandsBackTasks: a worker told to stop with a task it cannot
// finish in DrainTimeout hands the task back; another worker completes it
// without waiting for AckWait.
func TestDrainHandsBackTasks(t *testing.T) {
	rs := redistest.StartServer(t)
	tc := newTestCluster(t, 0)
	tc.ccfg.AckWait = time.Minute // a redelivery by timeout would blow the deadline below
	tc.stopCoordinator(false)
	tc.startCoordinator()
	b := newBlocker(func(tm *taskMsg, d int) bool { return tm.Task == "t00000" && d == 1 })
	a := tc.addWorker(b.hooks("a"))
	ctx := testCtx(t, 60*time.Second)
	job, err := tc.client.Load(ctx, loadSpec(rs.URL()), loadInputs(2000))
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	b.wait(t, 20*time.Second)
	tc.addWorker(nil)
	a.stop() // blocks for DrainTimeout (2s), then hands the task back
	wctx := testCtx(t, 20*time.Second)
	res, err := job.Wait(wctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 2000 {
		t.Fatalf("written %d, want 2000", res.Written)
	}
}

// TestWorkersListed: live workers are listed with their heartbeat data and
// disappear when they stop.
func TestWorkersListed(t *testing.T) {
	tc := newTestCluster(t, 2)
	ctx := testCtx(t, 30*time.Second)
	var ws []WorkerInfo
	eventually(t, 10*time.Second, "two workers listed", func() bool {
		var err error
		ws, err = tc.client.Workers(ctx)
		return err == nil && len(ws) == 2
	})
	for _, w := range ws {
		if w.ID == "" || w.Concurrency != 1 || w.PID == 0 || w.Seen.IsZero() {
			t.Errorf("worker info %+v incomplete", w)
		}
	}
	tc.workers[0].stop()
	eventually(t, 10*time.Second, "stopped worker unlisted", func() bool {
		ws, err := tc.client.Workers(ctx)
		return err == nil && len(ws) == 1
	})
}

// TestWorkerConcurrency: one worker with Concurrency 3 runs three tasks at
// once.
func TestWorkerConcurrency(t *testing.T) {
	rs := redistest.StartServer(t)
	tc := newTestCluster(t, 0)
	tc.wcfg.Concurrency = 3
	b := newBlocker(func(*taskMsg, int) bool { return true })
	tc.addWorker(b.hooks("a"))
	ctx := testCtx(t, 60*time.Second)
	job, err := tc.client.Load(ctx, loadSpec(rs.URL()), loadInputs(3000)) // 3 chunks
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	seen := map[string]bool{}
	for range 3 {
		seen[b.wait(t, 20*time.Second).task] = true // all three blocked at the same time
	}
	if len(seen) != 3 {
		t.Fatalf("blocked tasks %v, want 3 distinct", seen)
	}
	close(b.release)
	if res, err := job.Wait(ctx); err != nil || res.Written != 3000 {
		t.Fatalf("wait: %v (written %v)", err, res)
	}
}
