package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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
	out := filepath.Join(t.TempDir(), "sorted.csv")
	r = redstage(t, env, 2*time.Minute, "scan", "customer:*", "--schema", "name:utf8", "--sort", "--temp-dir", missing, "-o", out, "--json")
	if r.code != 3 || !contains(r.stderr, missing) || r.summary(t)["state"] != "rejected" {
		t.Errorf("scan --sort --temp-dir MISSING: want exit 3 before the job naming it\n%s", r)
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
	if contains(r.stderr, " 1 rows in") || contains(r.stderr, ": 1 rows\n") || !contains(r.stderr, "1 row in") || !contains(r.stderr, "(csv): 1 row\n") {
		t.Errorf("load of one row: want singular wording\n%s", r)
	}
	r = redstage(t, env, 2*time.Minute, "scan", "one:*", "--schema", "age:int64", "--strict", "-o", filepath.Join(t.TempDir(), "o.parquet"))
	if r.code != 6 {
		t.Fatalf("strict scan: exit %d, want 6\n%s", r.code, r)
	}
	if n := strings.Count(r.stderr, `value "unknown" is not a valid int64`); n != 1 {
		t.Errorf("strict failure printed %d times, want once:\n%s", n, r.stderr)
	}
	if !contains(r.stderr, "not written") {
		t.Errorf("the summary of a failed scan does not say its output was not written:\n%s", r.stderr)
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

// TestVersionOne: the three programs of a build, and the worker records,
// report the one version the build set (-ldflags -X, as the Makefile does).
func TestVersionOne(t *testing.T) {
	env := childEnv()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if r := mustRedstage(t, env, time.Minute, args...); strings.TrimSpace(r.stdout) != "redstage "+testVersion {
			t.Errorf("redstage %s: %q, want %q", args[0], r.stdout, "redstage "+testVersion)
		}
	}
	var info struct{ Version string }
	if r := mustRedstage(t, env, time.Minute, "version", "--json"); json.Unmarshal([]byte(r.stdout), &info) != nil || info.Version != testVersion {
		t.Errorf("version --json: %s", r.stdout)
	}
	for _, program := range []string{"coordinator", "worker"} {
		p := startProc(t, program, env, "--version")
		if code, err := p.wait(time.Minute); err != nil || code != 0 || strings.TrimSpace(p.output()) != program+" "+testVersion {
			t.Errorf("%s --version: exit %d (%v): %q", program, code, err, p.output())
		}
	}
	tc := startCluster(t, 1)
	r := mustRedstage(t, tc.env("redis://127.0.0.1:1"), time.Minute, "workers", "--json")
	var ws []struct{ Version string }
	if err := json.Unmarshal([]byte(r.stdout), &ws); err != nil || len(ws) == 0 {
		t.Fatalf("workers --json: %v\n%s", err, r)
	}
	for _, w := range ws {
		if w.Version != testVersion {
			t.Errorf("worker record version %q, want %q", w.Version, testVersion)
		}
	}
	poll(t, 10*time.Second, "the coordinator's start-up line", func() error {
		if !contains(tc.coord.output(), "version="+testVersion) {
			return fmt.Errorf("no version=%s in:\n%s", testVersion, tc.coord.output())
		}
		return nil
	})
}

// TestCommandLineHelp: a mistyped command or flag gets a suggestion, and
// shell completion scripts are generated.
func TestCommandLineHelp(t *testing.T) {
	env := childEnv()
	r := redstage(t, env, time.Minute, "scna", "-o", "x.parquet")
	if r.code != 2 || !contains(r.stderr, "did you mean: redstage scan?") {
		t.Errorf("redstage scna -o x.parquet: want exit 2 suggesting scan\n%s", r)
	}
	r = redstage(t, env, time.Minute, "load", "a.csv", "--key-colum", "id")
	if r.code != 2 || !contains(r.stderr, "did you mean --key-column?") {
		t.Errorf("load --key-colum: want exit 2 suggesting --key-column\n%s", r)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := mustRedstage(t, env, time.Minute, "completion", shell)
		if !contains(r.stdout, "redstage") || len(r.stdout) < 500 {
			t.Errorf("completion %s: %d bytes:\n%s", shell, len(r.stdout), tail(r.stdout, 5))
		}
	}
}

// TestCoordinatorAddress: the coordinator hosting NATS logs the URL it
// listens on, and a second one on the same address fails at once, saying so.
func TestCoordinatorAddress(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	first := startProc(t, "coordinator", childEnv(), "--embedded-nats", addr, "--store", t.TempDir())
	poll(t, 30*time.Second, "the coordinator's start-up line", func() error {
		if !contains(first.output(), "coordinator starting") {
			return fmt.Errorf("not yet:\n%s", first.output())
		}
		return nil
	})
	if want := "nats=nats://" + addr; !contains(first.output(), want) {
		t.Errorf("start-up log lacks %q:\n%s", want, first.output())
	}
	start := time.Now()
	second := startProc(t, "coordinator", childEnv(), "--embedded-nats", addr, "--store", t.TempDir())
	code, err := second.wait(30 * time.Second)
	t.Logf("second coordinator exited %d after %s", code, time.Since(start).Round(time.Millisecond))
	if err != nil || code != 5 || !contains(second.output(), "address already in use") || !contains(second.output(), addr) {
		t.Errorf("second coordinator on %s: exit %d (%v), want 5 saying the address is in use:\n%s", addr, code, err, second.output())
	}
}

// TestTasksRounding: --tasks that the keyspace cannot split into exactly is
// said in the summary (human and JSON).
func TestTasksRounding(t *testing.T) {
	srv := redistest.StartServer(t)
	env := childEnv("REDSTAGE_REDIS_URL=" + srv.URL())
	dir := sampleDir(t, env)
	mustRedstage(t, env, 2*time.Minute, "load", filepath.Join(dir, "customers.csv"), "-k", "customer_id", "--prefix", "customer:", "-q")
	out := filepath.Join(t.TempDir(), "c.csv")
	r := mustRedstage(t, env, 2*time.Minute, "scan", "customer:*", "--schema", "name:utf8", "--tasks", "3", "-o", out, "--json")
	s := r.summary(t)
	ran := num(t, s, "tasks")
	if num(t, s, "tasks_requested") != 3 || ran == 3 || ran == 0 {
		t.Fatalf("summary tasks %d, tasks_requested %v: want 3 requested and the count that ran", ran, s["tasks_requested"])
	}
	r = mustRedstage(t, env, 2*time.Minute, "scan", "customer:*", "--schema", "name:utf8", "--tasks", "3", "-o", out)
	if want := fmt.Sprintf("--tasks 3: ran %d tasks", ran); !contains(r.stderr, want) {
		t.Errorf("human summary lacks %q:\n%s", want, r.stderr)
	}
}

// openPTY opens a pseudo-terminal pair (what a terminal gives a program).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatalf("opening the terminal: %v", err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// TestBinaryStdoutTerminal: scan -o - refuses to write Arrow to a terminal
// unless --force; text formats are written.
func TestBinaryStdoutTerminal(t *testing.T) {
	srv := redistest.StartServer(t)
	env := childEnv("REDSTAGE_REDIS_URL=" + srv.URL())
	dir := sampleDir(t, env)
	mustRedstage(t, env, 2*time.Minute, "load", filepath.Join(dir, "customers.csv"), "-k", "customer_id", "--prefix", "customer:", "-q")
	run := func(args ...string) (int, string, int64) {
		master, slave := openPTY(t)
		drained := make(chan int64, 1)
		go func() { n, _ := io.Copy(io.Discard, master); drained <- n }()
		cmd := exec.Command(filepath.Join(binaries(t), "redstage"), args...)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stdout, cmd.Stderr = slave, &stderr
		err := cmd.Run()
		slave.Close() // the reader sees EOF (EIO) once no one holds the terminal
		var n int64
		select {
		case n = <-drained:
		case <-time.After(10 * time.Second):
			t.Fatal("terminal output not drained")
		}
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, stderr.String(), n
	}
	code, stderr, n := run("scan", "customer:*", "--schema", "name:utf8", "-o", "-")
	if code != 2 || !contains(stderr, "terminal") || !contains(stderr, "--force") || n != 0 {
		t.Errorf("Arrow to a terminal: exit %d, %d bytes written, stderr:\n%s", code, n, stderr)
	}
	if code, stderr, n := run("scan", "customer:*", "--schema", "name:utf8", "-o", "-", "--force"); code != 0 || n == 0 {
		t.Errorf("--force: exit %d, %d bytes written, stderr:\n%s", code, n, stderr)
	}
	if code, stderr, n := run("scan", "customer:*", "--schema", "name:utf8", "-o", "-", "--format", "csv"); code != 0 || n < 1000 {
		t.Errorf("CSV to a terminal: exit %d, %d bytes, stderr:\n%s", code, n, stderr)
	}
}

// TestJSONOneDocument: with --json, each outcome prints exactly one JSON
// document on its stream and nothing else there.
func TestJSONOneDocument(t *testing.T) {
	srv := redistest.StartServer(t)
	env := childEnv("REDSTAGE_REDIS_URL=" + srv.URL())
	dir := sampleDir(t, env)
	oneDoc := func(what, stream string) map[string]any {
		t.Helper()
		dec := json.NewDecoder(strings.NewReader(stream))
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%s: not a JSON document (%v):\n%s", what, err, stream)
		}
		if rest, _ := io.ReadAll(dec.Buffered()); strings.TrimSpace(string(rest)) != "" || dec.More() {
			t.Fatalf("%s: more than one JSON document on the stream:\n%s", what, stream)
		}
		return m
	}
	r := redstage(t, env, 2*time.Minute, "load", filepath.Join(dir, "users_messy.csv"), "--prefix", "user:", "--json")
	if s := oneDoc("load", r.stdout); r.code != 0 || s["state"] != "succeeded" {
		t.Errorf("load: %v\n%s", s, r)
	}
	r = redstage(t, env, 2*time.Minute, "load", "--json", "--bogus", "x.csv")
	if s := oneDoc("usage error", r.stdout); r.code != 2 || s["exit_code"] != 2.0 || s["hint"] == "" {
		t.Errorf("usage error: %v\n%s", s, r)
	}
	// stdout carries data: stderr holds the JSON document only, on success,
	// on failure, on a usage error, and with inference first (no --schema).
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"scan", "user:*", "--schema", "age:utf8", "--json", "-o", "-"}, 0},
		{[]string{"scan", "user:*", "--json", "-o", "-"}, 0},
		{[]string{"scan", "user:*", "--schema", "age:int64", "--strict", "--json", "-o", "-"}, 6},
		{[]string{"scan", "user:*", "--json", "-o", "-", "--nope"}, 2},
		{[]string{"infer", "user:*", "--json"}, 0},
		{[]string{"infer", "nothing:*", "--json"}, 9},
	} {
		r := redstage(t, env, 2*time.Minute, tc.args...)
		s := oneDoc(strings.Join(tc.args, " "), r.stderr)
		if r.code != tc.code || s["exit_code"] != float64(tc.code) {
			t.Errorf("%q: exit %d, document %v; want %d", tc.args, r.code, s, tc.code)
		}
	}
}
