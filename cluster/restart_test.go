package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/redstage/redstage/internal/redistest"
)

// TestRepairResumesInterruptedPlanning: records left as a coordinator that
// crashed mid-way would leave them (a job never planned; a job whose tasks
// were recorded but not queued) are taken up by the next coordinator.
func TestRepairResumesInterruptedPlanning(t *testing.T) {
	rs := redistest.StartServer(t)
	loadUsers(rs, 2000)
	tc := newTestCluster(t, 1)
	tc.stopCoordinator(false)
	ctx := testCtx(t, 60*time.Second)
	in, err := tc.client.infra(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().UTC().Add(-2 * planGrace)

	// Job A: accepted, never planned.
	a := &jobRecord{ID: newJobID(old), Spec: usersScan(rs.URL(), 3), State: JobPending, Created: old, Touched: old}
	// Job B: planned and recorded, tasks never queued.
	b := &jobRecord{ID: newJobID(old), Spec: usersScan(rs.URL(), 2), State: JobRunning, Created: old, Started: old, Touched: old,
		Planned: true, InputComplete: true}
	parts, err := newShardExecutor(nil).Plan(ctx, &b.Spec, 2)
	if err != nil {
		t.Fatal(err)
	}
	b.Tasks = len(parts)
	for i, p := range parts {
		tr := taskRecord{Job: b.ID, ID: taskID(i), Index: i, State: taskPlanned, Part: p, Updated: old}
		if err := putRecord(ctx, in.taskKV, taskKey(b.ID, tr.ID), tr); err != nil {
			t.Fatal(err)
		}
	}
	for _, j := range []*jobRecord{a, b} {
		if err := putRecord(ctx, in.jobs, j.ID, j); err != nil {
			t.Fatal(err)
		}
	}
	tc.startCoordinator()
	for _, j := range []*jobRecord{a, b} {
		job, err := tc.client.Attach(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		rr, err := job.Results(ctx, ResultOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		if err := readAll(t, rr, func(rec arrow.RecordBatch) { n += int(rec.NumRows()) }); err != nil {
			t.Fatal(err)
		}
		rr.Close()
		job.Close()
		if n != 2000 {
			t.Fatalf("job %s: %d rows, want 2000", j.ID, n)
		}
	}
}

// TestLoadJobFailsWhenUploaderVanishes: a load whose client stops sending
// (no chunk, no keepalive) fails after InputTimeout instead of waiting forever.
func TestLoadJobFailsWhenUploaderVanishes(t *testing.T) {
	rs := redistest.StartServer(t)
	tc := newTestCluster(t, 1)
	tc.stopCoordinator(false)
	tc.ccfg.InputTimeout = time.Second
	tc.startCoordinator()
	ctx := testCtx(t, 30*time.Second)
	var rep submitReply
	if err := tc.client.request(ctx, opSubmit, submitRequest{Spec: loadSpec(rs.URL())}, &rep); err != nil {
		t.Fatal(err)
	}
	job, err := tc.client.Attach(ctx, rep.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	_, err = job.Wait(ctx)
	var je *JobError
	if !errors.As(err, &je) || je.State != JobFailed || !strings.Contains(je.Reason, "no input") {
		t.Fatalf("err = %v, want a failed job saying no input arrived", err)
	}
}

// failingSource yields its batches, then an error.
type failingSource struct {
	sliceSource
	err error
}

func (f *failingSource) Next() (arrow.RecordBatch, error) {
	rec, err := f.sliceSource.Next()
	if errors.Is(err, io.EOF) {
		return nil, f.err
	}
	return rec, err
}

// TestLoadInputErrorFailsJob: an input that fails mid-way (a malformed
// line) fails the job; Wait returns the input's error as the cause, and
// the uploaded chunks are removed.
func TestLoadInputErrorFailsJob(t *testing.T) {
	rs := redistest.StartServer(t)
	tc := newTestCluster(t, 1)
	ctx := testCtx(t, 30*time.Second)
	bad := errors.New("line 2501: wrong number of fields")
	src := &failingSource{sliceSource: sliceSource{recs: makeRows(0, 2500, 500)}, err: bad}
	job, err := tc.client.Load(ctx, loadSpec(rs.URL()), []LoadInput{{Name: "in.csv", Source: src}})
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	_, err = job.Wait(ctx)
	var je *JobError
	if !errors.As(err, &je) || je.State != JobFailed || !errors.Is(err, bad) || !strings.Contains(je.Reason, "in.csv") {
		t.Fatalf("err = %v (reason %q), want a failed job caused by the input error naming the file", err, je.Reason)
	}
	eventually(t, 5*time.Second, "chunks removed", func() bool {
		info, err := tc.client.in.chunks.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
}

// TestWorkerStartsBeforeCoordinator: a worker waits for the streams a
// coordinator creates, then serves.
func TestWorkerStartsBeforeCoordinator(t *testing.T) {
	rs := redistest.StartServer(t)
	log := testLogger(t)
	ncfg := DefaultNATSConfig()
	ncfg.Logger = log
	ns, err := StartNATS(ncfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	wnc, err := ns.Connect("worker")
	if err != nil {
		t.Fatal(err)
	}
	defer wnc.Close()
	wcfg := fastWorkerConfig()
	wcfg.Logger = log
	w, err := NewWorker(wnc, wcfg)
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	}()

	cnc, err := ns.Connect("coordinator")
	if err != nil {
		t.Fatal(err)
	}
	defer cnc.Close()
	ctx := testCtx(t, 30*time.Second)
	ccfg := fastCoordinatorConfig()
	ccfg.Logger = log
	c, err := NewCoordinator(ctx, cnc, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	cctx, cstop := context.WithCancel(context.Background())
	cdone := make(chan error, 1)
	go func() { cdone <- c.Run(cctx) }()
	defer func() {
		cstop()
		<-cdone
		c.Close()
	}()
	client, err := NewClient(cnc, DefaultClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := waitService(ctx, cnc, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	job, err := client.Load(ctx, loadSpec(rs.URL()), loadInputs(100))
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	if res, err := job.Wait(ctx); err != nil || res.Written != 100 {
		t.Fatalf("wait: %v (%v)", err, res)
	}
}

// TestServiceStatusAndList: the micro endpoints answer like the client's
// direct reads, and errors carry their sentinel.
func TestServiceStatusAndList(t *testing.T) {
	rs := redistest.StartServer(t)
	tc := newTestCluster(t, 1)
	ctx := testCtx(t, 30*time.Second)
	job, err := tc.client.Load(ctx, loadSpec(rs.URL()), loadInputs(10))
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	if _, err := job.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	var st JobStatus
	if err := tc.client.request(ctx, opStatus, idRequest{ID: job.ID()}, &st); err != nil || st.State != JobSucceeded || st.Result.Written != 10 {
		t.Fatalf("status over the service: %+v, %v", st, err)
	}
	var list []JobStatus
	if err := tc.client.request(ctx, opList, listRequest{Limit: 5}, &list); err != nil || len(list) != 1 || list[0].ID != job.ID() {
		t.Fatalf("list over the service: %v, %v", list, err)
	}
	err = tc.client.request(ctx, opStatus, idRequest{ID: "nosuchjob"}, &st)
	if !errors.Is(err, ErrJobNotFound) {
		t.Fatalf("unknown job: %v, want ErrJobNotFound", err)
	}
	if _, err := tc.client.Status(ctx, "bad id!"); !errors.Is(err, ErrJobNotFound) {
		t.Fatalf("bad id: %v, want ErrJobNotFound", err)
	}
	raw, _ := json.Marshal(map[string]any{"spec": map[string]any{"kind": "search", "redis": rs.URL()}})
	msg, err := tc.client.nc.RequestWithContext(ctx, subjAPIPrefix+opSubmit, raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := decodeReply(msg, nil); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "search") {
		t.Fatalf("unknown kind: %v, want ErrInvalidSpec naming it", err)
	}
}
