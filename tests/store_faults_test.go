package tests

import (
	"context"
	"fmt"
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
