package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ServerBinary is the redis-server executable used by the harness.
var ServerBinary = "/usr/bin/redis-server"

// ReadyTimeout bounds how long the harness polls for a server or cluster to
// become ready.
var ReadyTimeout = 20 * time.Second

const setupHint = "redis-server not found: run scripts/setup.sh (installs it with apt-get)"

// ServerOptions configures one redis-server process.
type ServerOptions struct {
	// Persist turns on the append-only file (appendfsync everysec) so that
	// Kill followed by Restart keeps (almost all) data. Stop always saves an
	// RDB snapshot, so Stop followed by Restart keeps data either way.
	Persist bool
	// Cluster starts the server with cluster-enabled yes.
	Cluster bool
	// ClusterNodeTimeout is cluster-node-timeout in milliseconds (default 2000).
	ClusterNodeTimeout int
	// Password sets requirepass; the harness's own clients use it.
	Password string
	// Extra holds additional config lines ("name value").
	Extra []string
	// Version selects the redis-server: VersionDefault (the system's, 7.0
	// on Debian 12) or Version74 (7.4.1 from .cache/redis-stack, installed by
	// scripts/setup.sh; a missing install fails the test naming the command).
	Version string
	// Modules are loaded at start (ModuleSearch, ModuleJSON; Version74 only).
	Modules []string
}

// Server is one redis-server process. Its methods that can fail call
// t.Fatal, so call them from the test goroutine; the *Err variants return
// errors for use from other goroutines.
type Server struct {
	t       testing.TB
	opts    ServerOptions
	binary  string   // redis-server executable
	modules []string // --loadmodule paths
	dir     string
	port    int
	busPort int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	client *redis.Client
}

// StartServer starts a standalone redis-server and registers its cleanup.
func StartServer(t testing.TB) *Server {
	t.Helper()
	return StartServerWith(t, ServerOptions{})
}

// StartServerWith starts a redis-server with options and registers cleanup.
func StartServerWith(t testing.TB, opts ServerOptions) *Server {
	t.Helper()
	s, err := startServer(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// RequireBinary fails the test when the system's redis-server is missing.
func RequireBinary(t testing.TB) {
	t.Helper()
	RequireVersion(t, VersionDefault)
}

// RequireVersion fails the test when the redis-server of version (see
// ServerOptions.Version) is missing, naming the setup command.
func RequireVersion(t testing.TB, version string) {
	t.Helper()
	if _, _, err := serverBinary(version, nil); err != nil {
		t.Fatal(err)
	}
}

func startServer(t testing.TB, opts ServerOptions) (*Server, error) {
	bin, modules, err := serverBinary(opts.Version, opts.Modules)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, fmt.Errorf("creating server dir: %w", err)
	}
	s := &Server{t: t, opts: opts, binary: bin, modules: modules, dir: dir}
	t.Cleanup(func() {
		s.Kill()
		s.closeClient()
		if !t.Failed() {
			os.RemoveAll(dir)
		} else {
			t.Logf("redis-server %s kept its directory %s", s.Addr(), dir)
		}
	})
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if s.port, err = freePort(); err != nil {
			return nil, err
		}
		if opts.Cluster {
			if s.busPort, err = freePort(); err != nil {
				return nil, err
			}
		}
		if err := s.writeConfig(); err != nil {
			return nil, err
		}
		lastErr = s.launch()
		if lastErr == nil {
			return s, nil
		}
		if !strings.Contains(lastErr.Error(), "in use") {
			break
		}
	}
	return nil, lastErr
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) writeConfig() error {
	lines := []string{
		"bind 127.0.0.1",
		"port " + strconv.Itoa(s.port),
		"dir " + s.dir,
		"logfile " + filepath.Join(s.dir, "redis.log"),
		"daemonize no",
		`save ""`,
		"dbfilename dump.rdb",
		"protected-mode no",
		"databases 16",
		"repl-diskless-sync-delay 0",
	}
	if s.opts.Persist {
		lines = append(lines, "appendonly yes", "appendfsync everysec")
	} else {
		lines = append(lines, "appendonly no")
	}
	if s.opts.Cluster {
		timeout := s.opts.ClusterNodeTimeout
		if timeout <= 0 {
			timeout = 2000
		}
		lines = append(lines,
			"cluster-enabled yes",
			"cluster-config-file nodes.conf",
			"cluster-port "+strconv.Itoa(s.busPort),
			"cluster-node-timeout "+strconv.Itoa(timeout),
			"cluster-require-full-coverage no",
		)
	}
	if s.opts.Password != "" {
		lines = append(lines, "requirepass "+s.opts.Password, "masterauth "+s.opts.Password)
	}
	for _, m := range s.modules {
		lines = append(lines, "loadmodule "+m)
	}
	lines = append(lines, s.opts.Extra...)
	return os.WriteFile(filepath.Join(s.dir, "redis.conf"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// launch starts the process and polls until it answers PING.
func (s *Server) launch() error { return s.launchUntil(false) }

// launchUntil starts the process and polls until it answers PING, or, with
// loading, until it answers at all (LOADING while it reads its data set).
func (s *Server) launchUntil(loading bool) error {
	cmd := exec.Command(s.binary, filepath.Join(s.dir, "redis.conf"))
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.binary, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	probe := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: 200 * time.Millisecond,
		MaxRetries: -1, Protocol: 2, PoolSize: 1, DisableIdentity: true, Password: s.opts.Password})
	defer probe.Close()
	for {
		err := probe.Ping(ctx).Err()
		if err == nil || loading && strings.HasPrefix(err.Error(), "LOADING") {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server on port %d exited during startup: %s", s.port, s.logTail())
		case <-ctx.Done():
			s.killProcess()
			return fmt.Errorf("redis-server on port %d not ready after %v (last error %v): %s", s.port, ReadyTimeout, err, s.logTail())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if i := len(b) - 2000; i > 0 {
		b = b[i:]
	}
	return string(bytes.TrimSpace(b))
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's client port.
func (s *Server) Port() int { return s.port }

// BusPort is the cluster bus port (0 for standalone servers).
func (s *Server) BusPort() int { return s.busPort }

// URL is redis://[:password@]host:port.
func (s *Server) URL() string {
	if s.opts.Password != "" {
		return "redis://:" + s.opts.Password + "@" + s.Addr()
	}
	return "redis://" + s.Addr()
}

// Dir is the server's data directory.
func (s *Server) Dir() string { return s.dir }

// Client returns a client for the server (created once, closed at cleanup).
func (s *Server) Client() *redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = redis.NewClient(&redis.Options{Addr: s.Addr(), Protocol: 2, DisableIdentity: true,
			ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, Password: s.opts.Password})
	}
	return s.client
}

func (s *Server) closeClient() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		s.client.Close()
		s.client = nil
	}
}

// Running reports whether the process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exited == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL to the server's process group and waits for it to exit.
// Unsaved data is lost. Safe to call more than once.
func (s *Server) Kill() { s.killProcess() }

func (s *Server) killProcess() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
}

// Stop shuts the server down with SHUTDOWN SAVE (an RDB snapshot is written
// to its directory, so Restart keeps the data) and waits for it to exit.
func (s *Server) Stop() {
	s.t.Helper()
	if err := s.StopErr(); err != nil {
		s.t.Fatal(err)
	}
}

// StopErr is Stop returning an error instead of failing the test.
func (s *Server) StopErr() error {
	s.mu.Lock()
	exited := s.exited
	s.mu.Unlock()
	if exited == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), Protocol: 2, DisableIdentity: true, MaxRetries: -1, Password: s.opts.Password})
	defer c.Close()
	// SHUTDOWN does not reply when it succeeds; the connection just closes.
	_ = c.Do(ctx, "SHUTDOWN", "SAVE").Err()
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		s.killProcess()
		return fmt.Errorf("redis-server %s did not stop: %s", s.Addr(), s.logTail())
	}
}

// Restart starts the server again on the same port with the same directory
// (it is killed first if still running). Its run_id changes.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.RestartErr(); err != nil {
		s.t.Fatal(err)
	}
}

// RestartErr is Restart returning an error.
func (s *Server) RestartErr() error {
	s.killProcess()
	// The old listening socket is closed by the kernel when the process
	// dies; redis binds with SO_REUSEADDR, so the port is free again.
	var err error
	deadline := time.Now().Add(ReadyTimeout)
	for {
		if err = s.launch(); err == nil || time.Now().After(deadline) || !strings.Contains(err.Error(), "in use") {
			return err
		}
	}
}

// RestartLoading is RestartErr returning as soon as the server answers,
// while it may still be loading its data set (commands get LOADING errors
// until it is done), for tests of clients that meet a loading server.
func (s *Server) RestartLoading() error {
	s.killProcess()
	return s.launchUntil(true)
}

// RunID returns the server's current run_id.
func (s *Server) RunID(ctx context.Context) (string, error) {
	info, err := s.Client().Info(ctx, "server").Result()
	if err != nil {
		return "", fmt.Errorf("INFO server on %s: %w", s.Addr(), err)
	}
	v := InfoField(info, "run_id")
	if v == "" {
		return "", errors.New("INFO server has no run_id")
	}
	return v, nil
}

// FlushAll removes all data from the server.
func (s *Server) FlushAll() {
	s.t.Helper()
	if err := s.Client().FlushAll(context.Background()).Err(); err != nil {
		s.t.Fatalf("FLUSHALL on %s: %v", s.Addr(), err)
	}
}

// InfoField extracts "name:value" from an INFO reply.
func InfoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), name+":"); ok {
			return v
		}
	}
	return ""
}
