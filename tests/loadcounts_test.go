package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/redstage/redstage/cluster"
	"github.com/redstage/redstage/internal/redistest"
)

// countRows is the size of the loads the count tests interrupt.
const countRows = 600_000

// Regression (issue 8, item 2): an interrupted load (SIGINT) and a load
// cancelled by `redstage cancel` report what their tasks wrote, tasks cut
// short included: the summary, --json, --report and status agree with the
// keys in Redis.
func TestLoadCountsWhenStopped(t *testing.T) {
	tc := startCluster(t, 2, fastFailover...)
	input := filepath.Join(t.TempDir(), "big.parquet")
	writeDataset(t, input, 0, countRows)
	idle := func() { t.Helper(); tc.waitIdle(t, 30*time.Second, "workers idle after the stop") }
	stopped := func(t *testing.T, stop func(id string, cli *proc), wantCode int, prefix string) {
		srv := redistest.StartServer(t)
		env := tc.env(srv.URL())
		report := filepath.Join(t.TempDir(), "report.json")
		start := time.Now()
		cli := startProc(t, "redstage", env, "load", input, "-k", "id", "--prefix", prefix, "--chunk-rows", "20000",
			"--json", "--report", report)
		id := tc.jobOf(cluster.KindLoad, start)
		tc.waitRunning(t, id)
		stop(id, cli)
		code, err := cli.wait(60 * time.Second)
		if err != nil || code != wantCode {
			t.Fatalf("exit %d (%v), want %d\n%s", code, err, wantCode, tail(cli.output(), 30))
		}
		idle()
		keys := keyCount(t, serverSize{srv})
		if keys == 0 || keys >= countRows {
			t.Fatalf("%d keys in Redis: the stop did not cut the load short; make it larger", keys)
		}
		sum := result{stderr: cli.output()}.summary(t)
		t.Logf("stopped after %s: Redis holds %d of %d keys; summary says written %v (lower bound %v)",
			time.Since(start).Round(time.Millisecond), keys, countRows, sum["written"], sum["counts_lower_bound"])
		if got := num(t, sum, "written"); got != keys || sum["counts_lower_bound"] != true {
			t.Errorf("summary: written %d (lower bound %v); Redis holds %d keys\n%s", got, sum["counts_lower_bound"], keys, tail(cli.output(), 30))
		}
		var rep map[string]any
		b, err := os.ReadFile(report)
		if err != nil {
			t.Fatalf("report: %v", err)
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if got := num(t, rep, "written"); got != keys || rep["counts_note"] == nil {
			t.Errorf("report: written %d, note %v; Redis holds %d keys", got, rep["counts_note"], keys)
		}
		r := mustRedstage(t, env, 30*time.Second, "status", id, "--json")
		var st cluster.JobStatus
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			t.Fatalf("status --json: %v\n%s", err, r)
		}
		if st.Result == nil || st.Result.Written != keys || !st.Result.LowerBound {
			t.Errorf("status: %+v; Redis holds %d keys", st.Result, keys)
		}
	}
	t.Run("SIGINT", func(t *testing.T) {
		stopped(t, func(_ string, cli *proc) { cli.signal(syscall.SIGINT) }, 130, "int:")
	})
	t.Run("redstage cancel", func(t *testing.T) {
		stopped(t, func(id string, _ *proc) {
			srvEnv := childEnv("REDSTAGE_NATS_URL=" + tc.url)
			mustRedstage(t, srvEnv, 30*time.Second, "cancel", id)
		}, 10, "can:")
	})
}
