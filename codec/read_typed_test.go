package codec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// TestParquetRowGroups cuts a file into row groups, reads each group on
// its own and checks the groups together hold every row exactly once, in
// order.
func TestParquetRowGroups(t *testing.T) {
	mem := checkedMem(t)
	want := sixRecord(t, mem, 1000, 4)
	defer want.Release()
	p := filepath.Join(t.TempDir(), "rg.parquet")
	writeFile(t, p, want.Schema(), WriteOptions{RowGroupRows: 300, Allocator: mem}, want)

	n, err := ParquetRowGroups(p)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("%d row groups, want 4 (1000 rows in groups of 300)", n)
	}
	var all []arrow.RecordBatch
	defer func() { releaseAll(all) }()
	for g := 0; g < n; g++ {
		r, err := OpenParquetRowGroups(p, []int{g}, ReadOptions{BatchSize: 128, Allocator: mem})
		if err != nil {
			t.Fatal(err)
		}
		recs := drain(t, r)
		var rows int64
		for _, rec := range recs {
			rows += rec.NumRows()
			if rec.NumRows() > 128 {
				t.Errorf("group %d: batch of %d rows, over the batch size 128", g, rec.NumRows())
			}
		}
		if wantRows := min(int64(300), 1000-int64(g)*300); rows != wantRows {
			t.Errorf("group %d has %d rows, want %d", g, rows, wantRows)
		}
		all = append(all, recs...)
	}
	requireSameRecords(t, want, all)

	// Several groups in one reader, in the order given.
	r, err := OpenParquetRowGroups(p, []int{2, 3}, ReadOptions{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	tail := drain(t, r)
	defer releaseAll(tail)
	rest := want.NewSlice(600, 1000)
	defer rest.Release()
	requireSameRecords(t, rest, tail)
}

func TestParquetRowGroupErrors(t *testing.T) {
	mem := checkedMem(t)
	rec := sixRecord(t, mem, 10, 4)
	defer rec.Release()
	dir := t.TempDir()
	p := filepath.Join(dir, "x.parquet")
	writeFile(t, p, rec.Schema(), WriteOptions{Allocator: mem}, rec)

	_, err := OpenParquetRowGroups(p, []int{0, 5}, ReadOptions{Allocator: mem})
	var fe *FileError
	if !errors.As(err, &fe) || fe.RowGroup != 5 || !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "row group 5") {
		t.Errorf("missing row group: %v", err)
	}
	if _, err := OpenParquetRowGroups(p, nil, ReadOptions{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("no groups: %v, want ErrInvalidOptions", err)
	}

	// A truncated file and a text file are malformed, and say which file.
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.parquet")
	for _, content := range [][]byte{b[:len(b)/2], []byte("a,b\n1,2\n")} {
		if err := os.WriteFile(bad, content, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ParquetRowGroups(bad); !errors.Is(err, ErrMalformedFile) || !strings.Contains(err.Error(), "bad.parquet") {
			t.Errorf("ParquetRowGroups on a damaged file: %v", err)
		}
		if _, err := OpenReader(bad, ReadOptions{}); !errors.Is(err, ErrMalformedFile) {
			t.Errorf("OpenReader on a damaged file: %v", err)
		}
	}
	if _, err := ParquetRowGroups(filepath.Join(dir, "missing.parquet")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want os.ErrNotExist", err)
	}
}

// TestTypedProjection: with a schema, Parquet and IPC readers return only
// its fields in its order; a field the file lacks, or a stored type that
// maps to another codec type, is an error naming the column.
func TestTypedProjection(t *testing.T) {
	mem := checkedMem(t)
	rec := sixRecord(t, mem, 40, 5)
	defer rec.Release()
	dir := t.TempDir()
	for _, ext := range []string{".parquet", ".arrow", ".arrows"} {
		t.Run(ext[1:], func(t *testing.T) {
			p := filepath.Join(dir, "proj"+ext)
			writeFile(t, p, rec.Schema(), WriteOptions{Allocator: mem}, rec)

			got := readFile(t, p, ReadOptions{Schema: fileSpec("at:datetime,name:utf8"), Allocator: mem})
			defer releaseAll(got)
			cols := []arrow.Array{rec.Column(5), rec.Column(0)}
			s := arrow.NewSchema([]arrow.Field{rec.Schema().Field(5), rec.Schema().Field(0)}, nil)
			want := array.NewRecordBatch(s, cols, rec.NumRows())
			defer want.Release()
			requireSameRecords(t, want, got)

			_, err := OpenReader(p, ReadOptions{Schema: fileSpec("nope:int64")})
			if !errors.Is(err, ErrUnknownField) || !strings.Contains(err.Error(), `"nope"`) {
				t.Errorf("missing field: %v", err)
			}
			_, err = OpenReader(p, ReadOptions{Schema: fileSpec("count:utf8")})
			if !errors.Is(err, ErrSchemaMismatch) || !strings.Contains(err.Error(), `"count"`) {
				t.Errorf("type mismatch: %v", err)
			}
		})
	}
}

// TestIPCWrongVariant: an IPC stream read as an IPC file (and vice versa)
// is a clear error, not a panic.
func TestIPCWrongVariant(t *testing.T) {
	mem := checkedMem(t)
	rec := sixRecord(t, mem, 5, 5)
	defer rec.Release()
	dir := t.TempDir()
	stream := filepath.Join(dir, "s.arrows")
	writeFile(t, stream, rec.Schema(), WriteOptions{Allocator: mem}, rec)
	if _, err := OpenReader(stream, ReadOptions{Format: FormatArrow}); !errors.Is(err, ErrMalformedFile) || !strings.Contains(err.Error(), "arrows") {
		t.Errorf("stream as file: %v", err)
	}
	file := filepath.Join(dir, "f.arrow")
	writeFile(t, file, rec.Schema(), WriteOptions{Allocator: mem}, rec)
	// An IPC file starts with a magic string and then holds a stream, so a
	// stream reader can read it; it must return the same rows.
	got := readFile(t, file, ReadOptions{Format: FormatArrows, Allocator: mem})
	defer releaseAll(got)
	requireSameRecords(t, rec, got)
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Format
	}{
		{"csv", FormatCSV}, {"TSV", FormatCSV}, {" parquet ", FormatParquet}, {"pq", FormatParquet},
		{"jsonl", FormatNDJSON}, {"ndjson", FormatNDJSON}, {"json", FormatNDJSON},
		{"arrow", FormatArrow}, {"feather", FormatArrow}, {"ipc", FormatArrow},
		{"arrows", FormatArrows}, {"arrow-stream", FormatArrows},
	} {
		if got, err := ParseFormat(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := ParseFormat("xlsx"); !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), "csv, parquet") {
		t.Errorf("ParseFormat(xlsx): %v", err)
	}
	for _, tc := range []struct {
		path string
		want Format
	}{
		{"a.csv", FormatCSV}, {"dir.v2/a.TSV", FormatCSV}, {"a.parquet", FormatParquet}, {"a.pq", FormatParquet},
		{"a.ndjson", FormatNDJSON}, {"a.jsonl", FormatNDJSON}, {"a.json", FormatNDJSON},
		{"a.arrow", FormatArrow}, {"a.feather", FormatArrow}, {"a.ipc", FormatArrow}, {"a.arrows", FormatArrows},
		{"a.csv.gz", FormatCSV}, {"a.TSV.zst", FormatCSV}, {"a.ndjson.gz", FormatNDJSON}, {"a.jsonl.zstd", FormatNDJSON},
	} {
		if got, err := FormatFromPath(tc.path); err != nil || got != tc.want {
			t.Errorf("FormatFromPath(%q) = %q, %v; want %q", tc.path, got, err, tc.want)
		}
	}
	if _, err := FormatFromPath("a.parquet.gz"); !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), "decompress it first") {
		t.Errorf("FormatFromPath(a.parquet.gz): %v", err)
	}
	for _, p := range []string{"a.xlsx", "noext", "-", "a.txt.zst"} {
		_, err := FormatFromPath(p)
		if !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), "give the format") {
			t.Errorf("FormatFromPath(%q): %v", p, err)
		}
	}
	if !FormatCSV.Streamable() || FormatParquet.Streamable() || FormatArrow.Streamable() || !FormatArrows.Streamable() || !FormatNDJSON.Streamable() {
		t.Error("Streamable is wrong")
	}
}

func TestFileErrorMessage(t *testing.T) {
	inner := errors.New("boom")
	for _, tc := range []struct {
		e    *FileError
		want string
	}{
		{&FileError{Path: "a.csv", Line: 3, RowGroup: -1, Column: "x", Err: inner}, `a.csv line 3 column "x": boom`},
		{&FileError{Path: "a.parquet", RowGroup: 0, Err: inner}, `a.parquet row group 0: boom`},
		{&FileError{Path: "-", RowGroup: -1, Err: inner}, `stdin/stdout (-): boom`},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
		if !errors.Is(tc.e, inner) {
			t.Error("FileError does not unwrap")
		}
	}
}

// TestWriteStdout: "-" writes to stdout.
func TestWriteStdout(t *testing.T) {
	mem := checkedMem(t)
	rec := sixRecord(t, mem, 3, 1)
	defer rec.Release()
	p := filepath.Join(t.TempDir(), "out.csv")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = f
	w, err := CreateRecordWriter("-", rec.Schema(), WriteOptions{Format: FormatCSV, Allocator: mem})
	if err == nil {
		err = w.Write(rec)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	os.Stdout = old
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := readFile(t, p, ReadOptions{Schema: sixSchema(t), Allocator: mem})
	defer releaseAll(got)
	requireSameRecords(t, rec, got)
	if _, err := CreateRecordWriter("-", rec.Schema(), WriteOptions{}); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("stdout without format: %v", err)
	}
}

// TestWriteOtherArrowTypes: columns of Arrow types other than the six are
// written to CSV and NDJSON in the codec text form (FormatCell) and read
// back as the codec types they map to, value for value.
func TestWriteOtherArrowTypes(t *testing.T) {
	mem := checkedMem(t)
	s := arrow.NewSchema([]arrow.Field{
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "ns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "Europe/Berlin"}, Nullable: true},
		{Name: "dict", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, s)
	defer b.Release()
	b.Field(0).(*array.Int32Builder).AppendValues([]int32{-5, 0, 2147483647}, []bool{true, false, true})
	b.Field(1).(*array.Uint64Builder).AppendValues([]uint64{0, 9223372036854775807, 7}, nil)
	b.Field(2).(*array.Float32Builder).AppendValues([]float32{0.1, -2.5, 3}, []bool{true, true, false})
	b.Field(3).(*array.LargeStringBuilder).AppendValues([]string{"a,b", "", "ü"}, []bool{true, true, true})
	b.Field(4).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1_700_000_000_123_456_789, -1_000, 0}, []bool{true, true, false})
	db := b.Field(5).(*array.BinaryDictionaryBuilder)
	for _, v := range []string{"x", "y", "x"} {
		if err := db.AppendString(v); err != nil {
			t.Fatal(err)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	dir := t.TempDir()
	for _, ext := range []string{".csv", ".ndjson"} {
		p := filepath.Join(dir, "other"+ext)
		writeFile(t, p, s, WriteOptions{Allocator: mem}, rec)
		spec := "i32:int64,u64:int64,f32:float64,ls:utf8,ns:datetime,dict:utf8"
		rows, sc, err := readAllText(p, ReadOptions{Schema: fileSpec(spec), Allocator: mem})
		if err != nil {
			t.Fatalf("%s: %v", ext, err)
		}
		if got := schemaTypes(t, sc); got != spec {
			t.Errorf("%s: schema %s", ext, got)
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			for c := 0; c < int(rec.NumCols()); c++ {
				want, ok, err := FormatCell(rec.Column(c), r)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					want = "<null>"
				}
				if rows[r][c] != want {
					t.Errorf("%s row %d column %s: got %q, want %q", ext, r, s.Field(c).Name, rows[r][c], want)
				}
			}
		}
	}
}
