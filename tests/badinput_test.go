package tests

import (
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
		{"unparsable value past the sample", []string{"load", badValue, "--key-column", "id"}, nil, 3,
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
