package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// NATSConfig configures an in-process NATS server with JetStream.
type NATSConfig struct {
	Host       string // listen host (default 127.0.0.1)
	Port       int    // listen port; -1 = random free port (default)
	NoListen   bool   // in-process connections only (URL returns "")
	StoreDir   string // JetStream store; "" = a temp dir removed at Shutdown
	MaxPayload int32  // 0 = server default (1 MiB)
	// MaxStore caps JetStream's file store in bytes (nats-server's
	// max_file_store; 0 = the server default, 75% of the disk's free space).
	// When it is reached the store refuses writes and jobs fail with
	// ErrStoreFull (see the package doc, "Storage").
	MaxStore     int64
	Logger       hclog.Logger
	StartTimeout time.Duration // default 10s
}

// DefaultNATSConfig returns the defaults.
func DefaultNATSConfig() NATSConfig {
	return NATSConfig{Host: "127.0.0.1", Port: -1, Logger: hclog.NewNullLogger(), StartTimeout: 10 * time.Second}
}

// Validate checks the configuration.
func (c NATSConfig) Validate() error {
	if c.Port < -1 || c.Port > 65535 {
		return fmt.Errorf("nats config: port %d: want -1 (random) to 65535", c.Port)
	}
	if c.MaxPayload < 0 || c.MaxPayload > 64<<20 {
		return fmt.Errorf("nats config: max payload %d: want 0 (default) to 64 MiB", c.MaxPayload)
	}
	if c.StartTimeout <= 0 {
		return errors.New("nats config: StartTimeout must be positive")
	}
	if c.MaxStore < 0 {
		return fmt.Errorf("nats config: MaxStore %d: want 0 (server default) or a size in bytes", c.MaxStore)
	}
	return nil
}

// NATSServer is a running in-process NATS server.
type NATSServer struct {
	ns      *server.Server
	tempDir string
	once    sync.Once
	stop    chan struct{} // closed at Shutdown: ends the JetStream watchdog
	wg      sync.WaitGroup
}

// StartNATS starts an in-process NATS server with JetStream.
func StartNATS(cfg NATSConfig) (*NATSServer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	s := &NATSServer{}
	dir := cfg.StoreDir
	if dir == "" {
		d, err := newTempStore(cfg.Logger)
		if err != nil {
			return nil, err
		}
		dir, s.tempDir = d, d
	}
	host := cfg.Host
	if host == "" {
		host = "127.0.0.1"
	}
	opts := &server.Options{
		ServerName: "redstage-embedded",
		Host:       host,
		Port:       cfg.Port,
		DontListen: cfg.NoListen,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		MaxPayload: cfg.MaxPayload,
		// JetStreamMaxStore 0 lets the server size the store from the disk.
		JetStreamMaxStore: cfg.MaxStore,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		s.removeTemp()
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	ns.SetLoggerV2(natsLogger{cfg.Logger.Named("nats")}, false, false, false)
	go ns.Start()
	if !ns.ReadyForConnections(cfg.StartTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		s.removeTemp()
		return nil, fmt.Errorf("embedded NATS: not ready within %s (port %d in use? store %s writable?)", cfg.StartTimeout, cfg.Port, dir)
	}
	s.ns = ns
	s.stop = make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.reviveJetStream(opts, cfg.Logger)
	}()
	return s, nil
}

// jetStreamRecheck is how often the server's JetStream health is checked.
const jetStreamRecheck = 2 * time.Second

// reviveFree is the free space a store's disk needs before JetStream is
// restarted to clear a write error.
const reviveFree = 4 << 20

// reviveJetStream brings JetStream back after its store ran out of disk,
// without restarting the process: nats-server marks a stream whose write
// failed (ENOSPC) as broken until JetStream restarts (its publishes get no
// reply), or switches JetStream off. Once the disk has room again, it
// restarts JetStream (what nats-server itself does on a config reload).
func (s *NATSServer) reviveJetStream(opts *server.Options, log hclog.Logger) {
	t := time.NewTicker(jetStreamRecheck)
	defer t.Stop()
	reported := false
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		broken := jetStreamWriteError(s.ns)
		if broken == "" && s.ns.JetStreamEnabled() {
			reported = false
			continue
		}
		if !reported {
			log.Error("JetStream store failed (disk full?): writes are refused until space returns", "store", opts.StoreDir, "error", broken)
			reported = true
		}
		if free, err := freeBytes(opts.StoreDir); err == nil && free < reviveFree {
			continue
		}
		if s.ns.JetStreamEnabled() {
			_ = s.ns.ShutdownJetStream()
		}
		err := s.ns.EnableJetStream(&server.JetStreamConfig{
			StoreDir: opts.StoreDir, MaxStore: opts.JetStreamMaxStore, MaxMemory: opts.JetStreamMaxMemory,
			SyncInterval: opts.SyncInterval, SyncAlways: opts.SyncAlways, Strict: !opts.NoJetStreamStrict,
		})
		if err != nil {
			log.Warn("restarting JetStream failed, retrying", "error", err, "every", jetStreamRecheck)
			continue
		}
		log.Warn("JetStream restarted: its store has room again", "store", opts.StoreDir)
		reported = false
	}
}

// jetStreamWriteError returns a stream's write error reported by the
// server's health check ("" if none).
func jetStreamWriteError(ns *server.Server) string {
	if !ns.JetStreamEnabled() {
		return "JetStream is off"
	}
	h := ns.Healthz(&server.HealthzOptions{Details: true})
	for _, e := range h.Errors {
		if strings.Contains(e.Error, "write error") {
			return e.Error
		}
	}
	return ""
}

// freeBytes returns the space available to unprivileged users on the
// file system of dir.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// Server returns the nats-server instance.
func (s *NATSServer) Server() *server.Server { return s.ns }

// URL returns the client URL ("" when NoListen).
func (s *NATSServer) URL() string {
	if s.ns.Addr() == nil {
		return ""
	}
	return s.ns.ClientURL()
}

// Connect returns a new in-process connection to the server.
func (s *NATSServer) Connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(s.ns), nats.Name(name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connecting to embedded NATS: %w", err)
	}
	return nc, nil
}

// Shutdown stops the server and removes a temporary store. Idempotent.
func (s *NATSServer) Shutdown() error {
	s.once.Do(func() {
		close(s.stop)
		s.wg.Wait()
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
		s.removeTemp()
	})
	return nil
}

func (s *NATSServer) removeTemp() {
	if s.tempDir != "" {
		_ = os.RemoveAll(s.tempDir)
		tempStores.Lock()
		delete(tempStores.dirs, s.tempDir)
		tempStores.Unlock()
	}
}

// Temporary stores ("" StoreDir) are named redstage-nats-* in os.TempDir()
// and hold a file naming the process that owns them. They are removed at
// Shutdown, by RemoveTempStores (a program exiting without Shutdown), and,
// if their owner died without either (kill -9), by the next StartNATS.
const (
	tempStorePattern = "redstage-nats-*"
	tempStoreOwner   = "redstage-owner.pid"
)

var tempStores struct {
	sync.Mutex
	dirs map[string]bool
}

// RemoveTempStores removes the temporary stores of this process's running
// NATS servers: for a program about to exit without shutting them down
// (say, on a second SIGINT). The servers must not be used afterwards.
func RemoveTempStores() {
	tempStores.Lock()
	defer tempStores.Unlock()
	for d := range tempStores.dirs {
		_ = os.RemoveAll(d)
		delete(tempStores.dirs, d)
	}
}

// newTempStore creates a temporary store dir owned by this process, after
// removing those of owners that no longer run.
func newTempStore(log hclog.Logger) (string, error) {
	sweepTempStores(log)
	d, err := os.MkdirTemp("", tempStorePattern)
	if err != nil {
		return "", fmt.Errorf("embedded NATS: creating a store dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(d, tempStoreOwner), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		_ = os.RemoveAll(d)
		return "", fmt.Errorf("embedded NATS: writing the store's owner: %w", err)
	}
	tempStores.Lock()
	if tempStores.dirs == nil {
		tempStores.dirs = map[string]bool{}
	}
	tempStores.dirs[d] = true
	tempStores.Unlock()
	return d, nil
}

// sweepTempStores removes temporary stores whose owner process is gone.
// A store without an owner file, or whose owner runs, is left alone.
func sweepTempStores(log hclog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempStorePattern))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, tempStoreOwner))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || pid == os.Getpid() || processRuns(pid) {
			continue
		}
		if err := os.RemoveAll(d); err == nil {
			log.Info("removed the temporary NATS store of a process that is gone", "dir", d, "pid", pid)
		}
	}
}

// processRuns reports whether a process with that id exists (signal 0).
func processRuns(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// natsLogger adapts hclog to nats-server's logger.
type natsLogger struct{ l hclog.Logger }

func (n natsLogger) Noticef(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n natsLogger) Warnf(format string, v ...any)   { n.l.Warn(fmt.Sprintf(format, v...)) }
func (n natsLogger) Fatalf(format string, v ...any)  { n.l.Error(fmt.Sprintf(format, v...)) }
func (n natsLogger) Errorf(format string, v ...any)  { n.l.Error(fmt.Sprintf(format, v...)) }
func (n natsLogger) Debugf(format string, v ...any)  { n.l.Trace(fmt.Sprintf(format, v...)) }
func (n natsLogger) Tracef(format string, v ...any)  { n.l.Trace(fmt.Sprintf(format, v...)) }

// EmbeddedConfig configures StartEmbedded.
type EmbeddedConfig struct {
	NATS        NATSConfig
	Coordinator CoordinatorConfig
	Worker      WorkerConfig // config of each in-process worker (ID is derived)
	Workers     int          // in-process workers (0 = one per CPU)
	Client      ClientConfig
	Logger      hclog.Logger // default for the parts whose Logger is nil
}

// DefaultEmbeddedConfig returns the defaults.
// The parts' loggers are nil so that they inherit Logger.
func DefaultEmbeddedConfig() EmbeddedConfig {
	c := EmbeddedConfig{
		NATS:        DefaultNATSConfig(),
		Coordinator: DefaultCoordinatorConfig(),
		Worker:      DefaultWorkerConfig(),
		Client:      DefaultClientConfig(),
		Logger:      hclog.NewNullLogger(),
	}
	c.NATS.Logger, c.Coordinator.Logger, c.Worker.Logger, c.Client.Logger = nil, nil, nil, nil
	return c
}

// Validate checks the configuration.
func (c EmbeddedConfig) Validate() error {
	if c.Workers < 0 {
		return fmt.Errorf("embedded config: Workers %d: want 0 (one per CPU) or more", c.Workers)
	}
	if err := c.NATS.Validate(); err != nil {
		return err
	}
	if err := c.Coordinator.Validate(); err != nil {
		return err
	}
	if err := c.Worker.Validate(); err != nil {
		return err
	}
	return c.Client.Validate()
}

// Embedded is an in-process redstage cluster: NATS server, coordinator and
// workers, all speaking the same protocol as separate processes.
type Embedded struct {
	nats   *NATSServer
	coord  *Coordinator
	conns  []*nats.Conn
	client *Client
	nc     *nats.Conn

	workerStop context.CancelFunc
	workerWG   sync.WaitGroup
	coordStop  context.CancelFunc
	coordWG    sync.WaitGroup
	once       sync.Once
}

// StartEmbedded starts the NATS server, the coordinator and the workers and
// returns once they are ready. Cancelling ctx does not stop them; Close does.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Embedded, error) {
	return startEmbedded(ctx, cfg, nil)
}

// startEmbedded lets tests substitute the executor (nil = shard's).
func startEmbedded(ctx context.Context, cfg EmbeddedConfig, newExec func() executor) (_ *Embedded, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	for _, l := range []*hclog.Logger{&cfg.NATS.Logger, &cfg.Coordinator.Logger, &cfg.Worker.Logger, &cfg.Client.Logger} {
		if *l == nil {
			*l = cfg.Logger
		}
	}
	if newExec == nil {
		newExec = func() executor { return newShardExecutor(cfg.Logger) }
	}
	n := cfg.Workers
	if n == 0 {
		n = runtime.NumCPU()
	}
	ns, err := StartNATS(cfg.NATS)
	if err != nil {
		return nil, err
	}
	e := &Embedded{nats: ns}
	defer func() {
		if err != nil {
			_ = e.Close()
		}
	}()
	conn := func(name string) (*nats.Conn, error) {
		nc, err := ns.Connect(name)
		if err == nil {
			e.conns = append(e.conns, nc)
		}
		return nc, err
	}
	cnc, err := conn("redstage-coordinator")
	if err != nil {
		return nil, err
	}
	coord, err := newCoordinator(ctx, cnc, cfg.Coordinator, newExec())
	if err != nil {
		return nil, err
	}
	e.coord = coord
	cctx, cstop := context.WithCancel(context.Background())
	e.coordStop = cstop
	e.coordWG.Add(1)
	go func() {
		defer e.coordWG.Done()
		if err := coord.Run(cctx); err != nil {
			cfg.Logger.Error("embedded coordinator stopped", "error", err)
		}
	}()
	wctx, wstop := context.WithCancel(context.Background())
	e.workerStop = wstop
	for i := range n {
		wnc, err := conn(fmt.Sprintf("redstage-worker-%d", i))
		if err != nil {
			return nil, err
		}
		wcfg := cfg.Worker
		if wcfg.ID == "" {
			wcfg.ID = fmt.Sprintf("embedded-%d-%s", i, randomToken(4))
		} else {
			wcfg.ID = fmt.Sprintf("%s-%d", wcfg.ID, i)
		}
		w := newWorker(wnc, wcfg, newExec())
		e.workerWG.Add(1)
		go func() {
			defer e.workerWG.Done()
			if err := w.Run(wctx); err != nil {
				cfg.Logger.Error("embedded worker stopped", "worker", wcfg.ID, "error", err)
			}
		}()
	}
	e.nc, err = conn("redstage-client")
	if err != nil {
		return nil, err
	}
	e.client, err = NewClient(e.nc, cfg.Client)
	if err != nil {
		return nil, err
	}
	// Ready: the coordinator answers requests.
	if err := waitService(ctx, e.nc, cfg.NATS.StartTimeout); err != nil {
		return nil, err
	}
	return e, nil
}

// waitService waits until a coordinator answers micro's PING.
func waitService(ctx context.Context, nc *nats.Conn, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	subj := "$SRV.PING." + serviceName
	for {
		rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, err := nc.RequestWithContext(rctx, subj, nil)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("embedded coordinator not answering within %s: %w", timeout, err)
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
}

// Conn returns a connection to the embedded server (owned by Embedded).
func (e *Embedded) Conn() *nats.Conn { return e.nc }

// URL returns the client URL of the embedded server ("" when NoListen).
func (e *Embedded) URL() string { return e.nats.URL() }

// NATS returns the embedded NATS server.
func (e *Embedded) NATS() *NATSServer { return e.nats }

// Client returns a Client on Conn.
func (e *Embedded) Client() *Client { return e.client }

// Close stops, in order: workers (drained), coordinator, client connection,
// NATS server; then removes a temporary store. Idempotent.
func (e *Embedded) Close() error {
	e.once.Do(func() {
		if e.workerStop != nil {
			e.workerStop()
			e.workerWG.Wait()
		}
		if e.coordStop != nil {
			e.coordStop()
			e.coordWG.Wait()
		}
		if e.coord != nil {
			_ = e.coord.Close()
		}
		if e.client != nil {
			_ = e.client.Close()
		}
		for _, nc := range e.conns {
			nc.Close()
		}
		_ = e.nats.Shutdown()
	})
	return nil
}
