package codec

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// writeFile writes recs to path in format f and fails the test on error.
func writeFile(t testing.TB, path string, s *arrow.Schema, opts WriteOptions, recs ...arrow.RecordBatch) {
	t.Helper()
	w, err := CreateRecordWriter(path, s, opts)
	if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close %s: %v", path, err)
	}
}

func readFile(t testing.TB, path string, opts ReadOptions) []arrow.RecordBatch {
	t.Helper()
	r, err := OpenReader(path, opts)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return drain(t, r)
}

// TestRoundTrip writes the six-type record (edge values, nulls, unicode) in
// every format, reads it back, checks every value, writes the read batches
// again and checks the second file is byte-identical to the first.
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		ext        string
		batchSize  int
		withSchema bool
		opts       WriteOptions
	}{
		{ext: ".csv", batchSize: 64},
		{ext: ".csv", batchSize: 1000, withSchema: true},
		{ext: ".tsv", batchSize: 100},
		{ext: ".parquet", batchSize: 50, opts: WriteOptions{RowGroupRows: 100}},
		{ext: ".parquet", batchSize: 1000},
		{ext: ".ndjson", batchSize: 77},
		{ext: ".jsonl", batchSize: 1000, withSchema: true},
		{ext: ".arrow", batchSize: 10},
		{ext: ".arrows", batchSize: 10},
		{ext: ".arrow", batchSize: 10, opts: WriteOptions{Compression: CompressZstd}},
		{ext: ".arrows", batchSize: 10, opts: WriteOptions{Compression: CompressLZ4}},
	} {
		name := tc.ext[1:]
		if tc.withSchema {
			name += "-schema"
		}
		if tc.opts.Compression != "" {
			name += "-" + string(tc.opts.Compression)
		}
		t.Run(name, func(t *testing.T) {
			mem := checkedMem(t)
			want := sixRecord(t, mem, 400, 1)
			defer want.Release()
			dir := t.TempDir()
			p1 := filepath.Join(dir, "one"+tc.ext)
			// Two batches, to exercise multi-batch writes.
			a, b := want.NewSlice(0, 150), want.NewSlice(150, want.NumRows())
			tc.opts.Allocator = mem
			writeFile(t, p1, want.Schema(), tc.opts, a, b)
			a.Release()
			b.Release()

			ro := ReadOptions{BatchSize: tc.batchSize, Allocator: mem}
			if tc.withSchema {
				ro.Schema = sixSchema(t)
			}
			got := readFile(t, p1, ro)
			defer releaseAll(got)
			requireSameRecords(t, want, got)
			for _, g := range got[:len(got)-1] {
				if g.NumRows() != int64(tc.batchSize) && tc.ext != ".arrow" && tc.ext != ".arrows" {
					t.Errorf("batch of %d rows, want %d", g.NumRows(), tc.batchSize)
				}
			}

			p2 := filepath.Join(dir, "two"+tc.ext)
			writeFile(t, p2, got[0].Schema(), tc.opts, got...)
			b1, err := os.ReadFile(p1)
			if err != nil {
				t.Fatal(err)
			}
			b2, err := os.ReadFile(p2)
			if err != nil {
				t.Fatal(err)
			}
			switch tc.ext {
			case ".csv", ".tsv", ".ndjson", ".jsonl":
				if !bytes.Equal(b1, b2) {
					t.Errorf("rewritten file differs from the first (%d vs %d bytes)", len(b1), len(b2))
				}
			}
		})
	}
}

// TestRoundTripViaWriter checks NewRecordWriter on an io.Writer and the
// stream formats read from a file descriptor that is not a regular file.
func TestRoundTripViaWriter(t *testing.T) {
	for _, f := range []Format{FormatCSV, FormatNDJSON, FormatArrows, FormatArrow, FormatParquet} {
		t.Run(string(f), func(t *testing.T) {
			mem := checkedMem(t)
			want := sixRecord(t, mem, 50, 2)
			defer want.Release()
			var buf bytes.Buffer
			w, err := NewRecordWriter(&buf, want.Schema(), WriteOptions{Format: f, Allocator: mem})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(want); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if err := w.Write(want); err == nil {
				t.Fatal("Write after Close succeeded")
			}
			p := filepath.Join(t.TempDir(), "x")
			if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			got := readFile(t, p, ReadOptions{Format: f, Schema: sixSchema(t), Allocator: mem})
			defer releaseAll(got)
			requireSameRecords(t, want, got)
		})
	}
}

func TestWriterRejectsOtherSchema(t *testing.T) {
	mem := checkedMem(t)
	rec := sixRecord(t, mem, 3, 1)
	defer rec.Release()
	other := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	for _, f := range Formats {
		w, err := NewRecordWriter(&bytes.Buffer{}, other, WriteOptions{Format: f, Allocator: mem})
		if err != nil {
			t.Fatal(err)
		}
		err = w.Write(rec)
		if !errors.Is(err, ErrSchemaMismatch) {
			t.Errorf("%s: Write with another schema: %v, want ErrSchemaMismatch", f, err)
		}
		w.Close()
	}
}

func TestWriterRejectsNestedColumn(t *testing.T) {
	s := arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}, nil)
	for _, f := range []Format{FormatCSV, FormatNDJSON} {
		_, err := NewRecordWriter(&bytes.Buffer{}, s, WriteOptions{Format: f})
		if !errors.Is(err, ErrUnsupportedType) {
			t.Errorf("%s: %v, want ErrUnsupportedType", f, err)
		}
	}
}

var _ = memory.DefaultAllocator
