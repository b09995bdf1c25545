package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/redstage/redstage/internal/redistest"
)

// nonUTF8Hashes are hashes whose key, one field name and one utf8 value
// are not valid UTF-8 ("caf\xe9" is Latin-1 café).
var nonUTF8Hashes = map[string][]string{
	"bin:\xff\xfe": {"name", "raw key", "caf\xe9", "latte", "blob", "x\xfey", "n", "1"},
	`bin:a\b`:      {"name", "backslash", "caf\xe9", "mocha", "blob", "fine", "n", "2"},
	"bin:plain":    {"name", "plain", "caf\xe9", "tea", "blob", "z", "n", "3"},
}

// nonUTF8Want is what each output row must hold, by the row's name field:
// the _key under --key-encoding text and escape, and the value of the
// column of the field "caf\xe9" (named `caf\xe9` in the file).
var nonUTF8Want = map[string]struct{ text, escape, cafe, blob string }{
	"raw key":   {`bin:\xff\xfe`, `bin:\xff\xfe`, "latte", ""}, // blob: not UTF-8, null and counted
	"backslash": {`bin:a\b`, `bin:a\\b`, "mocha", "fine"},
	"plain":     {"bin:plain", "bin:plain", "tea", "z"},
}

// TestNonUTF8KeysNamesValues is issue 7.6: keys, field names and values
// that are not UTF-8, in a real Redis, are inferred (infer -o), scanned with
// that schema file to Parquet, Arrow, CSV and NDJSON in both key encodings,
// and every file is read by Polars and PyArrow: keys escaped as documented,
// the invalid-named field's values all there, the invalid value null and
// counted.
func TestNonUTF8KeysNamesValues(t *testing.T) {
	py := requirePythonReaders(t)
	srv := redistest.StartServer(t)
	ctx := context.Background()
	for k, fv := range nonUTF8Hashes {
		args := make([]any, len(fv))
		for i, s := range fv {
			args[i] = s
		}
		if err := srv.Client().HSet(ctx, k, args...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	env := childEnv("REDSTAGE_REDIS_URL=" + srv.URL())
	schema := filepath.Join(dir, "bin.schema.json")
	mustRedstage(t, env, 2*time.Minute, "infer", "bin:*", "-o", schema)
	b, err := os.ReadFile(schema)
	if err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(b) || !strings.Contains(string(b), `"name": "caf\\xe9"`) || !strings.Contains(string(b), `"name_escaped": true`) {
		t.Fatalf("infer -o wrote:\n%s", b)
	}
	var files []string
	for _, enc := range []string{"text", "escape"} {
		for _, ext := range []string{"parquet", "arrow", "csv", "ndjson"} {
			out := filepath.Join(dir, enc+"."+ext)
			r := mustRedstage(t, env, 2*time.Minute, "scan", "bin:*", "--schema", "@"+schema, "--key-encoding", enc, "--json", "-o", out)
			s := r.summary(t)
			nulls, _ := s["nulls"].(map[string]any)
			if num(t, s, "rows") != 3 || num(t, s, "non_utf8_keys") != 1 || len(nulls) != 1 || nulls["blob"] != float64(1) {
				t.Errorf("scan %s: summary rows %v, non_utf8_keys %v, nulls %v; want 3, 1, {blob: 1}", out, s["rows"], s["non_utf8_keys"], nulls)
			}
			files = append(files, out)
		}
	}
	checkNonUTF8Files(t, py, files)
}

// checkNonUTF8Files has Polars and PyArrow read every file and compares
// every row with nonUTF8Want.
func checkNonUTF8Files(t *testing.T, py string, files []string) {
	t.Helper()
	cmd := exec.Command(py, append([]string{filepath.Join("testdata", "nonutf8.py")}, files...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("a real reader refused a file (%v):\n%s", err, out)
	}
	seen := 0
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var got struct {
			File, Reader string
			Rows         []map[string]any
		}
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("reader output %q: %v", sc.Text(), err)
		}
		seen++
		if len(got.Rows) != len(nonUTF8Want) {
			t.Errorf("%s by %s: %d rows, want %d", got.File, got.Reader, len(got.Rows), len(nonUTF8Want))
		}
		for _, row := range got.Rows {
			checkNonUTF8Row(t, got.File, got.Reader, row)
		}
	}
	if want := 2 * len(files); seen != want {
		t.Errorf("%d file reads reported, want %d:\n%s", seen, want, out)
	}
}

func checkNonUTF8Row(t *testing.T, file, reader string, row map[string]any) {
	t.Helper()
	name, _ := row["name"].(string)
	want, ok := nonUTF8Want[name]
	if !ok {
		t.Errorf("%s by %s: unexpected row %v", file, reader, row)
		return
	}
	key := want.text
	if strings.HasPrefix(file, "escape.") {
		key = want.escape
	}
	var blob any
	if want.blob != "" {
		blob = want.blob
	}
	if row["_key"] != key || row[`caf\xe9`] != want.cafe || row["blob"] != blob || row["n"] != float64(map[string]int{"raw key": 1, "backslash": 2, "plain": 3}[name]) {
		t.Errorf("%s by %s: row %v; want _key %q, caf\\xe9 %q, blob %v", file, reader, row, key, want.cafe, blob)
	}
}

// requirePythonReaders returns python3 after checking that it imports
// Polars and PyArrow (scripts/setup.sh installs them).
func requirePythonReaders(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 not found: run scripts/setup.sh (installs python3 packages polars and pyarrow)")
	}
	if out, err := exec.Command(py, "-c", "import polars, pyarrow").CombinedOutput(); err != nil {
		t.Fatalf("python3 cannot import polars and pyarrow (%v: %s): run scripts/setup.sh", err, strings.TrimSpace(string(out)))
	}
	return py
}
