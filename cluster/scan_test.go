package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/internal/redistest"
)

// loadUsers writes n hashes user:<i> {name, age} with HSET.
func loadUsers(rs *redistest.Server, n int) {
	rs.Load(n, func(i int) []string {
		return []string{"HSET", fmt.Sprintf("user:%06d", i), "name", fmt.Sprintf("n%d", i), "age", strconv.Itoa(i % 100)}
	})
}

func usersScan(url string, tasks int) JobSpec {
	schema, err := codec.ParseSchemaSpec("name:utf8,age:int64")
	if err != nil {
		panic(err)
	}
	return JobSpec{Kind: KindScan, Redis: url, Tasks: tasks, Scan: &ScanSpec{
		Pattern: "user:*", Schema: schema, Meta: codec.MetaColumns{Key: "_key", Index: "_index"}, BatchSize: 500,
	}}
}

// scanAll runs a scan and returns its keys in output order; it checks the
// row index column and the values of each row.
func scanAll(t *testing.T, c *Client, spec JobSpec, opts ResultOptions) ([]string, *JobResult) {
	t.Helper()
	ctx := testCtx(t, 90*time.Second)
	job, err := c.Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	rr, err := job.Results(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	var keys []string
	err = readAll(t, rr, func(rec arrow.RecordBatch) {
		k := rec.Column(0).(*array.String)
		name := rec.Column(1).(*array.String)
		age := rec.Column(2).(*array.Int64)
		idx := rec.Column(3).(*array.Uint64)
		for i := 0; i < int(rec.NumRows()); i++ {
			if idx.Value(i) != uint64(len(keys)) {
				t.Fatalf("row index %d at output row %d", idx.Value(i), len(keys))
			}
			n, _ := strconv.Atoi(strings.TrimPrefix(k.Value(i), "user:"))
			if name.Value(i) != fmt.Sprintf("n%d", n) || age.Value(i) != int64(n%100) {
				t.Fatalf("row %s: name %q age %d", k.Value(i), name.Value(i), age.Value(i))
			}
			keys = append(keys, k.Value(i))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := job.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return keys, res
}

// checkExactlyOnce checks that keys are user:000000..user:<n-1>, each once.
func checkExactlyOnce(t *testing.T, keys []string, n int) {
	t.Helper()
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	if len(sorted) != n {
		t.Fatalf("%d rows, want %d", len(sorted), n)
	}
	for i, k := range sorted {
		if want := fmt.Sprintf("user:%06d", i); k != want {
			t.Fatalf("sorted row %d is %s, want %s (missing or repeated keys)", i, k, want)
		}
	}
}

func TestScanExactlyOnce(t *testing.T) {
	rs := redistest.StartServer(t)
	loadUsers(rs, 20000)
	rs.Load(50, func(i int) []string { return []string{"SET", fmt.Sprintf("user:str%d", i), "x"} }) // not hashes
	tc := newTestCluster(t, 2)
	keys, res := scanAll(t, tc.client, usersScan(rs.URL(), 8), ResultOptions{})
	checkExactlyOnce(t, keys, 20000)
	if res.Rows != 20000 || res.Tasks != 8 {
		t.Errorf("result rows=%d tasks=%d, want 20000 and 8", res.Rows, res.Tasks)
	}
	// Results are purged once read.
	info, err := tc.client.in.results.Info(testCtx(t, 5*time.Second))
	if err != nil || info.State.Msgs != 0 {
		t.Errorf("result stream holds %d messages after reading (%v)", info.State.Msgs, err)
	}
}

func TestScanSorted(t *testing.T) {
	rs := redistest.StartServer(t)
	loadUsers(rs, 12000)
	tc := newTestCluster(t, 2)
	keys, _ := scanAll(t, tc.client, usersScan(rs.URL(), 4), ResultOptions{Sort: true, SortRunBytes: 64 << 10, BatchRows: 777})
	checkExactlyOnce(t, keys, 12000)
	if !slices.IsSorted(keys) {
		t.Fatal("rows not in key order")
	}
	spec := usersScan(rs.URL(), 4)
	spec.Scan.Meta.Key = ""
	job, err := tc.client.Submit(testCtx(t, 30*time.Second), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	if _, err := job.Results(context.Background(), ResultOptions{Sort: true}); !errors.Is(err, ErrSortNeedsKey) {
		t.Errorf("sort without key column: %v, want ErrSortNeedsKey", err)
	}
}

// stallExec stalls the first Scan of one partition after it emitted a
// batch (so its frames are on the stream) until released or cancelled.
type stallExec struct {
	executor
	part    string // partition JSON to stall
	mu      *sync.Mutex
	calls   *int
	stalled chan struct{}
	release chan struct{}
}

func (s *stallExec) Scan(ctx context.Context, spec *JobSpec, part json.RawMessage, emit func(arrow.RecordBatch) error) (counts, error) {
	s.mu.Lock()
	first := string(part) == s.part && *s.calls == 0
	if string(part) == s.part {
		*s.calls++
	}
	s.mu.Unlock()
	if !first {
		return s.executor.Scan(ctx, spec, part, emit)
	}
	n := 0
	return s.executor.Scan(ctx, spec, part, func(rec arrow.RecordBatch) error {
		if err := emit(rec); err != nil {
			return err
		}
		if n++; n == 2 {
			close(s.stalled)
			select {
			case <-s.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
}

// TestScanAttemptsExactlyOnce: one execution stalls after publishing some
// frames. (a) its worker is killed: the redelivery wins; (b) its worker is
// cut off (heartbeats lost) and resumes after the redelivery won: it
// completes and loses. Either way the output
// holds every key once.
func TestScanAttemptsExactlyOnce(t *testing.T) {
	for _, mode := range []string{"killed", "late"} {
		t.Run(mode, func(t *testing.T) {
			rs := redistest.StartServer(t)
			loadUsers(rs, 8000)
			spec := usersScan(rs.URL(), 4)
			se := &stallExec{mu: &sync.Mutex{}, calls: new(int), stalled: make(chan struct{}), release: make(chan struct{})}
			tc := newTestClusterWith(t, 0, func() executor {
				return &stallExec{executor: newShardExecutor(nil), part: se.part, mu: se.mu, calls: se.calls, stalled: se.stalled, release: se.release}
			})
			// Stall the partition the plan puts first.
			parts, err := newShardExecutor(nil).Plan(testCtx(t, 10*time.Second), &spec, 4)
			if err != nil {
				t.Fatal(err)
			}
			se.part = string(parts[0])
			a := tc.addWorker(&workerHooks{loseHeartbeats: mode == "late"})
			ctx := testCtx(t, 90*time.Second)
			job, err := tc.client.Submit(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			defer job.Close()
			select {
			case <-se.stalled:
			case <-ctx.Done():
				t.Fatal("no execution stalled")
			}
			tc.addWorker(nil)
			if mode == "killed" {
				a.kill()
			}
			rr, err := job.Results(ctx, ResultOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Close()
			var keys []string
			if err := readAll(t, rr, func(rec arrow.RecordBatch) {
				k := rec.Column(0).(*array.String)
				for i := 0; i < k.Len(); i++ {
					keys = append(keys, k.Value(i))
				}
			}); err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, keys, 8000)
			tr := taskRecordOf(t, tc, job.ID(), "t00000")
			if tr.WinnerDelivered != 2 {
				t.Errorf("winner of t00000 is delivery %d, want 2", tr.WinnerDelivered)
			}
			if mode == "late" {
				close(se.release) // the stalled execution completes now and loses
				eventually(t, 15*time.Second, "late execution ended", func() bool { return runningTasks(tc) == 0 })
				eventually(t, 15*time.Second, "losing frames purged", func() bool {
					info, err := tc.client.in.results.Info(ctx)
					return err == nil && info.State.Msgs == 0
				})
			}
		})
	}
}

// TestScanStrictFailsNamingKeyAndField: an unparsable value in strict mode
// fails the job at once (no retries) with the key and field in the error.
func TestScanStrictFailsNamingKeyAndField(t *testing.T) {
	rs := redistest.StartServer(t)
	loadUsers(rs, 100)
	rs.Load(1, func(int) []string { return []string{"HSET", "user:bad", "name", "x", "age", "old"} })
	tc := newTestCluster(t, 1)
	spec := usersScan(rs.URL(), 2)
	spec.Scan.Strict = true
	ctx := testCtx(t, 30*time.Second)
	job, err := tc.client.Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	_, err = job.Wait(ctx)
	var je *JobError
	if !errors.As(err, &je) || je.State != JobFailed {
		t.Fatalf("err = %v, want a failed job", err)
	}
	for _, want := range []string{"user:bad", `"age"`, `"old"`, "1 attempt"} {
		if !strings.Contains(je.Reason, want) {
			t.Errorf("reason %q lacks %s", je.Reason, want)
		}
	}
}

// TestSubmitRejectsUnreachableRedis: nothing is recorded or run.
func TestSubmitRejectsUnreachableRedis(t *testing.T) {
	tc := newTestCluster(t, 1)
	ctx := testCtx(t, 30*time.Second)
	_, err := tc.client.Submit(ctx, usersScan("redis://127.0.0.1:1", 2))
	if !errors.Is(err, ErrRedisUnreachable) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err = %v, want ErrRedisUnreachable naming the address", err)
	}
	if list, err := tc.client.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("jobs recorded: %d (%v), want none", len(list), err)
	}
}

// TestResultsStopOnCancelledContext: cancelling the context given to
// Results makes Next return promptly with the context's error.
func TestResultsStopOnCancelledContext(t *testing.T) {
	rs := redistest.StartServer(t)
	loadUsers(rs, 1000)
	tc := newTestCluster(t, 0)
	b := newBlocker(func(*taskMsg, int) bool { return true })
	tc.addWorker(b.hooks("a"))
	ctx := testCtx(t, 30*time.Second)
	job, err := tc.client.Submit(ctx, usersScan(rs.URL(), 2))
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	b.wait(t, 10*time.Second) // nothing can complete: Next would wait
	rctx, cancel := context.WithCancel(ctx)
	rr, err := job.Results(rctx, ResultOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	done := make(chan error, 1)
	go func() {
		_, err := rr.Next()
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Next after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next still blocked 5s after its context was cancelled")
	}
	close(b.release)
}
