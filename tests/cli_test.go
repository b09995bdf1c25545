package tests

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redstage/redstage/internal/redistest"
)

// sampleDir writes the sample data into a temporary directory.
func sampleDir(t *testing.T, env []string) string {
	t.Helper()
	dir := t.TempDir()
	mustRedstage(t, env, time.Minute, "sample-data", dir, "-q")
	return dir
}

// TestOutputPathsCheckedFirst: an output path that cannot be written is
// refused before anything runs (exit 3, state rejected, nothing in Redis),
// naming the path and saying what to do.
func TestOutputPathsCheckedFirst(t *testing.T) {
	srv := redistest.StartServer(t)
	env := childEnv("REDSTAGE_REDIS_URL=" + srv.URL())
	dir := sampleDir(t, env)
	missing := filepath.Join(dir, "no", "such", "dir")
	customers := filepath.Join(dir, "customers.csv")

	r := redstage(t, env, 2*time.Minute, "load", customers, "-k", "customer_id", "--report", filepath.Join(missing, "r.json"), "--json")
	if r.code != 3 || !contains(r.stderr, missing) || !contains(r.stderr, "create the directory") {
		t.Fatalf("load --report into a missing directory: want exit 3 naming it\n%s", r)
	}
	if s := r.summary(t); s["state"] != "rejected" {
		t.Errorf("load summary state %v, want rejected (nothing ran)", s["state"])
	}
	if n := keyCount(t, serverSize{srv}); n != 0 {
		t.Fatalf("%d keys written although the report path was bad", n)
	}

	mustRedstage(t, env, 2*time.Minute, "load", customers, "-k", "customer_id", "--prefix", "customer:", "-q")
	r = redstage(t, env, 2*time.Minute, "infer", "customer:*", "-o", filepath.Join(missing, "s.json"), "--json")
	if r.code != 3 || !contains(r.stderr, missing) || contains(r.stderr, ".partial") {
		t.Fatalf("infer -o into a missing directory: want exit 3 naming it, no temporary file name\n%s", r)
	}
	if s := r.summary(t); s["state"] != "rejected" || s["job"] != nil {
		t.Errorf("infer summary %v: want state rejected and no job", s)
	}
	// A directory as the output file.
	r = redstage(t, env, 2*time.Minute, "scan", "customer:*", "--schema", "name:utf8", "-o", dir+"/")
	if r.code == 0 {
		t.Errorf("scan -o DIR/: want an error\n%s", r)
	}
	r = redstage(t, env, 2*time.Minute, "infer", "customer:*", "-o", dir)
	if r.code != 3 || !contains(r.stderr, "is a directory") {
		t.Errorf("infer -o DIR: want exit 3 saying it is a directory\n%s", r)
	}
}

// TestOverwriteKeepsMode: overwriting an output file (scan -o, infer -o,
// load --report) keeps the existing file's permissions; a new file gets 0644.
func TestOverwriteKeepsMode(t *testing.T) {
	srv := redistest.StartServer(t)
	env := childEnv("REDSTAGE_REDIS_URL=" + srv.URL())
	dir := sampleDir(t, env)
	out := t.TempDir()
	existing := func(name string) string {
		p := filepath.Join(out, name)
		if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o640); err != nil {
			t.Fatal(err)
		}
		return p
	}
	report, schema, csv := existing("r.json"), existing("s.json"), existing("c.csv")
	mustRedstage(t, env, 2*time.Minute, "load", filepath.Join(dir, "customers.csv"), "-k", "customer_id", "--prefix", "customer:", "--report", report, "-q")
	mustRedstage(t, env, 2*time.Minute, "infer", "customer:*", "-o", schema, "-q")
	mustRedstage(t, env, 2*time.Minute, "scan", "customer:*", "--schema", "@"+schema, "-o", csv, "-q")
	fresh := filepath.Join(out, "new.csv")
	mustRedstage(t, env, 2*time.Minute, "scan", "customer:*", "--schema", "@"+schema, "-o", fresh, "-q")
	for path, want := range map[string]os.FileMode{report: 0o640, schema: 0o640, csv: 0o640, fresh: 0o644} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", filepath.Base(path), st.Mode().Perm(), want)
		}
		if st.Size() <= 3 {
			t.Errorf("%s was not rewritten", filepath.Base(path))
		}
	}
}

// TestSummaryWording: one row is "1 row", and a --strict failure names the
// bad value exactly once.
func TestSummaryWording(t *testing.T) {
	srv := redistest.StartServer(t)
	env := childEnv("REDSTAGE_REDIS_URL=" + srv.URL())
	one := filepath.Join(t.TempDir(), "one.csv")
	if err := os.WriteFile(one, []byte("id,age\n1,unknown\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustRedstage(t, env, 2*time.Minute, "load", one, "-k", "id", "--prefix", "one:")
	if contains(r.stderr, "1 rows") || !contains(r.stderr, "1 row in") || !contains(r.stderr, "(csv): 1 row\n") {
		t.Errorf("load of one row: want singular wording\n%s", r)
	}
	r = redstage(t, env, 2*time.Minute, "scan", "one:*", "--schema", "age:int64", "--strict", "-o", filepath.Join(t.TempDir(), "o.parquet"))
	if r.code != 6 {
		t.Fatalf("strict scan: exit %d, want 6\n%s", r.code, r)
	}
	if n := strings.Count(r.stderr, `value "unknown" is not a valid int64`); n != 1 {
		t.Errorf("strict failure printed %d times, want once:\n%s", n, r.stderr)
	}
}

// TestStatusWaitDuration: status --wait reports the job's own duration and
// rate, not the time it spent waiting.
func TestStatusWaitDuration(t *testing.T) {
	tc := startCluster(t, 1, fastFailover...)
	srv := redistest.StartServer(t)
	env := tc.env(srv.URL())
	input := filepath.Join(t.TempDir(), "in.parquet")
	writeDataset(t, input, 0, 20000)
	r := mustRedstage(t, env, 2*time.Minute, "load", input, "-k", "id", "--prefix", "sw:", "--json")
	id, _ := r.summary(t)["job"].(string)
	if id == "" {
		t.Fatalf("no job id in the load summary:\n%s", r)
	}
	st := mustRedstage(t, env, time.Minute, "status", id, "--json")
	var status struct {
		Result struct {
			Rows     int64         `json:"rows"`
			Duration time.Duration `json:"duration"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(st.stdout), &status); err != nil || status.Result.Duration <= 0 {
		t.Fatalf("status --json: %v\n%s", err, st)
	}
	job := status.Result.Duration.Seconds()
	w := mustRedstage(t, env, time.Minute, "status", id, "--wait", "--json")
	s := w.summary(t)
	got, _ := s["duration_seconds"].(float64)
	rate, _ := s["rows_per_sec"].(float64)
	if math.Abs(got-job) > 1e-6 {
		t.Errorf("status --wait duration %.6fs, want the job's %.6fs", got, job)
	}
	if want := float64(status.Result.Rows) / job; math.Abs(rate-want) > want*1e-6 {
		t.Errorf("status --wait rate %.1f rows/s, want %.1f", rate, want)
	}
	h := mustRedstage(t, env, time.Minute, "status", id, "--wait")
	if want := fmt.Sprintf("20,000 rows in %s", shortDur(status.Result.Duration)); !contains(h.stderr, want) {
		t.Errorf("status --wait summary lacks %q:\n%s", want, h.stderr)
	}
}

// shortDur formats a job duration (under a minute) as the CLI's summary does.
func shortDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%.0fs", d.Seconds())
}
