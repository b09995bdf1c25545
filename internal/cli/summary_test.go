package cli

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/redstage/redstage/cluster"
	"github.com/redstage/redstage/codec"
)

func TestSummaryOutcome(t *testing.T) {
	g := &GlobalOptions{Redis: "redis://u:hunter2@h:6379", NATS: "nats://a:pw@n:4222"}
	tests := []struct {
		name  string
		job   string
		err   error
		state string
		code  int
	}{
		{"ok", "j", nil, "succeeded", ExitOK},
		{"partial", "j", exitErr(ExitPartial, "see report", errors.New("2 rows")), "partial", ExitPartial},
		{"failed", "j", &cluster.JobError{ID: "j", State: cluster.JobFailed, Tasks: []cluster.TaskError{{Task: "3", Error: "boom"}}}, "failed", ExitJobFailed},
		{"rejected", "", exitErr(ExitInput, "fix", errors.New("bad")), "rejected", ExitInput},
		{"interrupted", "j", errInterrupted, "interrupted", ExitInterrupted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSummary("load", g)
			s.Job = tc.job
			s.fromResult(&cluster.JobResult{Rows: 10, Written: 8, Failed: 2, Nulls: map[string]int64{"age": 3, "zero": 0}, Duration: time.Second})
			s.finish(time.Now().Add(-2*time.Second), tc.err)
			if s.State != tc.state || s.ExitCode != tc.code || s.OK != (tc.err == nil) {
				t.Fatalf("state %s code %d ok %v; want %s %d", s.State, s.ExitCode, s.OK, tc.state, tc.code)
			}
			b, _ := json.Marshal(s)
			if strings.Contains(string(b), "hunter2") || strings.Contains(string(b), ":pw@") {
				t.Fatalf("summary leaks a password: %s", b)
			}
			if _, ok := s.Nulls["zero"]; ok || s.Nulls["age"] != 3 {
				t.Fatalf("nulls %v: want only non-zero counts", s.Nulls)
			}
			if s.RowsPerSec <= 0 || s.RowsPerSec > 10 {
				t.Fatalf("rows/s %v for 10 rows in about 2s", s.RowsPerSec)
			}
		})
	}
}

func TestSummaryHuman(t *testing.T) {
	s := &Summary{Command: "scan", State: "succeeded", Job: "abc", Rows: 1234567, DurationSeconds: 2, RowsPerSec: 617283,
		Output: "out.parquet", Format: "parquet", OutputBytes: 3 << 20, Scanned: 1234600, Duplicates: 33,
		Nulls: map[string]int64{"age": 12}, Tasks: 8, Attempts: 9}
	var b strings.Builder
	s.writeHuman(&b)
	out := b.String()
	for _, want := range []string{"scan succeeded (job abc): 1,234,567 rows in 2.0s (617.3k rows/s)", "out.parquet (parquet, 3.0 MiB)",
		"duplicates dropped", "age", "12", "tasks 8, executions 9 (1 retried or redelivered)"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

func TestEmitJSONDestination(t *testing.T) {
	for _, busy := range []bool{false, true} {
		var stdout, stderr strings.Builder
		a := &App{Stdout: &stdout, Stderr: &stderr}
		a.emit(&GlobalOptions{JSON: true, Quiet: true}, &Summary{Command: "scan", State: "succeeded"}, busy)
		want, other := &stdout, &stderr
		if busy {
			want, other = &stderr, &stdout
		}
		var got Summary
		if err := json.Unmarshal([]byte(want.String()), &got); err != nil || got.Command != "scan" {
			t.Errorf("busy=%v: JSON summary not where expected: %q (%v)", busy, want.String(), err)
		}
		if other.Len() != 0 {
			t.Errorf("busy=%v: unexpected output %q", busy, other.String())
		}
	}
}

func testBatch(t *testing.T, n int) arrow.RecordBatch {
	t.Helper()
	s := arrow.NewSchema([]arrow.Field{{Name: "_key", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, s)
	defer b.Release()
	for i := 0; i < n; i++ {
		b.Field(0).(*array.StringBuilder).Append("k" + string(rune('a'+i%26)))
		b.Field(1).(*array.Int64Builder).Append(int64(i))
	}
	return b.NewRecordBatch()
}

func TestOutputFileAtomic(t *testing.T) {
	dir := t.TempDir()
	rec := testBatch(t, 5)
	defer rec.Release()

	path := filepath.Join(dir, "out.parquet")
	out, err := createOutput(path, codec.WriteOptions{Format: codec.FormatParquet}, rec.Schema(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Write(rec); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("output visible before commit: %v", err)
	}
	out.Abort()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("abort left files: %v", entries)
	}

	out, err = createOutput(path, codec.WriteOptions{Format: codec.FormatParquet}, rec.Schema(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := out.Commit(); err != nil {
		t.Fatal(err)
	}
	out.Abort() // no-op after commit
	r, err := codec.OpenReader(path, codec.ReadOptions{})
	if err != nil {
		t.Fatalf("committed file unreadable: %v", err)
	}
	defer r.Close()
	got, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if !array.RecordEqual(got, rec) {
		t.Fatalf("read back %v, want %v", got, rec)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("want only the output in %s, got %v", dir, entries)
	}
}

func TestLoadReportMapsRowsToFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.json")
	sum := &Summary{Job: "j", State: "partial", Rows: 30, Written: 28, Failed: 3,
		Inputs: []InputSummary{{Path: "a.csv", Rows: 10, FirstRow: 0}, {Path: "b.csv", Rows: 20, FirstRow: 10}}}
	res := &cluster.JobResult{FailedKeys: []cluster.KeyFailure{{Key: "k3", Row: 3, Err: "WRONGTYPE"}, {Key: "k15", Row: 15, Err: "OOM"}}}
	if err := writeLoadReport(path, sum, res); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep LoadReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Failures) != 2 || rep.Failures[0].File != "a.csv" || rep.Failures[0].FileRow != 3 ||
		rep.Failures[1].File != "b.csv" || rep.Failures[1].FileRow != 5 || rep.Failures[1].Error != "OOM" {
		t.Fatalf("failures %+v", rep.Failures)
	}
	if !rep.Truncated || rep.FailuresListed != 2 {
		t.Fatalf("3 failed, 2 listed: truncated %v listed %d", rep.Truncated, rep.FailuresListed)
	}
}

func TestInferenceWarnings(t *testing.T) {
	in := codec.NewInferrer(codec.InferOptions{Threshold: 0.6})
	for i := 0; i < 100; i++ {
		m := map[string]string{"id": "1", "age": "42", "mixed": "7", "name": "x"}
		if i < 3 {
			m["age"] = "unknown"
		}
		if i < 30 {
			m["mixed"] = "word"
		}
		if i < 10 {
			delete(m, "name")
		}
		in.AddHash(m)
	}
	in.AddHash(map[string]string{"id": "2", "age": "30", "mixed": "8", "name": "y", "empty": ""})
	inf := in.Result()
	if err := inf.Overwrite(map[string]codec.Type{"name": codec.Bool}); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(inferenceWarnings(inf), "\n")
	for _, want := range []string{"age: 3 of 101 values", "will be null when scanned", "mixed: 30 of 101 values",
		"name: low confidence", "name: missing or empty in 10 of 101", "empty: no value"} {
		if !strings.Contains(text, want) {
			t.Errorf("warnings lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "id:") {
		t.Errorf("clean field id warned about:\n%s", text)
	}
}
