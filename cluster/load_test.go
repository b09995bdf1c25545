package cluster

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/redstage/redstage/internal/redistest"
)

// TestLoadAutomaticKeysAcrossChunks loads three inputs cut into many chunks
// with automatic keys: every row lands under prefix + its global row index,
// no key collides, and the counts add up.
func TestLoadAutomaticKeysAcrossChunks(t *testing.T) {
	rs := redistest.StartServer(t)
	tc := newTestCluster(t, 2)
	ctx := testCtx(t, 60*time.Second)

	sizes := []int{2500, 1, 1999} // 1000-row chunks: chunk boundaries inside and between inputs
	var inputs []LoadInput
	start := 0
	for i, n := range sizes {
		inputs = append(inputs, LoadInput{Name: fmt.Sprintf("in%d", i), Source: &sliceSource{recs: makeRows(start, n, 700)}})
		start += n
	}
	job, err := tc.client.Load(ctx, JobSpec{Kind: KindLoad, Redis: rs.URL(), Load: &LoadSpec{Prefix: "row:"}}, inputs)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	res, err := job.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(start)
	if res.Rows != total || res.Written != total || res.Failed+res.Rejected+res.Skipped != 0 {
		t.Fatalf("result rows=%d written=%d failed=%d rejected=%d skipped=%d, want %d written", res.Rows, res.Written, res.Failed, res.Rejected, res.Skipped, total)
	}
	if res.Tasks != 3+1+2 {
		t.Errorf("tasks = %d, want 6 (chunks never span inputs)", res.Tasks)
	}
	rdb := rs.Client()
	if n, err := rdb.DBSize(ctx).Result(); err != nil || n != total {
		t.Fatalf("dbsize = %d (%v), want %d", n, err, total)
	}
	for _, i := range []int{0, 999, 1000, 2499, 2500, 2501, 4499} {
		m, err := rdb.HGetAll(ctx, "row:"+strconv.Itoa(i)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if m["id"] != strconv.Itoa(i) || m["name"] != fmt.Sprintf("name-%d", i) {
			t.Errorf("row:%d = %v, want id %d", i, m, i)
		}
	}
	// Chunks are deleted once their job ended.
	eventually(t, 5*time.Second, "chunk objects deleted", func() bool {
		info, err := tc.client.in.chunks.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
}

// TestLoadRejectsMissingKeyColumn: the key column check happens before
// anything is submitted or written.
func TestLoadRejectsMissingKeyColumn(t *testing.T) {
	rs := redistest.StartServer(t)
	tc := newTestCluster(t, 1)
	ctx := testCtx(t, 30*time.Second)
	inputs := []LoadInput{
		{Name: "good.csv", Source: &sliceSource{recs: makeRows(0, 10, 10)}},
		{Name: "other.csv", Source: &sliceSource{recs: []arrow.RecordBatch{renameFirst(makeRows(0, 10, 10)[0], "ident")}}},
	}
	_, err := tc.client.Load(ctx, JobSpec{Kind: KindLoad, Redis: rs.URL(), Load: &LoadSpec{KeyColumns: []string{"id"}}}, inputs)
	if !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("err = %v, want ErrInvalidSpec", err)
	}
	for _, want := range []string{`"id"`, "other.csv", "ident"} {
		if !containsStr(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if n, _ := rs.Client().DBSize(ctx).Result(); n != 0 {
		t.Errorf("%d keys written, want none", n)
	}
	if list, err := tc.client.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("jobs recorded: %v (%v), want none", list, err)
	}
}

func renameFirst(rec arrow.RecordBatch, name string) arrow.RecordBatch {
	fields := rec.Schema().Fields()
	fields[0].Name = name
	return arrowRecord(arrow.NewSchema(fields, nil), rec)
}

// TestLoadUploadWindow: with workers stalled, the uploader stops after
// MaxPendingChunks chunks instead of copying the whole input ahead.
func TestLoadUploadWindow(t *testing.T) {
	rs := redistest.StartServer(t)
	tc := newTestCluster(t, 0)
	tc.client.cfg.MaxPendingChunks = 2
	b := newBlocker(func(*taskMsg, int) bool { return true })
	tc.addWorker(b.hooks("a"))
	ctx := testCtx(t, 60*time.Second)
	job, err := tc.client.Load(ctx, loadSpec(rs.URL()), loadInputs(6000)) // 6 chunks of 1000
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	b.wait(t, 20*time.Second)
	chunkCount := func() int {
		st, err := tc.client.Status(ctx, job.ID())
		if err != nil {
			t.Fatal(err)
		}
		return st.Progress.TasksTotal
	}
	eventually(t, 10*time.Second, "two chunks queued", func() bool { return chunkCount() == 2 })
	// The window holds: a third chunk is not queued while both are pending.
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if n := chunkCount(); n > 2 {
			t.Fatalf("%d chunks queued with 2 pending and a window of 2", n)
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	close(b.release)
	res, err := job.Wait(ctx)
	if err != nil || res.Written != 6000 {
		t.Fatalf("wait: %v (written %v)", err, res)
	}
}
