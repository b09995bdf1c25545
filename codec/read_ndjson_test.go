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

func readNDJSONText(t testing.TB, text string, opts ReadOptions) ([][]string, *arrow.Schema, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.ndjson")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return readAllText(p, opts)
}

func schemaTypes(t testing.TB, sc *arrow.Schema) string {
	t.Helper()
	var parts []string
	for _, f := range sc.Fields() {
		ct, err := MapArrowType(f.Type)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, f.Name+":"+ct.String())
	}
	return strings.Join(parts, ",")
}

func TestNDJSONParsing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		text   string
		opts   ReadOptions
		schema string
		rows   string
	}{
		{name: "kinds", text: `{"s":"x","i":1,"f":1.5,"b":true,"d":"2024-01-02","t":"2024-01-02T03:04:05Z"}` + "\n" +
			`{"s":"y","i":-2,"f":2,"b":false,"d":"1900-12-31","t":"2024-01-02 03:04:06"}`,
			schema: "s:utf8,i:int64,f:float64,b:bool,d:date,t:datetime",
			rows:   "x|1|1.5|true|2024-01-02|2024-01-02T03:04:05Z;y|-2|2|false|1900-12-31|2024-01-02T03:04:06Z"},
		{name: "key order of first appearance, missing keys null", text: "{\"b\":1}\n{\"a\":\"x\",\"b\":2}\n{\"c\":null}\n",
			schema: "b:int64,a:utf8,c:utf8", rows: "1|<null>|<null>;2|x|<null>;<null>|<null>|<null>"},
		{name: "numeric strings stay strings", text: `{"zip":"00123"}` + "\n" + `{"zip":"42"}`, schema: "zip:utf8", rows: "00123;42"},
		{name: "integer strings are not datetimes", text: `{"v":"1700000000"}`, schema: "v:utf8", rows: "1700000000"},
		{name: "non-finite floats", text: `{"f":1}` + "\n" + `{"f":"nan"}` + "\n" + `{"f":"-inf"}`, schema: "f:float64", rows: "1;nan;-inf"},
		{name: "mixed kinds are utf8", text: `{"v":1}` + "\n" + `{"v":"a"}` + "\n" + `{"v":true}`, schema: "v:utf8", rows: "1;a;true"},
		{name: "nested as compact json", text: `{"o":{"a": [1, 2]},"n":1}`, schema: "o:utf8,n:int64", rows: `{"a":[1,2]}|1`},
		{name: "escapes and unicode", text: `{"s":"a\"b\\c\n\u00e9\ud83d\ude80","k\u00e9y":1}`, schema: "s:utf8,kéy:int64", rows: "a\"b\\c\né🚀|1"},
		{name: "big ints exact", text: `{"i":9223372036854775807}` + "\n" + `{"i":-9223372036854775808}`, schema: "i:int64", rows: "9223372036854775807;-9223372036854775808"},
		{name: "int overflow is float", text: `{"i":9223372036854775808}`, schema: "i:float64", rows: "9223372036854776000"},
		{name: "blank lines, crlf, bom, spaces", text: "\xEF\xBB\xBF{\"a\":1}\r\n\r\n  \n { \"a\" : 2 } \r\n", schema: "a:int64", rows: "1;2"},
		{name: "empty string in int column is null", text: `{"a":1}` + "\n" + `{"a":""}`, schema: "a:int64", rows: "1;<null>"},
		{name: "schema parses text by codec rules", text: `{"n":"42","b":1,"t":1700000000,"x":"ignored"}`,
			opts: ReadOptions{Schema: fileSpec("n:int64,b:bool,t:datetime")}, schema: "n:int64,b:bool,t:datetime", rows: "42|true|2023-11-14T22:13:20Z"},
		{name: "schema on empty file", text: "", opts: ReadOptions{Schema: fileSpec("a:int64")}, schema: "a:int64", rows: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, sc, err := readNDJSONText(t, tc.text, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := schemaTypes(t, sc); got != tc.schema {
				t.Errorf("schema %s, want %s", got, tc.schema)
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

func TestNDJSONErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		text   string
		opts   ReadOptions
		line   int
		column string
		is     error
		says   string
	}{
		{name: "not json", text: "{\"a\":1}\n{\"a\":\n", line: 2, is: ErrMalformedFile, says: "not valid JSON"},
		{name: "array line", text: "[1,2]\n", line: 1, is: ErrMalformedFile, says: "jq"},
		{name: "scalar line", text: "{\"a\":1}\n\n3\n", line: 3, is: ErrMalformedFile, says: "JSON object"},
		{name: "bad value after sample", text: "{\"a\":1}\n{\"a\":2}\n{\"a\":\"x\"}\n", opts: ReadOptions{SampleRows: 2}, line: 3, column: "a", is: ErrInvalidValue, says: "int64"},
		{name: "new key after sample", text: "{\"a\":1}\n{\"a\":2,\"b\":3}\n", opts: ReadOptions{SampleRows: 1}, line: 2, column: "b", is: ErrUnknownField},
		{name: "bad value with schema", text: "{\"a\":1.5}\n", opts: ReadOptions{Schema: fileSpec("a:int64")}, line: 1, column: "a", is: ErrInvalidValue},
		{name: "empty file", text: "\n\n", is: ErrMalformedFile, says: "no JSON lines"},
		{name: "only empty objects", text: "{}\n{}\n", is: ErrMalformedFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readNDJSONText(t, tc.text, tc.opts)
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *FileError", err, err)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			if fe.Line != tc.line || fe.Column != tc.column {
				t.Errorf("line %d column %q, want line %d column %q (%v)", fe.Line, fe.Column, tc.line, tc.column, err)
			}
			if tc.line > 0 && !strings.Contains(err.Error(), fmt.Sprintf("in.ndjson line %d", tc.line)) {
				t.Errorf("message %q does not name the file and line", err)
			}
			if tc.says != "" && !strings.Contains(err.Error(), tc.says) {
				t.Errorf("message %q does not say %q", err, tc.says)
			}
		})
	}
}

// FuzzNDJSONReader: arbitrary input never panics or leaks, and errors are
// *FileErrors naming a line within the input.
func FuzzNDJSONReader(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":"x"}` + "\n" + `{"a":2.5,"c":[1,{"d":"}"}]}`,
		`{"k\"ey":"v\u00e9","n":null}`, "[1]", "{}", "{\"a\":\n", `{"a":"2024-01-01"}` + "\n" + `{"a":"nan"}`,
		"\xEF\xBB\xBF{\"a\":true}\r\n", `{"a":1e400}`, `{"a":"\ud800"}`, `{"":1}`, `{"a":1,"a":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		p := filepath.Join(t.TempDir(), "f.ndjson")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		lines := strings.Count(string(data), "\n") + 1
		r, err := OpenReader(p, ReadOptions{BatchSize: 2, SampleRows: 3, Allocator: mem})
		if err == nil {
			for {
				var rec arrow.RecordBatch
				if rec, err = r.Next(); err != nil {
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
	})
}
