package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redstage/redstage/internal/redistest"
)

// storeLimit is the JetStream max_file_store of the storage tests: far
// less than the frames of the scan below (about 9 MiB).
const storeLimit = 4 << 20

// resultFrames counts the messages of a job on REDSTAGE_RESULTS.
func resultFrames(t *testing.T, tc *testCluster, job string) uint64 {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	in, err := tc.client.infra(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := in.results.Info(ctx, jetstream.WithSubjectFilter(jobResultsFilter(job)))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// TestStoreFullFailsScan: a scan whose results do not fit the store fails
// within seconds (each task once, not redelivered forever) with an error
// naming the store and its limit; its frames are purged, and the next job
// succeeds without restarting anything.
func TestStoreFullFailsScan(t *testing.T) {
	rs := redistest.StartServer(t)
	loadUsers(rs, 200_000)
	tc := newTestClusterNATS(t, 2, nil, func(c *NATSConfig) { c.MaxStore = storeLimit })

	ctx := testCtx(t, 60*time.Second)
	job, err := tc.client.Submit(ctx, usersScan(rs.URL(), 8))
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	start := time.Now()
	// Nobody reads the results: they pile up until the store is full.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = job.Wait(wctx)
	var je *JobError
	if !errors.As(err, &je) || je.State != JobFailed {
		t.Fatalf("scan into a full store: %v, want a failed job within 30s", err)
	}
	t.Logf("failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
	for _, want := range []string{"JetStream store full", "max_file_store", "REDSTAGE_RESULTS", "MiB"} {
		if !containsStr(err.Error(), want) {
			t.Errorf("job error does not say %q: %v", want, err)
		}
	}
	st, err := tc.client.Status(ctx, job.ID())
	if err != nil {
		t.Fatal(err)
	}
	if st.Result == nil || st.Result.Attempts > 8*tc.ccfg.MaxAttempts {
		t.Errorf("job result %+v: want at most %d executions", st.Result, 8*tc.ccfg.MaxAttempts)
	}
	eventually(t, 10*time.Second, "the failed job's frames purged", func() bool { return resultFrames(t, tc, job.ID()) == 0 })
	if err := tc.client.Cancel(ctx, job.ID()); !errors.Is(err, ErrJobFinished) {
		t.Errorf("cancelling the failed job: %v, want ErrJobFinished", err)
	}

	// The store has room again: a job that fits succeeds.
	rs2 := redistest.StartServer(t)
	loadUsers(rs2, 2000)
	keys, _ := scanAll(t, tc.client, usersScan(rs2.URL(), 4), ResultOptions{})
	checkExactlyOnce(t, keys, 2000)
}

// TestStoreFullFailsLoad: a load whose chunks do not fit the store (no
// worker writes them away) fails within seconds naming the store; the
// client's Wait does not hang, and a later load succeeds.
func TestStoreFullFailsLoad(t *testing.T) {
	rs := redistest.StartServer(t)
	tc := newTestClusterNATS(t, 0, nil, func(c *NATSConfig) { c.MaxStore = storeLimit })
	ccfg := DefaultClientConfig()
	ccfg.Logger = tc.log
	ccfg.ChunkRows = 20_000
	ccfg.MaxPendingChunks = 64
	cl, err := NewClient(tc.conn("big-chunks"), ccfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 60*time.Second)
	job, err := cl.Load(ctx, loadSpec(rs.URL()), []LoadInput{{Name: "rows", Source: &sliceSource{recs: makeRows(0, 400_000, 5000)}}})
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = job.Wait(wctx)
	var je *JobError
	if !errors.As(err, &je) || je.State != JobFailed || !containsStr(err.Error()+fmt.Sprint(je.Cause), "JetStream store full") {
		t.Fatalf("load into a full store: %v (cause %v), want a failed job naming the store within 30s", err, causeOf(je))
	}
	t.Logf("load failed: %v", err)

	tc.addWorker(nil)
	job2, err := tc.client.Load(ctx, loadSpec(rs.URL()), []LoadInput{{Name: "small", Source: &sliceSource{recs: makeRows(0, 3000, 500)}}})
	if err != nil {
		t.Fatal(err)
	}
	defer job2.Close()
	res, err := job2.Wait(ctx)
	if err != nil || res.Written != 3000 {
		t.Fatalf("load after the store was freed: %+v, %v", res, err)
	}
}

func causeOf(je *JobError) error {
	if je == nil {
		return nil
	}
	return je.Cause
}

// TestAbandonSucceededScan: a scan whose tasks all succeeded but whose
// results nobody will read (the reader's output was closed) is recorded
// as cancelled with the reason, and its frames are purged at once;
// Abandon of a failed or cancelled job is ErrJobFinished.
func TestAbandonSucceededScan(t *testing.T) {
	rs := redistest.StartServer(t)
	loadUsers(rs, 3000)
	tc := newTestCluster(t, 2)
	ctx := testCtx(t, 60*time.Second)
	job, err := tc.client.Submit(ctx, usersScan(rs.URL(), 4))
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	if _, err := job.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if n := resultFrames(t, tc, job.ID()); n == 0 {
		t.Fatal("a succeeded scan has no frames before its results are read")
	}
	if err := job.Abandon(ctx, "output closed by its reader (broken pipe)"); err != nil {
		t.Fatal(err)
	}
	st, err := tc.client.Status(ctx, job.ID())
	if err != nil {
		t.Fatal(err)
	}
	if st.State != JobCancelled || st.Result == nil || !containsStr(st.Result.Error, "broken pipe") {
		t.Fatalf("abandoned scan: state %s, result %+v", st.State, st.Result)
	}
	if n := resultFrames(t, tc, job.ID()); n != 0 {
		t.Errorf("%d frames left after Abandon", n)
	}
	if err := job.Abandon(ctx, "again"); !errors.Is(err, ErrJobFinished) {
		t.Errorf("abandoning a cancelled job: %v, want ErrJobFinished", err)
	}
}

// tmpfsStore mounts a tmpfs of size bytes for a NATS store (root only).
func tmpfsStore(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root; the max_file_store tests cover the limit itself")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s)", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestDiskFullRecovers: a store whose disk fills up (a small tmpfs:
// ENOSPC) breaks the streams that failed to write, and nothing can be
// recorded until space returns. Once it does, the embedded server brings
// JetStream back by itself: the stuck scan ends (failed, with a message)
// and a later scan succeeds, without restarting anything.
func TestDiskFullRecovers(t *testing.T) {
	dir := tmpfsStore(t, 24<<20)
	rs := redistest.StartServer(t)
	loadUsers(rs, 400_000)
	tc := newTestClusterNATS(t, 0, nil, func(c *NATSConfig) { c.StoreDir = dir })
	tc.wcfg.RequestTimeout = time.Second
	tc.addWorker(nil)
	tc.addWorker(nil)
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 14<<20), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx := testCtx(t, 2*time.Minute)
	job, err := tc.client.Submit(ctx, usersScan(rs.URL(), 2))
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	eventually(t, 30*time.Second, "a store write failing for lack of space", func() bool {
		return jetStreamWriteError(tc.nats.Server()) != ""
	})
	t.Logf("store broken: %s", jetStreamWriteError(tc.nats.Server()))
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	_, err = job.Wait(wctx)
	var je *JobError
	if !errors.As(err, &je) || je.State != JobFailed {
		t.Fatalf("scan that hit a full disk, after space returned: %v, want it failed within 60s", err)
	}
	t.Logf("stuck scan ended: %v", err)

	rs2 := redistest.StartServer(t)
	loadUsers(rs2, 6)
	keys, _ := scanAll(t, tc.client, usersScan(rs2.URL(), 2), ResultOptions{})
	checkExactlyOnce(t, keys, 6)
}

// TestCancelWithFullStore: a running job can be cancelled while the store
// is full of its own frames (the cancel record needs room: the job's data
// is purged first to make it).
func TestCancelWithFullStore(t *testing.T) {
	rs := redistest.StartServer(t)
	loadUsers(rs, 100)
	tc := newTestClusterNATS(t, 0, nil, func(c *NATSConfig) { c.MaxStore = storeLimit })
	b := newBlocker(func(*taskMsg, int) bool { return true })
	defer close(b.release)
	tc.addWorker(b.hooks("w0"))
	ctx := testCtx(t, 60*time.Second)
	job, err := tc.client.Submit(ctx, usersScan(rs.URL(), 1))
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	bl := b.wait(t, 20*time.Second)
	// Fill the store with frames on the running task's subject.
	nc := tc.conn("filler")
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 256<<10)
	for i := 0; ; i++ {
		_, err := js.Publish(ctx, resultSubject(job.ID(), bl.task, "filler"), frame)
		if err != nil {
			if !isStoreFull(err) {
				t.Fatalf("filling the store: %v", err)
			}
			break
		}
		if i > 1000 {
			t.Fatal("the store never filled up")
		}
	}
	if err := tc.client.Cancel(ctx, job.ID()); err != nil {
		t.Fatalf("cancelling a job while the store is full of its frames: %v", err)
	}
	st, err := tc.client.Status(ctx, job.ID())
	if err != nil || st.State != JobCancelled {
		t.Fatalf("after cancel: %+v, %v", st, err)
	}
	if n := resultFrames(t, tc, job.ID()); n != 0 {
		t.Errorf("%d frames left after the cancel", n)
	}
}
