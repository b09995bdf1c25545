package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/internal/redistest"
)

// TestEmbeddedLoadThenScan drives the public API the CLI uses: an embedded
// cluster loads a CSV file by key column (with progress), then a sorted
// scan gives back exactly the file's rows; Close is idempotent.
func TestEmbeddedLoadThenScan(t *testing.T) {
	rs := redistest.StartServer(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "people.csv")
	var b strings.Builder
	b.WriteString("id,name,age\n")
	const rows = 3000
	for i := rows - 1; i >= 0; i-- { // reverse order: the sorted scan must reorder
		age := strconv.Itoa(i % 80)
		if i%10 == 0 {
			age = ""
		}
		fmt.Fprintf(&b, "%05d,person %d,%s\n", i, i, age)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	cfg := DefaultEmbeddedConfig()
	cfg.Workers = 2
	cfg.Logger = testLogger(t)
	cfg.Client.ChunkRows = 500
	ctx := testCtx(t, 120*time.Second)
	e, err := StartEmbedded(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.URL() == "" || !strings.HasPrefix(e.URL(), "nats://127.0.0.1:") {
		t.Errorf("URL %q, want a loopback nats:// URL", e.URL())
	}
	c := e.Client()

	schema, err := codec.ParseSchemaSpec("id:utf8,name:utf8,age:int64")
	if err != nil {
		t.Fatal(err)
	}
	job, err := c.LoadFiles(ctx, JobSpec{Kind: KindLoad, Redis: rs.URL(), Load: &LoadSpec{Prefix: "person:", KeyColumns: []string{"id"}}},
		[]string{path}, codec.ReadOptions{Schema: schema, BatchSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	var snaps []Progress
	for p := range job.Progress() { // closed when the job ends
		snaps = append(snaps, p)
	}
	res, err := job.Wait(ctx)
	job.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != rows || res.Tasks != rows/500 {
		t.Fatalf("written %d in %d tasks, want %d in %d", res.Written, res.Tasks, rows, rows/500)
	}
	if len(snaps) == 0 || snaps[len(snaps)-1].State != JobSucceeded || snaps[len(snaps)-1].Rows != rows {
		t.Fatalf("progress snapshots %v: want the last to be succeeded with %d rows", snaps, rows)
	}
	for i := 1; i < len(snaps); i++ {
		if snaps[i].TasksDone < snaps[i-1].TasksDone {
			t.Fatalf("progress went back: %v then %v", snaps[i-1], snaps[i])
		}
	}
	if st, err := c.Status(ctx, job.ID()); err != nil || st.State != JobSucceeded || st.Redis != rs.URL() {
		t.Fatalf("status %+v, %v", st, err)
	}

	scan, err := c.Submit(ctx, JobSpec{Kind: KindScan, Redis: rs.URL(), Scan: &ScanSpec{Pattern: "person:*", Schema: schema,
		Meta: codec.MetaColumns{Key: "_key", Index: "_index"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer scan.Close()
	rr, err := scan.Results(ctx, ResultOptions{Sort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	if names := schemaNames(rr.Schema()); !slices.Equal(names, []string{"_key", "id", "name", "age", "_index"}) {
		t.Fatalf("columns %v", names)
	}
	n := 0
	if err := readAll(t, rr, func(rec arrow.RecordBatch) {
		key, id, name, age := rec.Column(0).(*array.String), rec.Column(1).(*array.String), rec.Column(2).(*array.String), rec.Column(3).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			want := fmt.Sprintf("%05d", n)
			if key.Value(i) != "person:"+want || id.Value(i) != want || name.Value(i) != fmt.Sprintf("person %d", n) {
				t.Fatalf("row %d: %s %s %s", n, key.Value(i), id.Value(i), name.Value(i))
			}
			if (n%10 == 0) != age.IsNull(i) || (!age.IsNull(i) && age.Value(i) != int64(n%80)) {
				t.Fatalf("row %d: age null=%v value=%d", n, age.IsNull(i), age.Value(i))
			}
			n++
		}
	}); err != nil {
		t.Fatal(err)
	}
	if n != rows {
		t.Fatalf("%d rows scanned, want %d", n, rows)
	}
	if list, err := c.List(ctx); err != nil || len(list) != 2 || list[0].ID != scan.ID() {
		t.Fatalf("list %v (%v): want the scan first, then the load", list, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
