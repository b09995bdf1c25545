package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
)

// testLogger writes to t.Log (visible with -v or on failure).
func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Info, Output: testWriter{t}})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testCluster is a NATS server with a coordinator and workers that a test
// can stop, kill and restart individually.
type testCluster struct {
	t      testing.TB
	nats   *NATSServer
	ccfg   CoordinatorConfig
	wcfg   WorkerConfig
	client *Client
	log    hclog.Logger
	// newExec builds executors; nil = the shard executor.
	newExec func() executor

	mu      sync.Mutex
	coord   *runningCoord
	workers []*testWorker
}

type runningCoord struct {
	c      *Coordinator
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan struct{}
}

type testWorker struct {
	w      *Worker
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan struct{}
}

// fastCoordinatorConfig shortens the timings for tests.
func fastCoordinatorConfig() CoordinatorConfig {
	c := DefaultCoordinatorConfig()
	c.AckWait = 2 * time.Second
	c.RetryBackoff = 50 * time.Millisecond
	c.MaxRetryBackoff = 200 * time.Millisecond
	c.MaxAttempts = 3
	c.PollInterval = 100 * time.Millisecond
	c.RepairInterval = time.Second
	return c
}

func fastWorkerConfig() WorkerConfig {
	c := DefaultWorkerConfig()
	c.FetchTimeout = 100 * time.Millisecond
	c.DrainTimeout = 2 * time.Second
	c.HeartbeatInterval = time.Second
	return c
}

func newTestCluster(t testing.TB, workers int) *testCluster {
	return newTestClusterWith(t, workers, nil)
}

func newTestClusterWith(t testing.TB, workers int, newExec func() executor) *testCluster {
	t.Helper()
	return newTestClusterNATS(t, workers, newExec, nil)
}

// newTestClusterNATS is newTestClusterWith with a hook on the NATS config.
func newTestClusterNATS(t testing.TB, workers int, newExec func() executor, tune func(*NATSConfig)) *testCluster {
	t.Helper()
	log := testLogger(t)
	ncfg := DefaultNATSConfig()
	ncfg.StoreDir = t.TempDir()
	ncfg.Logger = log
	if tune != nil {
		tune(&ncfg)
	}
	ns, err := StartNATS(ncfg)
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCluster{t: t, nats: ns, ccfg: fastCoordinatorConfig(), wcfg: fastWorkerConfig(), log: log, newExec: newExec}
	tc.ccfg.Logger, tc.wcfg.Logger = log, log
	t.Cleanup(tc.close)
	tc.startCoordinator()
	for range workers {
		tc.addWorker(nil)
	}
	nc := tc.conn("test-client")
	ccfg := DefaultClientConfig()
	ccfg.Logger = log
	ccfg.ChunkRows = 1000
	tc.client, err = NewClient(nc, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

func (tc *testCluster) conn(name string) *nats.Conn {
	tc.t.Helper()
	nc, err := tc.nats.Connect(name)
	if err != nil {
		tc.t.Fatal(err)
	}
	return nc
}

func (tc *testCluster) executor() executor {
	if tc.newExec != nil {
		return tc.newExec()
	}
	return newShardExecutor(tc.log)
}

// startCoordinator starts a coordinator (after stopCoordinator, a new one).
func (tc *testCluster) startCoordinator() {
	tc.t.Helper()
	nc := tc.conn("test-coordinator")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := newCoordinator(ctx, nc, tc.ccfg, tc.executor())
	if err != nil {
		tc.t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(context.Background())
	rc := &runningCoord{c: c, nc: nc, cancel: rcancel, done: make(chan struct{})}
	go func() {
		defer close(rc.done)
		if err := c.Run(rctx); err != nil {
			tc.t.Errorf("coordinator: %v", err)
		}
	}()
	tc.mu.Lock()
	tc.coord = rc
	tc.mu.Unlock()
	if err := waitService(ctx, nc, 10*time.Second); err != nil {
		tc.t.Fatal(err)
	}
}

// stopCoordinator stops the coordinator; crash=true closes its connection
// first so it cannot finish anything it was doing.
func (tc *testCluster) stopCoordinator(crash bool) {
	tc.mu.Lock()
	rc := tc.coord
	tc.coord = nil
	tc.mu.Unlock()
	if rc == nil {
		return
	}
	if crash {
		rc.nc.Close()
	}
	rc.cancel()
	<-rc.done
	_ = rc.c.Close()
	rc.nc.Close()
}

// addWorker starts a worker; hooks may be nil.
func (tc *testCluster) addWorker(hooks *workerHooks) *testWorker {
	tc.t.Helper()
	return tc.addWorkerConn(tc.conn("test-worker"), hooks)
}

// addWorkerConn starts a worker on nc (closed with the worker).
func (tc *testCluster) addWorkerConn(nc *nats.Conn, hooks *workerHooks) *testWorker {
	tc.t.Helper()
	cfg := tc.wcfg
	cfg.ID = fmt.Sprintf("w%d-%s", len(tc.workers), randomToken(3))
	if err := cfg.Validate(); err != nil {
		tc.t.Fatal(err)
	}
	w := newWorker(nc, cfg, tc.executor())
	if hooks != nil {
		w.hooks = *hooks
	}
	ctx, cancel := context.WithCancel(context.Background())
	tw := &testWorker{w: w, nc: nc, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(tw.done)
		if err := w.Run(ctx); err != nil {
			tc.t.Errorf("worker %s: %v", cfg.ID, err)
		}
	}()
	tc.mu.Lock()
	tc.workers = append(tc.workers, tw)
	tc.mu.Unlock()
	return tw
}

// kill stops a worker as a crash would: its connection goes first, so it
// can neither ack, nak, heartbeat nor publish.
func (tw *testWorker) kill() {
	tw.nc.Close()
	tw.cancel()
	<-tw.done
}

// stop drains a worker the way SIGTERM does.
func (tw *testWorker) stop() {
	tw.cancel()
	<-tw.done
	tw.nc.Close()
}

func (tc *testCluster) close() {
	tc.mu.Lock()
	ws := tc.workers
	tc.workers = nil
	tc.mu.Unlock()
	for _, w := range ws {
		w.stop()
	}
	tc.stopCoordinator(false)
	if tc.client != nil {
		tc.client.nc.Close()
	}
	_ = tc.nats.Shutdown()
}

// testCtx returns a context bounded for a test step.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

// sliceSource is a RecordSource over in-memory batches.
type sliceSource struct {
	recs []arrow.RecordBatch
	i    int
}

func (s *sliceSource) Schema() *arrow.Schema { return s.recs[0].Schema() }
func (s *sliceSource) Next() (arrow.RecordBatch, error) {
	if s.i >= len(s.recs) {
		return nil, io.EOF
	}
	r := s.recs[s.i]
	s.i++
	r.Retain()
	return r, nil
}
func (s *sliceSource) Close() error { return nil }

// makeRows returns batches of n rows: id (int64, start..), name (utf8) and
// score (float64), in batches of batch rows.
func makeRows(start, n, batch int) []arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	var out []arrow.RecordBatch
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := start; i < start+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("name-%d", i))
		if i%7 == 0 {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.Float64Builder).Append(float64(i) / 4)
		}
		if b.Field(0).Len() == batch {
			out = append(out, b.NewRecordBatch())
		}
	}
	if b.Field(0).Len() > 0 {
		out = append(out, b.NewRecordBatch())
	}
	return out
}

// readAll drains a result reader, calling fn for each batch.
func readAll(t testing.TB, rr *ResultReader, fn func(arrow.RecordBatch)) error {
	t.Helper()
	for {
		rec, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		fn(rec)
		rec.Release()
	}
}

func arrowRecord(s *arrow.Schema, rec arrow.RecordBatch) arrow.RecordBatch {
	return array.NewRecordBatch(s, rec.Columns(), rec.NumRows())
}

func containsStr(s, sub string) bool { return strings.Contains(s, sub) }
