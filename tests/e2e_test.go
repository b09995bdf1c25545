package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redstage/redstage/internal/redistest"
)

// e2eRows is the size of the main round trip (the issue asks for 1M);
// REDSTAGE_E2E_ROWS overrides it, -short uses 100k.
func e2eRows(t testing.TB) int {
	if s := os.Getenv("REDSTAGE_E2E_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("REDSTAGE_E2E_ROWS=%q: want a positive row count", s)
		}
		return n
	}
	if testing.Short() {
		return 100_000
	}
	return 1_000_000
}

// dbsize returns the number of keys of a standalone server or cluster.
type dbsizer interface {
	DBSize(ctx context.Context) (int64, error)
}

type serverSize struct{ s *redistest.Server }

func (s serverSize) DBSize(ctx context.Context) (int64, error) {
	return s.s.Client().DBSize(ctx).Result()
}

func keyCount(t testing.TB, r dbsizer) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := r.DBSize(ctx)
	if err != nil {
		t.Fatalf("DBSIZE: %v", err)
	}
	return n
}

func num(t testing.TB, m map[string]any, k string) int64 {
	t.Helper()
	f, ok := m[k].(float64)
	if !ok {
		if _, present := m[k]; !present {
			return 0 // omitted when zero
		}
		t.Fatalf("summary field %s = %v (%T), want a number", k, m[k], m[k])
	}
	return int64(f)
}

// TestRoundTripMillionRows loads 1M rows from Parquet through a coordinator
// and three worker processes into a standalone Redis and into a 3-master
// Redis Cluster, scans them back into Parquet in key order, and compares the
// output with the input row by row.
func TestRoundTripMillionRows(t *testing.T) {
	n := e2eRows(t)
	tc := startCluster(t, 3, fastFailover...)
	input := filepath.Join(t.TempDir(), "input.parquet")
	writeDataset(t, input, 0, n)

	targets := []struct {
		name  string
		start func(t *testing.T) (string, dbsizer)
	}{
		{"standalone", func(t *testing.T) (string, dbsizer) {
			s := redistest.StartServer(t)
			return s.URL(), serverSize{s}
		}},
		{"cluster", func(t *testing.T) (string, dbsizer) {
			c := redistest.StartCluster(t, redistest.ClusterOptions{Masters: 3})
			return c.URL(), c
		}},
	}
	for _, target := range targets {
		t.Run(target.name, func(t *testing.T) {
			url, db := target.start(t)
			env := tc.env(url)
			start := time.Now()
			r := mustRedstage(t, env, 10*time.Minute, "load", input, "--key-column", "id", "--prefix", "rt:", "--json")
			sum := r.summary(t)
			if num(t, sum, "rows") != int64(n) || num(t, sum, "written") != int64(n) || num(t, sum, "failed") != 0 {
				t.Fatalf("load summary rows %v written %v failed %v, want %d/%d/0", sum["rows"], sum["written"], sum["failed"], n, n)
			}
			t.Logf("load of %d rows: %s (%.0f rows/s)", n, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds())
			if got := keyCount(t, db); got != int64(n) {
				t.Fatalf("Redis holds %d keys after loading %d rows", got, n)
			}

			output := filepath.Join(t.TempDir(), "output.parquet")
			start = time.Now()
			r = mustRedstage(t, env, 10*time.Minute, "scan", "rt:*", "--schema", dataSchemaSpec, "--sort", "--json", "-o", output)
			sum = r.summary(t)
			t.Logf("scan of %d rows: %s (%.0f rows/s)", n, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds())
			if num(t, sum, "rows") != int64(n) {
				t.Fatalf("scan summary rows %v, want %d", sum["rows"], n)
			}
			if nulls, _ := sum["nulls"].(map[string]any); len(nulls) > 0 {
				t.Fatalf("scan turned values into nulls: %v", sum["nulls"])
			}
			compareSorted(t, input, output, "rt:")
		})
	}
}

// TestEmbeddedDefault runs the demo's path without --nats: each command
// starts the embedded cluster.
func TestEmbeddedDefault(t *testing.T) {
	srv := redistest.StartServer(t)
	dir := t.TempDir()
	env := childEnv("REDSTAGE_REDIS_URL=" + srv.URL())
	mustRedstage(t, env, time.Minute, "sample-data", dir)

	r := mustRedstage(t, env, 2*time.Minute, "load", filepath.Join(dir, "customers.csv"), "--key-column", "customer_id", "--prefix", "customer:", "--json")
	if s := r.summary(t); num(t, s, "written") != 1000 || s["cluster"] != "embedded" {
		t.Fatalf("load summary: %v", s)
	}
	mustRedstage(t, env, 2*time.Minute, "load", filepath.Join(dir, "users_messy.csv"), "--prefix", "user:")
	if got := keyCount(t, serverSize{srv}); got != 1500 {
		t.Fatalf("%d keys after loading 1000 customers and 500 users", got)
	}

	r = mustRedstage(t, env, 2*time.Minute, "infer", "user:*")
	for _, want := range []string{"warning: age:", "will be null when scanned", "note: email: missing"} {
		if !contains(r.stderr, want) {
			t.Errorf("infer of the messy users does not warn %q:\n%s", want, r.stderr)
		}
	}
	if !contains(r.stdout, `"low_confidence_fields"`) {
		t.Errorf("infer without -o did not print the schema JSON on stdout:\n%s", r.stdout)
	}

	schema := filepath.Join(dir, "customers.schema.json")
	mustRedstage(t, env, 2*time.Minute, "infer", "customer:*", "-o", schema)
	out := filepath.Join(dir, "customers.csv.out.csv")
	r = mustRedstage(t, env, 2*time.Minute, "scan", "customer:*", "--schema", "@"+schema, "--sort", "--json", "-o", out)
	if s := r.summary(t); num(t, s, "rows") != 1000 {
		t.Fatalf("scan summary: %v", s)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := splitLines(string(b))
	// Inferred fields come in the order first seen: the file's column order.
	if len(lines) != 1001 || lines[0] != "_key,customer_id,name,email,country,signup_date,lifetime_value,is_active" {
		t.Fatalf("scanned CSV: %d lines, header %q", len(lines), lines[0])
	}
	if !strings.HasPrefix(lines[1], "customer:1000,") || !strings.HasPrefix(lines[1000], "customer:1999,") {
		t.Fatalf("rows 1 and 1000: %q, %q: want customer:1000 first and customer:1999 last (--sort)", lines[1], lines[1000])
	}

	// Without --schema, scan infers first and says so on stderr.
	r = mustRedstage(t, env, 2*time.Minute, "scan", "user:*", "-o", filepath.Join(dir, "users.parquet"), "--json")
	if !contains(r.stderr, "no --schema given: inferred one") {
		t.Errorf("scan without --schema did not print the inferred schema:\n%s", r.stderr)
	}
	if s := r.summary(t); num(t, s, "rows") != 500 {
		t.Fatalf("users scan summary: %v", s)
	} else if nulls, _ := s["nulls"].(map[string]any); len(nulls) == 0 {
		t.Errorf("users scan counted no type-coercion nulls (ages like 'unknown'): %v", s)
	}

	// --strict fails on the first such value, naming key and field.
	r = redstage(t, env, 2*time.Minute, "scan", "user:*", "--schema", "age:int64", "--strict", "-o", filepath.Join(dir, "strict.parquet"))
	if r.code != 6 || !contains(r.stderr, `field "age"`) || !contains(r.stderr, `key "user:`) {
		t.Errorf("strict scan: want exit 6 naming key and field\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "strict.parquet")); !os.IsNotExist(err) {
		t.Errorf("a failed scan left its output: %v", err)
	}

	// -o - writes an Arrow IPC stream to stdout; --json then goes to stderr.
	r = mustRedstage(t, env, 2*time.Minute, "scan", "customer:*", "--schema", "customer_id:int64", "--row-index", "--json", "-o", "-")
	stream := filepath.Join(dir, "stdout.arrows")
	if err := os.WriteFile(stream, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	rows := openRows(t, stream)
	n := 0
	for rows.next(t) {
		if got := rows.cells(t, []string{"_index"})[0]; got != strconv.Itoa(n) {
			t.Fatalf("row %d: _index %s", n, got)
		}
		n++
	}
	rows.close()
	if n != 1000 {
		t.Fatalf("Arrow stream on stdout has %d rows, want 1000", n)
	}
	if s := r.summary(t); s["output"] != "-" || num(t, s, "rows") != 1000 {
		t.Errorf("summary on stderr: %v", s)
	}
}

// TestEmbeddedNATSCoordinator runs a coordinator hosting NATS
// (--embedded-nats) with a worker and the CLI connecting to it.
func TestEmbeddedNATSCoordinator(t *testing.T) {
	srv := redistest.StartServer(t)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	url := "nats://" + addr
	startProc(t, "coordinator", childEnv(), "--embedded-nats", addr, "--store", t.TempDir())
	startProc(t, "worker", childEnv(), "--nats", url, "--concurrency", "2")
	input := filepath.Join(t.TempDir(), "in.parquet")
	writeDataset(t, input, 0, 5000)
	env := childEnv("REDSTAGE_NATS_URL="+url, "REDSTAGE_REDIS_URL="+srv.URL())
	// The coordinator may still be starting: the CLI's first attempts can
	// find no NATS (exit 5) or no coordinator; poll until one succeeds.
	poll(t, 30*time.Second, "load through the embedded-NATS coordinator", func() error {
		r := redstage(t, env, 2*time.Minute, "load", input, "--key-column", "id", "--prefix", "en:")
		if r.code != 0 {
			return fmt.Errorf("%s", r)
		}
		return nil
	})
	out := filepath.Join(t.TempDir(), "out.parquet")
	mustRedstage(t, env, 2*time.Minute, "scan", "en:*", "--schema", dataSchemaSpec, "-o", out)
	compareUnordered(t, input, out, "en:")
	// status --wait follows a job started by another command to its end.
	start := time.Now()
	bg := startProc(t, "redstage", env, "scan", "en:*", "--schema", dataSchemaSpec, "--tasks", "16", "-o", filepath.Join(t.TempDir(), "bg.parquet"))
	var id string
	poll(t, 30*time.Second, "the background scan listed", func() error {
		r := redstage(t, env, time.Minute, "jobs", "--json")
		var list []struct {
			ID      string    `json:"id"`
			Kind    string    `json:"kind"`
			Created time.Time `json:"created"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
			return fmt.Errorf("jobs --json: %v\n%s", err, r)
		}
		for _, j := range list { // newest first; the scan just before started earlier
			if j.Kind == "scan" && !j.Created.Before(start) {
				id = j.ID
				return nil
			}
		}
		return fmt.Errorf("not listed yet")
	})
	w := mustRedstage(t, env, 2*time.Minute, "status", id, "--wait", "--json")
	if s := w.summary(t); s["state"] != "succeeded" || num(t, s, "rows") != 5000 || s["job"] != id {
		t.Errorf("status --wait summary: %v", s)
	}
	if code, err := bg.wait(time.Minute); err != nil || code != 0 {
		t.Errorf("background scan: exit %d (%v)", code, err)
	}
	st := mustRedstage(t, env, time.Minute, "status", id)
	if !contains(st.stdout, "succeeded") || !contains(st.stdout, "5,000") {
		t.Errorf("status of a finished job:\n%s", st.stdout)
	}

	r := mustRedstage(t, env, time.Minute, "jobs")
	if !contains(r.stdout, "succeeded") || !contains(r.stdout, "load") || !contains(r.stdout, "scan") {
		t.Errorf("jobs listing lacks the two jobs:\n%s", r.stdout)
	}
	r = mustRedstage(t, env, time.Minute, "workers")
	if !contains(r.stdout, "WORKER") || len(splitLines(r.stdout)) != 2 {
		t.Errorf("workers listing: want a header and one worker:\n%s", r.stdout)
	}
}
