package codec

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Regression (issue 8, item 1): with Text, CSV values are kept exactly as
// the file has them, while InferredSchema still reports the types.
func TestCSVTextKeepsValues(t *testing.T) {
	text := "id,phone,zip,flag,n,amount,day\n" +
		"1,0049123,01234,yes,1e3,1.50,2024-01-01\n" +
		"2,+4912345,02345,no,2E3,-0.0,2024-01-02\n" +
		"3,,\"\",y,,7,\n"
	rows, sc, err := readCSVText(t, text, ReadOptions{Text: true})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"1", "0049123", "01234", "yes", "1e3", "1.50", "2024-01-01"},
		{"2", "+4912345", "02345", "no", "2E3", "-0.0", "2024-01-02"},
		{"3", "<null>", "", "y", "<null>", "7", "<null>"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows:\n got %q\nwant %q", rows, want)
	}
	if got := schemaTypes(t, sc); got != "id:utf8,phone:utf8,zip:utf8,flag:utf8,n:utf8,amount:utf8,day:utf8" {
		t.Errorf("Text columns: %s", got)
	}
	p := filepath.Join(t.TempDir(), "x.csv")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReader(p, ReadOptions{Text: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := InferredSchema(r).String(); got != "id:int64,phone:utf8,zip:utf8,flag:bool,n:float64,amount:float64,day:date" {
		t.Errorf("InferredSchema: %s", got)
	}
}

// Regression (issue 8, item 1): NDJSON numbers keep their literal text.
func TestNDJSONTextKeepsLiterals(t *testing.T) {
	text := `{"id":1,"n":1e3,"f":1.50,"s":"007","b":true,"o":{"a": [1, 2]},"z":null}` + "\n" +
		`{"id":2,"n":-0,"f":2,"s":"x\"y","b":false,"o":[],"z":""}` + "\n"
	rows, sc, err := readNDJSONText(t, text, ReadOptions{Text: true})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"1", "1e3", "1.50", "007", "true", `{"a":[1,2]}`, "<null>"},
		{"2", "-0", "2", `x"y`, "false", "[]", ""},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows:\n got %q\nwant %q", rows, want)
	}
	if got := schemaTypes(t, sc); strings.Count(got, ":utf8") != 7 {
		t.Errorf("Text columns: %s", got)
	}
}

// Regression (issue 8, item 4): .tsv files and "tsv" are tab-separated.
func TestTSVByExtensionAndName(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "t.tsv")
	if err := os.WriteFile(p, []byte("id\tname\tamount\n1\ta,b\t2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rows, sc, err := readAllText(p, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sc.NumFields() != 3 || !reflect.DeepEqual(rows, [][]string{{"1", "a,b", "2"}}) {
		t.Errorf("tsv read: %v %q", sc, rows)
	}
	if FormatDelimiter("tsv") != '\t' || FormatDelimiter("TAB") != '\t' || FormatDelimiter("csv") != 0 {
		t.Error("FormatDelimiter")
	}
	if !IsTSV("a.tsv.gz") || IsTSV("a.csv") {
		t.Error("IsTSV")
	}
}

// Regression (issue 8, item 14): gzip and zstd compressed CSV and NDJSON
// are read (by content, so stdin works too).
func TestCompressedInput(t *testing.T) {
	dir := t.TempDir()
	csvText := "id,v\n1,007\n2,x\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(csvText))
	zw.Close()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	zst := enc.EncodeAll([]byte(`{"id":1,"v":"007"}`+"\n"+`{"id":2,"v":"x"}`+"\n"), nil)
	enc.Close()
	for name, data := range map[string][]byte{"c.csv.gz": gz.Bytes(), "n.ndjson.zst": zst} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rows, _, err := readAllText(p, ReadOptions{Text: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(rows, [][]string{{"1", "007"}, {"2", "x"}}) {
			t.Errorf("%s: %q", name, rows)
		}
	}
	// a truncated gzip file is a malformed file, not a silent short read
	p := filepath.Join(dir, "bad.csv.gz")
	if err := os.WriteFile(p, gz.Bytes()[:gz.Len()-6], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readAllText(p, ReadOptions{}); !errors.Is(err, ErrMalformedFile) {
		t.Errorf("truncated gzip: %v", err)
	}
}

// Regression (issue 8, item 14): a pretty-printed JSON array says what is
// wanted instead of "unexpected end of JSON input".
func TestNDJSONArrayHint(t *testing.T) {
	_, _, err := readNDJSONText(t, "[\n  {\"a\": 1},\n  {\"a\": 2}\n]\n", ReadOptions{})
	if !errors.Is(err, ErrMalformedFile) || !strings.Contains(err.Error(), "one whole JSON object") || !strings.Contains(err.Error(), "jq -c '.[]'") {
		t.Errorf("array file: %v", err)
	}
}
