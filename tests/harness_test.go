package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redstage/redstage/cluster"
)

// The programs under test, built once per test binary (not with -race:
// the end-to-end tests measure behaviour, and race builds are slow).
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// testVersion is the version the programs under test are built with, as
// the Makefile sets it (-ldflags -X).
const testVersion = "v0.0.0-e2e"

// binaries builds cmd/... into a temporary directory on first use.
func binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "redstage-e2e-bin-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-ldflags", "-X github.com/redstage/redstage/internal/version.version="+testVersion,
			"-o", binDir+string(filepath.Separator), "./cmd/...")
		cmd.Dir = ".."
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/...: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// childEnv is the environment of the programs: the test's, without any
// REDSTAGE_ variable that could change their behaviour, plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REDSTAGE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// proc is a program started by a test, in its own process group, with its
// output captured in a file (printed when the test fails).
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	out  string // combined stdout/stderr file (daemons) or stderr (CLI)
	done chan struct{}
	err  error // set when done is closed
}

var procSeq struct {
	sync.Mutex
	n int
}

// startProc starts a program; t.Cleanup kills it if still running.
func startProc(t testing.TB, program string, env []string, args ...string) *proc {
	t.Helper()
	procSeq.Lock()
	procSeq.n++
	n := procSeq.n
	procSeq.Unlock()
	logPath := filepath.Join(t.TempDir(), fmt.Sprintf("%s-%d.log", program, n))
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binaries(t), program), args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", program, err)
	}
	p := &proc{t: t, name: fmt.Sprintf("%s#%d", program, n), cmd: cmd, out: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- %s %s (pid %d) log tail:\n%s", p.name, strings.Join(args, " "), cmd.Process.Pid, tail(p.output(), 150))
		}
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL to the process group and waits for the exit.
func (p *proc) kill() {
	if p.running() {
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	}
	<-p.done
}

// signal sends sig to the process (not its group).
func (p *proc) signal(sig syscall.Signal) {
	_ = p.cmd.Process.Signal(sig)
}

// wait waits up to d for the exit and returns the exit code.
func (p *proc) wait(d time.Duration) (int, error) {
	select {
	case <-p.done:
	case <-time.After(d):
		// A Go program prints every goroutine's stack on SIGQUIT: the log
		// then shows where it hangs.
		p.signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
		return -1, fmt.Errorf("%s still running after %s (sent SIGQUIT for a stack dump)", p.name, d)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if p.err != nil {
		return -1, p.err
	}
	return 0, nil
}

func (p *proc) output() string {
	b, _ := os.ReadFile(p.out)
	return string(b)
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// result is a finished CLI run.
type result struct {
	code   int
	stdout string
	stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, tail(r.stdout, 30), tail(r.stderr, 40))
}

// summary decodes the --json summary from stdout (or stderr).
func (r result) summary(t testing.TB) map[string]any {
	t.Helper()
	for _, s := range []string{r.stdout, r.stderr} {
		i := strings.Index(s, "{\n  \"command\"")
		if i < 0 {
			continue
		}
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(s[i:]))
		if err := dec.Decode(&m); err == nil {
			return m
		}
	}
	t.Fatalf("no JSON summary in output:\n%s", r)
	return nil
}

// redstage runs the CLI to completion (bounded by timeout).
func redstage(t testing.TB, env []string, timeout time.Duration, args ...string) result {
	t.Helper()
	bin := filepath.Join(binaries(t), "redstage") // building is not part of the timeout
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("redstage %s: still running after %s\n%s", strings.Join(args, " "), timeout, r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("redstage %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustRedstage runs the CLI and fails the test unless it exits 0.
func mustRedstage(t testing.TB, env []string, timeout time.Duration, args ...string) result {
	t.Helper()
	r := redstage(t, env, timeout, args...)
	if r.code != 0 {
		t.Fatalf("redstage %s:\n%s", strings.Join(args, " "), r)
	}
	return r
}

// poll calls fn until it returns nil or the deadline passes.
func poll(t testing.TB, d time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	wait := 20 * time.Millisecond
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not done after %s: %v", what, d, err)
		}
		time.Sleep(wait) // polling interval, not synchronisation: fn decides
		if wait < 200*time.Millisecond {
			wait *= 2
		}
	}
}

// testCluster is a NATS server in the test process, a coordinator process
// and worker processes: the deployment of deploy/k8s in miniature.
type testCluster struct {
	t       testing.TB
	nats    *cluster.NATSServer
	url     string
	coord   *proc
	workers []*proc
	client  *cluster.Client
	// coordArgs are the coordinator's flags (kept for restarts).
	coordArgs []string
	natsCfg   cluster.NATSConfig // kept for restartNATS
}

// fastFailover is the coordinator tuning of the fault tests: a task whose
// worker died is redelivered after 2s, failures are retried quickly.
var fastFailover = []string{"--ack-wait", "2s", "--retry-backoff", "100ms", "--max-retry-backoff", "1s", "--max-attempts", "4"}

// startCluster starts NATS (in the test process), one coordinator and n
// workers, and waits until the coordinator answers and the workers report.
func startCluster(t testing.TB, workers int, coordArgs ...string) *testCluster {
	t.Helper()
	return startClusterNATS(t, workers, nil, coordArgs...)
}

// startClusterNATS is startCluster with a hook on the NATS server's config.
func startClusterNATS(t testing.TB, workers int, tune func(*cluster.NATSConfig), coordArgs ...string) *testCluster {
	t.Helper()
	binaries(t)
	cfg := cluster.DefaultNATSConfig()
	cfg.StoreDir = t.TempDir()
	cfg.MaxPayload = 8 << 20
	if tune != nil {
		tune(&cfg)
	}
	ns, err := cluster.StartNATS(cfg)
	if err != nil {
		t.Fatalf("starting NATS: %v", err)
	}
	t.Cleanup(func() { ns.Shutdown() })
	tc := &testCluster{t: t, nats: ns, url: ns.URL(), coordArgs: coordArgs, natsCfg: cfg}
	tc.startCoordinator()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tc.client, err = cluster.Connect(ctx, tc.url, cluster.DefaultClientConfig())
	if err != nil {
		t.Fatalf("connecting a client: %v", err)
	}
	t.Cleanup(func() { tc.client.Close() })
	poll(t, 30*time.Second, "coordinator answering", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := tc.client.List(ctx)
		return err
	})
	for i := 0; i < workers; i++ {
		tc.addWorker()
	}
	tc.waitWorkers(workers)
	return tc
}

// restartNATS stops the NATS server and starts it again on the same port
// and store; every program reconnects.
func (tc *testCluster) restartNATS() {
	tc.t.Helper()
	u, err := url.Parse(tc.url)
	if err != nil {
		tc.t.Fatal(err)
	}
	cfg := tc.natsCfg
	if cfg.Port, err = strconv.Atoi(u.Port()); err != nil {
		tc.t.Fatal(err)
	}
	_ = tc.nats.Shutdown()
	ns, err := cluster.StartNATS(cfg)
	if err != nil {
		tc.t.Fatalf("restarting NATS: %v", err)
	}
	tc.t.Cleanup(func() { ns.Shutdown() })
	tc.nats = ns
}

func (tc *testCluster) startCoordinator() {
	args := append([]string{"--nats", tc.url}, tc.coordArgs...)
	tc.coord = startProc(tc.t, "coordinator", childEnv(), args...)
}

func (tc *testCluster) addWorker(extra ...string) *proc {
	args := append([]string{"--nats", tc.url, "--concurrency", "2", "--heartbeat", "500ms"}, extra...)
	w := startProc(tc.t, "worker", childEnv(), args...)
	tc.workers = append(tc.workers, w)
	return w
}

// liveWorkers returns the worker records of running worker processes.
func (tc *testCluster) liveWorkers() ([]cluster.WorkerInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ws, err := tc.client.Workers(ctx)
	if err != nil {
		return nil, err
	}
	pids := map[int]bool{}
	for _, w := range tc.workers {
		if w.running() {
			pids[w.pid()] = true
		}
	}
	var live []cluster.WorkerInfo
	for _, w := range ws {
		if pids[w.PID] {
			live = append(live, w)
		}
	}
	return live, nil
}

func (tc *testCluster) waitWorkers(n int) {
	tc.t.Helper()
	poll(tc.t, 30*time.Second, fmt.Sprintf("%d workers reporting", n), func() error {
		live, err := tc.liveWorkers()
		if err != nil {
			return err
		}
		if len(live) < n {
			return fmt.Errorf("%d of %d workers report", len(live), n)
		}
		return nil
	})
}

// workerProc returns the process of a worker record.
func (tc *testCluster) workerProc(pid int) *proc {
	for _, w := range tc.workers {
		if w.pid() == pid {
			return w
		}
	}
	return nil
}

// env returns the CLI environment for this cluster and a Redis URL.
func (tc *testCluster) env(redisURL string) []string {
	return childEnv("REDSTAGE_NATS_URL="+tc.url, "REDSTAGE_REDIS_URL="+redisURL, "REDSTAGE_LOG_LEVEL=info")
}

// jobOf waits for the newest job of kind to appear and returns its id.
func (tc *testCluster) jobOf(kind cluster.Kind, after time.Time) string {
	tc.t.Helper()
	var id string
	poll(tc.t, 30*time.Second, "job "+string(kind)+" listed", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		list, err := tc.client.List(ctx)
		if err != nil {
			return err
		}
		// The newest job of the kind created after the command started: a
		// job of an earlier subtest can be less than a second older.
		var newest time.Time
		for _, j := range list {
			if j.Kind == kind && !j.Created.Before(after) && j.Created.After(newest) {
				id, newest = j.ID, j.Created
			}
		}
		if id != "" {
			return nil
		}
		return fmt.Errorf("no %s job yet among %d", kind, len(list))
	})
	return id
}

// status returns a job's status.
func (tc *testCluster) status(id string) (*cluster.JobStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return tc.client.Status(ctx, id)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func splitLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitIdle polls until no live worker runs a task.
func (tc *testCluster) waitIdle(t testing.TB, within time.Duration, what string) {
	t.Helper()
	poll(t, within, what, func() error {
		live, err := tc.liveWorkers()
		if err != nil {
			return err
		}
		for _, w := range live {
			if w.Running > 0 {
				return fmt.Errorf("worker %s still runs %d tasks", w.ID, w.Running)
			}
		}
		return nil
	})
}
