package tests

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/redstage/redstage/cluster"
	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/internal/natsproxy"
	"github.com/redstage/redstage/internal/redistest"
)

// userHashes fills srv with n hashes <prefix><i> {name, age, note}.
func userHashes(srv *redistest.Server, prefix string, n int) {
	srv.Load(n, func(i int) []string {
		return []string{"HSET", fmt.Sprintf("%s%07d", prefix, i), "name", fmt.Sprintf("user number %d", i),
			"age", strconv.Itoa(i % 97), "note", strings.Repeat("x", 40)}
	})
}

const userSchema = "name:utf8,age:int64,note:utf8"

// pipeToHead runs `redstage ARGS | head -c limit` in bash and returns
// redstage's exit status (PIPESTATUS) and its stderr.
func pipeToHead(t *testing.T, env []string, limit int, args ...string) (int, string) {
	t.Helper()
	errFile := filepath.Join(t.TempDir(), "stderr")
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	script := fmt.Sprintf(`%q %s 2>%q | head -c %d >/dev/null; echo "${PIPESTATUS[0]}"`,
		filepath.Join(binaries(t), "redstage"), strings.Join(quoted, " "), errFile, limit)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Env = env
	out, err := cmd.Output()
	stderr, _ := os.ReadFile(errFile)
	if err != nil {
		t.Fatalf("bash pipeline: %v\nstderr:\n%s", err, stderr)
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("pipeline status %q: %v", out, err)
	}
	return code, string(stderr)
}

// resultFrames counts the result frames of a job left on REDSTAGE_RESULTS.
func resultFrames(t *testing.T, url, job string) uint64 {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "REDSTAGE_RESULTS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter("redstage.res."+job+".>"))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// TestScanBrokenPipe: `redstage scan -o - | head -c 1000000` exits with
// the documented code and a one-line message, records the job as
// cancelled saying why, leaves no result frames in JetStream and (with
// the embedded cluster) no temporary store.
func TestScanBrokenPipe(t *testing.T) {
	srv := redistest.StartServer(t)
	userHashes(srv, "bp:", 300_000)
	args := []string{"scan", "bp:*", "--schema", userSchema, "--tasks", "16", "-o", "-"}

	t.Run("cluster", func(t *testing.T) {
		tc := startCluster(t, 2, fastFailover...)
		start := time.Now()
		code, stderr := pipeToHead(t, tc.env(srv.URL()), 1_000_000, args...)
		checkBrokenPipeExit(t, code, stderr)
		id := tc.jobOf(cluster.KindScan, start)
		st, err := tc.status(id)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != cluster.JobCancelled || st.Result == nil || !contains(st.Result.Error, "broken pipe") {
			t.Errorf("job %s: state %s (%+v), want cancelled saying the output was closed", id, st.State, st.Result)
		}
		poll(t, 10*time.Second, "result frames purged", func() error {
			if n := resultFrames(t, tc.url, id); n > 0 {
				return fmt.Errorf("%d result frames of job %s left on REDSTAGE_RESULTS", n, id)
			}
			return nil
		})
	})
	t.Run("embedded", func(t *testing.T) {
		tmp := t.TempDir()
		env := childEnv("REDSTAGE_REDIS_URL="+srv.URL(), "TMPDIR="+tmp)
		code, stderr := pipeToHead(t, env, 1_000_000, args...)
		checkBrokenPipeExit(t, code, stderr)
		left, _ := filepath.Glob(filepath.Join(tmp, "redstage-nats-*"))
		if len(left) > 0 {
			t.Errorf("temporary stores left behind: %v", left)
		}
	})
}

func checkBrokenPipeExit(t *testing.T, code int, stderr string) {
	t.Helper()
	var errLines []string
	for _, l := range splitLines(stderr) {
		if strings.HasPrefix(l, "redstage: ") {
			errLines = append(errLines, l)
		}
	}
	if code != 141 || len(errLines) != 1 || !contains(errLines[0], "broken pipe") || !contains(errLines[0], "cancelled") {
		t.Fatalf("scan | head: exit %d, want 141 with one line saying the output was closed and the job cancelled; stderr:\n%s", code, tail(stderr, 20))
	}
}

// TestStoreFull: with a JetStream store limited by max_file_store, a scan
// and a load that fill it fail within 30 s with a message naming the
// store and its limit; cancel answers; and a later job succeeds without
// restarting anything.
func TestStoreFull(t *testing.T) {
	const limit = 8 << 20
	tc := startClusterNATS(t, 2, func(c *cluster.NATSConfig) { c.MaxStore = limit }, fastFailover...)
	srv := redistest.StartServer(t)
	userHashes(srv, "sf:", 300_000)
	env := tc.env(srv.URL())
	checkFull := func(what string, r result, took time.Duration) {
		t.Helper()
		if r.code != 6 || !contains(r.stderr, "JetStream store full") || !contains(r.stderr, "max_file_store") || !contains(r.stderr, "MiB") {
			t.Fatalf("%s into a full store: want exit 6 naming the store and its limit\n%s", what, r)
		}
		t.Logf("%s failed after %s", what, took.Round(time.Millisecond))
	}

	t.Run("scan", func(t *testing.T) {
		start := time.Now()
		// Two tasks of about 15 MiB of frames each: more than the store holds.
		r := redstage(t, env, 30*time.Second, "scan", "sf:*", "--schema", userSchema, "--tasks", "2", "-o", filepath.Join(t.TempDir(), "out.parquet"))
		checkFull("scan", r, time.Since(start))
		id := tc.jobOf(cluster.KindScan, start)
		if st, err := tc.status(id); err != nil || st.State != cluster.JobFailed {
			t.Fatalf("job %s: %+v (%v), want failed", id, st, err)
		}
		if n := resultFrames(t, tc.url, id); n > 0 {
			t.Errorf("%d result frames of the failed scan left in the store", n)
		}
		if r := redstage(t, env, 30*time.Second, "cancel", id); r.code != 8 {
			t.Errorf("cancelling the failed scan: want exit 8 (already finished)\n%s", r)
		}
	})
	t.Run("load", func(t *testing.T) {
		input := filepath.Join(t.TempDir(), "input.parquet")
		writeDataset(t, input, 0, faultRows)
		start := time.Now()
		r := redstage(t, env, 30*time.Second, "load", input, "--key-column", "id", "--prefix", "sfl:", "--chunk-rows", "200000")
		checkFull("load", r, time.Since(start))
	})
	t.Run("later job", func(t *testing.T) {
		small := redistest.StartServer(t)
		userHashes(small, "ok:", 1000)
		out := filepath.Join(t.TempDir(), "out.csv")
		r := mustRedstage(t, tc.env(small.URL()), time.Minute, "scan", "ok:*", "--schema", userSchema, "--json", "-o", out)
		if s := r.summary(t); num(t, s, "rows") != 1000 {
			t.Fatalf("scan after the store was freed: %v", s)
		}
	})
}

// TestLostDirectGetReply: a worker whose reply to a chunk frame get is
// lost (a proxy between it and NATS swallows it) does not hang its task:
// the load ends exact.
func TestLostDirectGetReply(t *testing.T) {
	tc := startCluster(t, 0, fastFailover...)
	u, err := url.Parse(tc.url)
	if err != nil {
		t.Fatal(err)
	}
	p, err := natsproxy.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w := startProc(t, "worker", childEnv(), "--nats", p.URL(), "--concurrency", "2", "--heartbeat", "500ms")
	tc.workers = append(tc.workers, w)
	tc.waitWorkers(1)
	p.DropNext(1, "Nats-Stream: REDSTAGE_CHUNKS")

	srv := redistest.StartServer(t)
	input := filepath.Join(t.TempDir(), "input.parquet")
	writeDataset(t, input, 0, 100_000)
	r := mustRedstage(t, tc.env(srv.URL()), time.Minute, "load", input, "--key-column", "id", "--prefix", "lr:", "--chunk-rows", "10000", "--json")
	if s := r.summary(t); num(t, s, "written") != 100_000 {
		t.Fatalf("load summary: %v", s)
	}
	if got := keyCount(t, serverSize{srv}); got != 100_000 {
		t.Fatalf("%d keys after the load, want 100000", got)
	}
	if p.Dropped() != 1 {
		t.Fatalf("the proxy dropped %d replies, want 1: the fault was not injected", p.Dropped())
	}
}

// TestJobEndNoticedAfterNATSRestart: a client whose NATS server restarted
// while its job ran learns that the job ended within a few seconds. Its KV
// watch alone notices the restart only after missing heartbeats (measured:
// Wait returned 17 s after the job's recorded end); the bound below is the
// property under test, with 5 times the margin of the 2 s record poll.
func TestJobEndNoticedAfterNATSRestart(t *testing.T) {
	srv := redistest.StartServer(t)
	userHashes(srv, "nr:", 300_000)
	tc := startCluster(t, 1, fastFailover...)
	schema, err := codec.ParseSchemaSpec(userSchema)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	job, err := tc.client.Submit(ctx, cluster.JobSpec{Kind: cluster.KindScan, Redis: srv.URL(), Tasks: 4,
		Scan: &cluster.ScanSpec{Pattern: "nr:*", Schema: schema, Meta: codec.MetaColumns{Key: "_key"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	tc.restartNATS()
	if _, err := job.Wait(ctx); err != nil {
		t.Fatalf("scan across a NATS restart: %v", err)
	}
	st, err := tc.status(job.ID())
	if err != nil {
		t.Fatal(err)
	}
	late := time.Since(st.Finished)
	t.Logf("Wait returned %s after the job's recorded end", late.Round(10*time.Millisecond))
	if late > 10*time.Second {
		t.Errorf("the client noticed the job's end %s late, want within 10s", late.Round(time.Millisecond))
	}
}
