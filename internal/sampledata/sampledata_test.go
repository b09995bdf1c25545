package sampledata

import (
	"errors"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/redstage/redstage/codec"
)

// readAll reads a generated file back with redstage's own readers and returns
// its rows and the string cells of one column (nulls as "<null>").
func readAll(t *testing.T, path, column string) (int, []string) {
	t.Helper()
	format, err := codec.FormatFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := codec.OpenReader(path, codec.ReadOptions{Format: format, Schema: nil})
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	defer r.Close()
	idx := r.Schema().FieldIndices(column)
	if len(idx) != 1 {
		t.Fatalf("%s: no column %q in %s", path, column, r.Schema())
	}
	rows := 0
	var cells []string
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		col := rec.Column(idx[0])
		for i := 0; i < int(rec.NumRows()); i++ {
			if col.IsNull(i) {
				cells = append(cells, "<null>")
				continue
			}
			if s, ok := col.(*array.String); ok {
				cells = append(cells, s.Value(i))
			} else {
				cells = append(cells, col.ValueStr(i))
			}
		}
		rows += int(rec.NumRows())
		rec.Release()
	}
	return rows, cells
}

func TestGenerateWritesReadableFiles(t *testing.T) {
	cfg := DefaultConfig(t.TempDir())
	cfg.Customers, cfg.Orders, cfg.Products, cfg.Users, cfg.Events = 50, 80, 20, 400, 90
	files, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 5 {
		t.Fatalf("got %d files, want 5", len(files))
	}
	for _, f := range files {
		col := f.KeyColumn
		if col == "" {
			col = "email"
		}
		rows, cells := readAll(t, f.Path, col)
		if rows != f.Rows {
			t.Errorf("%s: read %d rows, generated %d", f.Path, rows, f.Rows)
		}
		seen := map[string]int{}
		for _, c := range cells {
			seen[c]++
		}
		if f.KeyColumn != "" && len(seen) != rows {
			t.Errorf("%s: key column %s has %d distinct values in %d rows", f.Path, col, len(seen), rows)
		}
		if f.Name == "users" {
			dups := 0
			for v, n := range seen {
				if v != "<null>" && n > 1 {
					dups++
				}
			}
			if seen["<null>"] == 0 || dups == 0 {
				t.Errorf("users file is not messy enough: %d null emails, %d duplicated emails", seen["<null>"], dups)
			}
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := DefaultConfig(t.TempDir()), DefaultConfig(t.TempDir())
	for _, c := range []*Config{&a, &b} {
		c.Customers, c.Orders, c.Products, c.Users, c.Events = 5, 5, 5, 30, 5
	}
	fa, err := Generate(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := Generate(b)
	if err != nil {
		t.Fatal(err)
	}
	_, ea := readAll(t, fa[3].Path, "email")
	_, eb := readAll(t, fb[3].Path, "email")
	if len(ea) != len(eb) {
		t.Fatalf("different lengths %d and %d", len(ea), len(eb))
	}
	for i := range ea {
		if ea[i] != eb[i] {
			t.Fatalf("row %d differs: %q vs %q", i, ea[i], eb[i])
		}
	}
}

func TestValidate(t *testing.T) {
	cfg := DefaultConfig("")
	if err := cfg.Validate(); err == nil {
		t.Error("empty dir accepted")
	}
	cfg = DefaultConfig(t.TempDir())
	cfg.Events = 0
	if err := cfg.Validate(); err == nil {
		t.Error("zero events accepted")
	}
}
