package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redstage/redstage/internal/redistest"
)

// TestBadInput runs the CLI against a running cluster with bad input: each
// case exits with its documented code, names what is wrong, says what to do,
// and writes nothing (Redis stays empty, no output file appears).
func TestBadInput(t *testing.T) {
	tc := startCluster(t, 1, fastFailover...)
	srv := redistest.StartServer(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var good strings.Builder
	good.WriteString("id,name,age\n")
	for i := 0; i < 12000; i++ {
		fmt.Fprintf(&good, "%d,name %d,%d\n", i, i, 20+i%50)
	}
	goodCSV := write("good.csv", good.String())
	// A bad line past the inference sample (10000 rows), after a good file: the
	// precheck must catch it before anything is written.
	badCSV := write("bad.csv", good.String()+"12000,\"unterminated,33\n12001,x,1\n")
	badValue := write("badvalue.csv", good.String()+"12000,x,forty\n")
	out := filepath.Join(dir, "out.parquet")
	closedPort := freePort(t)

	tests := []struct {
		name string
		args []string
		env  []string
		code int
		msg  []string // all must appear in stderr
	}{
		{"malformed CSV line", []string{"load", goodCSV, badCSV, "--key-column", "id"}, nil, 3,
			[]string{"bad.csv line 12002", "malformed"}},
		{"unparsable value past the sample", []string{"load", badValue, "--key-column", "id", "--schema", "id:int64,name:utf8,age:int64"}, nil, 3,
			[]string{"badvalue.csv line 12002", "forty"}},
		{"missing key column", []string{"load", goodCSV, "--key-column", "user_id"}, nil, 3,
			[]string{`key column "user_id" not found`, "id, name, age"}},
		{"unknown type in a schema", []string{"scan", "x:*", "--schema", "id:int64,age:integer32", "-o", out}, nil, 2,
			[]string{"integer32"}},
		{"unknown type in a schema file", []string{"scan", "x:*", "--schema", "@" + write("s.json", `{"fields":[{"name":"a","type":"varchar"}]}`), "-o", out}, nil, 2,
			[]string{"varchar", "s.json"}},
		{"unreachable Redis", []string{"load", goodCSV, "--key-column", "id", "--redis", fmt.Sprintf("redis://:hunter2@127.0.0.1:%d", closedPort)}, nil, 4,
			[]string{fmt.Sprintf("127.0.0.1:%d", closedPort)}},
		{"unreachable NATS", []string{"load", goodCSV, "--nats", fmt.Sprintf("nats://127.0.0.1:%d", closedPort)}, nil, 5,
			[]string{"NATS", fmt.Sprintf("127.0.0.1:%d", closedPort)}},
		{"output directory missing", []string{"scan", "x:*", "--schema", "a:utf8", "-o", filepath.Join(dir, "no", "such", "dir", "o.parquet")}, nil, 3,
			[]string{"no/such/dir"}},
	}
	for _, tc2 := range tests {
		t.Run(tc2.name, func(t *testing.T) {
			env := append(tc.env(srv.URL()), tc2.env...)
			r := redstage(t, env, 2*time.Minute, tc2.args...)
			if r.code != tc2.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tc2.code, r)
			}
			for _, m := range append(tc2.msg, "redstage: error:", "what to do:") {
				if !contains(r.stderr, m) {
					t.Errorf("stderr lacks %q:\n%s", m, r.stderr)
				}
			}
			if contains(r.stderr, "hunter2") {
				t.Errorf("stderr shows the Redis password:\n%s", r.stderr)
			}
			if n := keyCount(t, serverSize{srv}); n != 0 {
				t.Errorf("%d keys written", n)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output file exists: %v", err)
			}
		})
	}
}

// TestLoadPartialReport loads a file with rows that cannot be written (an
// empty key value): the load exits 7, writes the other rows, and --report
// lists each rejected row with its file, row and reason.
func TestLoadPartialReport(t *testing.T) {
	srv := redistest.StartServer(t)
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := 0; i < 100; i++ {
		switch i {
		case 17, 42:
			fmt.Fprintf(&b, ",nameless %d\n", i) // null key: rejected
		default:
			fmt.Fprintf(&b, "%d,n%d\n", i, i)
		}
	}
	first := filepath.Join(dir, "first.csv")
	second := filepath.Join(dir, "second.csv")
	if err := os.WriteFile(first, []byte("id,name\n1000,a\n1001,b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(second, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "report.json")
	env := childEnv("REDSTAGE_REDIS_URL=" + srv.URL())
	r := redstage(t, env, 2*time.Minute, "load", first, second, "--key-column", "id", "--prefix", "p:", "--report", report, "--json")
	if r.code != 7 {
		t.Fatalf("exit %d, want 7 (partial)\n%s", r.code, r)
	}
	if s := r.summary(t); s["state"] != "partial" || num(t, s, "written") != 100 || num(t, s, "rejected")+num(t, s, "failed") != 2 {
		t.Fatalf("summary: %v", s)
	}
	if n := keyCount(t, serverSize{srv}); n != 100 {
		t.Fatalf("%d keys written, want 100", n)
	}
	var rep struct {
		Written  int64 `json:"written"`
		Failures []struct {
			Row     int64  `json:"row"`
			File    string `json:"file"`
			FileRow int64  `json:"file_row"`
			Error   string `json:"error"`
		} `json:"failures"`
	}
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Written != 100 || len(rep.Failures) != 2 {
		t.Fatalf("report: written %d, %d failures:\n%s", rep.Written, len(rep.Failures), raw)
	}
	for i, want := range []int64{17, 42} {
		f := rep.Failures[i]
		if f.File != second || f.FileRow != want || f.Row != want+2 || f.Error == "" {
			t.Errorf("failure %d: %+v; want %s row %d (global row %d) with a reason", i, f, second, want, want+2)
		}
	}
}
