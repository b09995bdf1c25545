package codec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// csvTable reads CSV text and returns the column names, types and each
// cell as text ("<null>" for nulls), failing the test on error.
func csvTable(t *testing.T, text string, opts ReadOptions) (names []string, types []Type, rows [][]string) {
	t.Helper()
	rows, sc, err := readCSVText(t, text, opts)
	if err != nil {
		t.Fatalf("reading %q: %v", text, err)
	}
	for _, f := range sc.Fields() {
		names = append(names, f.Name)
		ct, err := MapArrowType(f.Type)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, ct)
	}
	return names, types, rows
}

func readCSVText(t testing.TB, text string, opts ReadOptions) ([][]string, *arrow.Schema, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return readAllText(p, opts)
}

// readAllText reads a file and returns its cells as text.
func readAllText(p string, opts ReadOptions) ([][]string, *arrow.Schema, error) {
	r, err := OpenReader(p, opts)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var rows [][]string
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return rows, r.Schema(), nil
		}
		if err != nil {
			return rows, r.Schema(), err
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			var row []string
			for _, col := range rec.Columns() {
				s, ok, err := FormatCell(col, i)
				switch {
				case err != nil:
					s = "<error " + err.Error() + ">"
				case !ok:
					s = "<null>"
				}
				row = append(row, s)
			}
			rows = append(rows, row)
		}
		rec.Release()
	}
}

func TestCSVParsing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		opts  ReadOptions
		names string
		types string
		rows  string // rows joined by ";" cells by "|"
	}{
		{name: "plain", text: "a,b\n1,x\n2,y\n", names: "a,b", types: "int64,utf8", rows: "1|x;2|y"},
		{name: "no final newline", text: "a,b\n1,x\n2,y", names: "a,b", types: "int64,utf8", rows: "1|x;2|y"},
		{name: "crlf", text: "a,b\r\n1,x\r\n2,y\r\n", names: "a,b", types: "int64,utf8", rows: "1|x;2|y"},
		{name: "bom", text: "\xEF\xBB\xBFa,b\n1,x\n", names: "a,b", types: "int64,utf8", rows: "1|x"},
		{name: "quoted delimiter", text: "a,b\n\"1,5\",\"x,y\"\n", names: "a,b", types: "utf8,utf8", rows: "1,5|x,y"},
		{name: "quoted newline", text: "a,b\n\"line1\nline2\",2\n3,4\n", names: "a,b", types: "utf8,int64", rows: "line1\nline2|2;3|4"},
		{name: "quoted crlf kept", text: "a\n\"x\r\ny\"\n", names: "a", types: "utf8", rows: "x\r\ny"},
		{name: "doubled quote", text: "a\n\"say \"\"hi\"\"\"\n", names: "a", types: "utf8", rows: "say \"hi\""},
		{name: "bare quote in unquoted field", text: "h\n5'10\"\n", names: "h", types: "utf8", rows: "5'10\""},
		{name: "empty is null, quoted empty is empty", text: "a,b\n,\"\"\nx,z\n", names: "a,b", types: "utf8,utf8", rows: "<null>|;x|z"},
		{name: "empty in int column is null", text: "a,b\n1,\n,\"\"\n3,4\n", names: "a,b", types: "int64,int64", rows: "1|<null>;<null>|<null>;3|4"},
		{name: "null markers", text: "a,b\nNA,1\nx,NULL\n\"NA\",2\n", opts: ReadOptions{NullValues: []string{"NA", "NULL", ""}},
			names: "a,b", types: "utf8,int64", rows: "<null>|1;x|<null>;NA|2"},
		{name: "no null markers", text: "a,b\n,1\n", opts: ReadOptions{NullValues: []string{}}, names: "a,b", types: "utf8,int64", rows: "|1"},
		{name: "blank lines skipped", text: "a,b\n\n1,2\n\r\n3,4\n\n", names: "a,b", types: "int64,int64", rows: "1|2;3|4"},
		{name: "one column blank line is null", text: "a\n1\n\n3\n", names: "a", types: "int64", rows: "1;<null>;3"},
		{name: "semicolon", text: "a;b\n1,5;x\n", opts: ReadOptions{Delimiter: ';'}, names: "a,b", types: "utf8,utf8", rows: "1,5|x"},
		{name: "tab", text: "a\tb\n1\tx y\n", opts: ReadOptions{Delimiter: '\t'}, names: "a,b", types: "int64,utf8", rows: "1|x y"},
		{name: "no header", text: "1,x\n2,y\n", opts: ReadOptions{NoHeader: true}, names: "column_1,column_2", types: "int64,utf8", rows: "1|x;2|y"},
		{name: "empty header name", text: ",b\n1,2\n", names: "column_1,b", types: "int64,int64", rows: "1|2"},
		{name: "header only", text: "a,b\n", names: "a,b", types: "utf8,utf8", rows: ""},
		{name: "trailing delimiter", text: "a,b,\n1,2,\n", names: "a,b,column_3", types: "int64,int64,utf8", rows: "1|2|<null>"},
		{name: "all types", text: "s,i,f,b,d,t\nx,-5,1.5,true,2024-02-29,2024-02-29T10:00:00Z\ny,7,inf,no,1900-01-01,2024-02-29 10:00:01\n",
			names: "s,i,f,b,d,t", types: "utf8,int64,float64,bool,date,datetime",
			rows: "x|-5|1.5|true|2024-02-29|2024-02-29T10:00:00Z;y|7|inf|false|1900-01-01|2024-02-29T10:00:01Z"},
		{name: "ints then floats", text: "v\n1\n2\n2.5\n", names: "v", types: "float64", rows: "1;2;2.5"},
		{name: "unicode", text: "名前,値\n日本,🚀\n", names: "名前,値", types: "utf8,utf8", rows: "日本|🚀"},
		{name: "schema by name and projection", text: "a,b,c\n1,x,2024-01-01\n",
			opts: ReadOptions{Schema: fileSpec("c:date,a:utf8")}, names: "c,a", types: "date,utf8", rows: "2024-01-01|1"},
		{name: "schema no header", text: "1,x\n", opts: ReadOptions{NoHeader: true, Schema: fileSpec("n:float64,s:utf8")},
			names: "n,s", types: "float64,utf8", rows: "1|x"},
		{name: "schema empty file", text: "", opts: ReadOptions{Schema: fileSpec("n:int64")}, names: "n", types: "int64", rows: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names, types, rows := csvTable(t, tc.text, tc.opts)
			if got := strings.Join(names, ","); got != tc.names {
				t.Errorf("names %q, want %q", got, tc.names)
			}
			var ts []string
			for _, ty := range types {
				ts = append(ts, ty.String())
			}
			if got := strings.Join(ts, ","); got != tc.types {
				t.Errorf("types %q, want %q", got, tc.types)
			}
			var rs []string
			for _, r := range rows {
				rs = append(rs, strings.Join(r, "|"))
			}
			if got := strings.Join(rs, ";"); got != tc.rows {
				t.Errorf("rows %q, want %q", got, tc.rows)
			}
		})
	}
}

func fileSpec(spec string) *Schema {
	s, err := ParseSchemaSpec(spec)
	if err != nil {
		panic(err)
	}
	return s
}

// TestCSVErrors: every malformed or unparsable input is a *FileError naming
// the line (and column for values) with the right sentinel.
func TestCSVErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		text   string
		opts   ReadOptions
		line   int
		column string
		is     error
		says   string
	}{
		{name: "ragged short", text: "a,b\n1,2\n3\n", line: 3, is: ErrMalformedFile, says: "row has 1 fields but the header has 2"},
		{name: "ragged long", text: "a,b\n1,2,3\n", line: 2, is: ErrMalformedFile, says: "3 fields"},
		{name: "ragged after sample", text: "a,b\n1,2\n1,2\n1,2,3\n", opts: ReadOptions{SampleRows: 1}, line: 4, is: ErrMalformedFile},
		{name: "unclosed quote", text: "a,b\n1,\"abc\n2,3\n", line: 2, is: ErrMalformedFile, says: "never closed"},
		{name: "text after closing quote", text: "a,b\n1,2\n\"x\"y,2\n", line: 3, is: ErrMalformedFile, says: "after the closing quote"},
		{name: "line after multiline field", text: "a,b\n\"x\ny\",1\n\"p\"q,2\n", line: 4, is: ErrMalformedFile},
		{name: "bad value after sample", text: "a,b\n1,x\n2,y\nthree,z\n", opts: ReadOptions{SampleRows: 2}, line: 4, column: "a", is: ErrInvalidValue, says: `"three" is not a valid int64`},
		{name: "bad value with schema", text: "a,b\n1,x\n2.5,y\n", opts: ReadOptions{Schema: fileSpec("a:int64,b:utf8")}, line: 3, column: "a", is: ErrInvalidValue, says: "schema"},
		{name: "bad date", text: "d\n2024-02-30\n", opts: ReadOptions{Schema: fileSpec("d:date")}, line: 2, column: "d", is: ErrInvalidValue},
		{name: "duplicate header", text: "a,b,a\n1,2,3\n", line: 1, is: ErrMalformedFile, says: `"a" twice`},
		{name: "schema field missing", text: "a,b\n1,2\n", opts: ReadOptions{Schema: fileSpec("c:int64")}, line: 1, is: ErrUnknownField, says: `"c"`},
		{name: "schema width no header", text: "1,2,3\n", opts: ReadOptions{NoHeader: true, Schema: fileSpec("a:int64,b:int64")}, line: 1, is: ErrSchemaMismatch},
		{name: "empty file", text: "", is: ErrMalformedFile, says: "empty"},
		{name: "quote delimiter", text: "a\n1\n", opts: ReadOptions{Delimiter: '"'}, is: ErrInvalidOptions},
		{name: "negative batch", text: "a\n1\n", opts: ReadOptions{BatchSize: -1}, is: ErrInvalidOptions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readCSVText(t, tc.text, tc.opts)
			if err == nil {
				t.Fatal("no error")
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *FileError", err, err)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			if fe.Line != tc.line {
				t.Errorf("line %d, want %d (%v)", fe.Line, tc.line, err)
			}
			if fe.Column != tc.column {
				t.Errorf("column %q, want %q (%v)", fe.Column, tc.column, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "in.csv") {
				t.Errorf("message %q does not name the file", msg)
			}
			if tc.line > 0 && !strings.Contains(msg, fmt.Sprintf("line %d", tc.line)) {
				t.Errorf("message %q does not name line %d", msg, tc.line)
			}
			if tc.says != "" && !strings.Contains(msg, tc.says) {
				t.Errorf("message %q does not say %q", msg, tc.says)
			}
		})
	}
}

// TestCSVInferenceSamplesManyRows: a column whose first rows look like
// integers but whose later (sampled) rows are words is utf8, not int64 —
// inference is not from the first row only.
func TestCSVInferenceSamplesManyRows(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,code,maybe\n")
	for i := 0; i < 5000; i++ {
		code := fmt.Sprint(i)
		if i == 4000 {
			code = "X42"
		}
		maybe := ""
		if i == 4500 {
			maybe = "2.5"
		}
		fmt.Fprintf(&b, "%d,%s,%s\n", i, code, maybe)
	}
	_, types, rows := csvTable(t, b.String(), ReadOptions{BatchSize: 1000})
	if got := fmt.Sprint(types); got != "[int64 utf8 float64]" {
		t.Fatalf("types %s, want [int64 utf8 float64]", got)
	}
	if len(rows) != 5000 || rows[4000][1] != "X42" || rows[4500][2] != "2.5" || rows[0][2] != "<null>" {
		t.Fatalf("rows wrong: %d rows, %v %v %v", len(rows), rows[4000], rows[4500], rows[0])
	}
}

// TestCSVMemoryBounded: reading a file many times the batch size returns
// batches of BatchSize rows and frees each one (checked allocator).
func TestCSVMemoryBounded(t *testing.T) {
	mem := checkedMem(t)
	var b strings.Builder
	b.WriteString("a,b\n")
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&b, "%d,row %d\n", i, i)
	}
	p := filepath.Join(t.TempDir(), "big.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReader(p, ReadOptions{BatchSize: 1000, SampleRows: 100, Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var peak int
	total := 0
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.NumRows() != 1000 {
			t.Fatalf("batch of %d rows, want 1000", rec.NumRows())
		}
		total += int(rec.NumRows())
		peak = max(peak, mem.CurrentAlloc())
		rec.Release()
	}
	if total != 20000 {
		t.Fatalf("%d rows, want 20000", total)
	}
	// One batch of 1000 short rows is a few tens of KiB; the file is ~250 KiB.
	if peak > 200<<10 {
		t.Errorf("peak Arrow memory %d bytes; reading should hold about one batch", peak)
	}
}

// TestCSVStdin reads "-" from stdin.
func TestCSVStdin(t *testing.T) {
	p := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(p, []byte("a,b\n1,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	rows, _, err := readAllText("-", ReadOptions{Format: FormatCSV})
	if err != nil || len(rows) != 1 || strings.Join(rows[0], "|") != "1|x" {
		t.Fatalf("rows %v, err %v", rows, err)
	}
	if _, _, err := readAllText("-", ReadOptions{}); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("stdin without a format: %v, want ErrUnknownFormat", err)
	}
	if _, _, err := readAllText("-", ReadOptions{Format: FormatParquet}); !errors.Is(err, ErrNotSeekable) {
		t.Errorf("parquet from stdin: %v, want ErrNotSeekable", err)
	}
}

// FuzzCSVReader: arbitrary input never panics or leaks; every error is a
// *FileError, and errors about rows or values name a line within the input.
func FuzzCSVReader(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n", "a,b\r\n1,\"x,y\"\r\n", "a\n\"unterminated\n", "a,b\n1\n", "\xEF\xBB\xBFa\n1\n",
		"a,b\n\"x\"\"y\",2\n", "a\n\n\n", "x;y\n1;2\n", "a,b\n\"p\"q,1\n", "d,t\n2024-01-01,2024-01-01T00:00:00Z\n",
		"", "\"", "\n\n", "a,a\n1,1\n", "a\n1\nx\n", "a,b\n\"multi\nline\",1\n\"z\n",
	} {
		f.Add([]byte(s), false, uint8(','))
	}
	f.Add([]byte("1,2\n3,4\n"), true, uint8(','))
	f.Add([]byte("1\t2\n"), true, uint8('\t'))
	f.Fuzz(func(t *testing.T, data []byte, noHeader bool, delim uint8) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		p := filepath.Join(t.TempDir(), "f.csv")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		lines := strings.Count(string(data), "\n") + 1
		r, err := OpenReader(p, ReadOptions{NoHeader: noHeader, Delimiter: rune(delim), BatchSize: 3, SampleRows: 4, Allocator: mem})
		if err == nil {
			for {
				var rec arrow.RecordBatch
				rec, err = r.Next()
				if err != nil {
					break
				}
				rec.Release()
			}
			r.Close()
			if errors.Is(err, io.EOF) {
				err = nil
			}
		}
		mem.AssertSize(t, 0)
		if err == nil {
			return
		}
		var fe *FileError
		if !errors.As(err, &fe) {
			t.Fatalf("error %v (%T) is not a *FileError", err, err)
		}
		if fe.Line < 0 || fe.Line > lines {
			t.Fatalf("error names line %d of a %d-line input: %v", fe.Line, lines, err)
		}
		if (errors.Is(err, ErrInvalidValue) || errors.Is(err, ErrMalformedFile)) && fe.Line == 0 && !strings.Contains(err.Error(), "empty") {
			t.Fatalf("error about the content names no line: %v", err)
		}
	})
}
