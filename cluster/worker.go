package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/internal/version"
)

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	Logger      hclog.Logger
	ID          string // unique worker id ("" = host-pid-random)
	Concurrency int    // tasks run at once (default 1)
	// FetchTimeout bounds one wait for a task, and so how long Run takes to
	// notice cancellation when idle (default 500ms).
	FetchTimeout time.Duration
	// DrainTimeout: on cancellation, running tasks get this long to finish;
	// then they are stopped and handed back (Nak) for another worker (10s).
	DrainTimeout time.Duration
	// FrameBytes caps a result frame (0 = the connection's max payload
	// minus 16 KiB for headers).
	FrameBytes int
	// FrameCompression of result frames ("" = none; lz4 or zstd trade CPU
	// for stream bytes).
	FrameCompression codec.Compression
	// HeartbeatInterval of worker liveness records (5s; at most 10s so a
	// live worker never drops out of the 30s listing window).
	HeartbeatInterval time.Duration
	// RequestTimeout bounds every NATS request of a running task (a chunk
	// frame get, a result frame's publish ack, an event publish): a reply
	// lost on the way (say, while the server restarts) fails or retries
	// the request after this long instead of blocking the task (10s).
	RequestTimeout time.Duration
}

// DefaultWorkerConfig returns the defaults.
func DefaultWorkerConfig() WorkerConfig {
	return WorkerConfig{
		Logger:            hclog.NewNullLogger(),
		Concurrency:       1,
		FetchTimeout:      500 * time.Millisecond,
		DrainTimeout:      10 * time.Second,
		HeartbeatInterval: 5 * time.Second,
		RequestTimeout:    10 * time.Second,
	}
}

// Validate checks the configuration.
func (c WorkerConfig) Validate() error {
	var errs []error
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("Concurrency %d: want at least 1", c.Concurrency))
	}
	if c.FetchTimeout < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("FetchTimeout %s: want at least 10ms", c.FetchTimeout))
	}
	if c.RequestTimeout < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("RequestTimeout %s: want at least 100ms", c.RequestTimeout))
	}
	if c.DrainTimeout < 0 || c.FrameBytes < 0 {
		errs = append(errs, errors.New("DrainTimeout and FrameBytes must not be negative"))
	}
	if c.HeartbeatInterval <= 0 || c.HeartbeatInterval > workerTTL/3 {
		errs = append(errs, fmt.Errorf("HeartbeatInterval %s: want more than 0 and at most %s", c.HeartbeatInterval, workerTTL/3))
	}
	if _, err := codec.ParseCompression(string(c.FrameCompression)); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("worker config: %w", err)
	}
	return nil
}

// Worker pulls tasks from the work queue and runs them against Redis.
type Worker struct {
	nc   *nats.Conn
	cfg  WorkerConfig
	log  hclog.Logger
	exec executor
	id   string
	// hooks lets tests observe or interfere with task execution.
	hooks workerHooks

	js      jetstream.JetStream
	in      *infra
	started time.Time

	mu       sync.Mutex
	runs     bool
	running  map[string]*runningTask // by attempt id
	done     atomic.Int64
	failed   atomic.Int64
	frameMax int
}

// workerHooks are test seams; nil functions are skipped.
type workerHooks struct {
	// beforeRun is called after a task's started event, before its body runs.
	beforeRun func(ctx context.Context, tm *taskMsg, attempt string, delivered int)
	// beforeAck is called after the complete event is stored, before the ack.
	beforeAck func(tm *taskMsg, attempt string)
	// loseHeartbeats drops the task heartbeats, as a network partition would.
	loseHeartbeats bool
}

type runningTask struct {
	job    string
	task   string
	cancel context.CancelCauseFunc
}

// Causes of a task's cancellation.
var (
	errJobEnded = errors.New("job ended")
	errDraining = errors.New("worker draining")
)

// NewWorker checks cfg and returns a worker using nc (not closed by the worker).
func NewWorker(nc *nats.Conn, cfg WorkerConfig) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newWorker(nc, cfg, newShardExecutor(cfg.Logger)), nil
}

func newWorker(nc *nats.Conn, cfg WorkerConfig, ex executor) *Worker {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	id := cfg.ID
	if id == "" {
		id = defaultWorkerID()
	}
	return &Worker{nc: nc, cfg: cfg, exec: ex, id: id, log: cfg.Logger.Named("worker").With("worker", id),
		running: map[string]*runningTask{}}
}

func defaultWorkerID() string {
	host, _ := os.Hostname()
	clean := make([]rune, 0, len(host))
	for _, r := range host {
		if validToken(string(r)) {
			clean = append(clean, r)
		}
	}
	if len(clean) > 32 {
		clean = clean[:32]
	}
	if len(clean) == 0 {
		clean = []rune("worker")
	}
	return fmt.Sprintf("%s-%d-%s", string(clean), os.Getpid(), randomToken(4))
}

// ID returns the worker id.
func (w *Worker) ID() string { return w.id }

// Run pulls and runs tasks until ctx is cancelled, then drains: it stops
// pulling, lets running tasks finish within DrainTimeout, hands back (Nak)
// those that do not, and returns nil. It waits for the coordinator to have
// created the work queue. Run may be called once.
func (w *Worker) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.runs {
		w.mu.Unlock()
		return errors.New("worker: Run called twice")
	}
	w.runs = true
	w.mu.Unlock()
	defer w.exec.Close()

	if err := w.bind(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	cons, err := w.consumer(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	sub, err := w.nc.Subscribe(subjCancelPrefix+"*", func(m *nats.Msg) {
		w.cancelJob(jobOfSubject(m.Subject, subjCancelPrefix))
	})
	if err != nil {
		return fmt.Errorf("worker: subscribing to cancellations: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	// Tasks run under hardCtx, which outlives ctx by the drain timeout.
	hardCtx, hardCancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer hardCancel(errDraining)

	var live sync.WaitGroup
	liveCtx, liveStop := context.WithCancel(context.WithoutCancel(ctx))
	live.Add(1)
	go func() {
		defer live.Done()
		w.heartbeat(liveCtx)
	}()

	w.log.Info("worker running", "concurrency", w.cfg.Concurrency)
	var pullers sync.WaitGroup
	for i := 0; i < w.cfg.Concurrency; i++ {
		pullers.Add(1)
		go func() {
			defer pullers.Done()
			w.pull(ctx, hardCtx, cons)
		}()
	}
	<-ctx.Done()
	w.drain(&pullers, hardCancel)
	liveStop()
	live.Wait()
	w.log.Info("worker stopped", "done", w.done.Load(), "failed", w.failed.Load())
	return nil
}

// drain waits for the pullers to finish their tasks; after DrainTimeout the
// remaining tasks are cancelled (and handed back by their pullers).
func (w *Worker) drain(pullers *sync.WaitGroup, hardCancel context.CancelCauseFunc) {
	finished := make(chan struct{})
	go func() {
		pullers.Wait()
		close(finished)
	}()
	if n := w.runningCount(); n > 0 {
		w.log.Info("draining", "running", n, "timeout", w.cfg.DrainTimeout)
	}
	t := time.NewTimer(w.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-finished:
	case <-t.C:
		w.log.Warn("drain timeout, handing back running tasks", "running", w.runningCount())
		hardCancel(errDraining)
		<-finished
	}
}

func (w *Worker) bind(ctx context.Context) error {
	js, err := jetstream.New(w.nc)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	w.js = js
	waiting := false
	in, err := waitInfra(ctx, js, time.Second, func(err error) {
		if !waiting {
			w.log.Info("waiting for a coordinator to create redstage's streams", "reason", err)
			waiting = true
		}
	})
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	w.in = in
	w.started = time.Now().UTC()
	w.frameMax = w.cfg.FrameBytes
	if w.frameMax == 0 {
		w.frameMax = int(w.nc.MaxPayload()) - frameHeadroom
	}
	if w.frameMax <= 0 || int64(w.frameMax) > w.nc.MaxPayload()-1024 {
		return fmt.Errorf("worker: FrameBytes %d does not fit the server's max payload %d", w.frameMax, w.nc.MaxPayload())
	}
	return nil
}

// frameHeadroom is what a result frame leaves of max_payload for headers.
const frameHeadroom = 16 << 10

func (w *Worker) consumer(ctx context.Context) (jetstream.Consumer, error) {
	for {
		cons, err := w.js.Consumer(ctx, streamTasks, consumerWorkers)
		if err == nil {
			return cons, nil
		}
		if !isNotFound(err) {
			return nil, fmt.Errorf("worker: binding consumer %s: %w", consumerWorkers, err)
		}
		sleepCtx(ctx, time.Second)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// pull fetches one task at a time until ctx ends.
func (w *Worker) pull(ctx, hardCtx context.Context, cons jetstream.Consumer) {
	for ctx.Err() == nil {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(w.cfg.FetchTimeout))
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("fetching tasks", "error", err)
				sleepCtx(ctx, w.cfg.FetchTimeout)
			}
			continue
		}
		for msg := range batch.Messages() {
			if ctx.Err() != nil {
				_ = msg.Nak() // fetched while shutting down: hand it back at once
				continue
			}
			w.handle(hardCtx, msg)
		}
	}
}

func (w *Worker) runningCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.running)
}

func (w *Worker) cancelJob(job string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, rt := range w.running {
		if rt.job == job {
			w.log.Info("stopping task of ended job", "job", job, "task", rt.task)
			rt.cancel(errJobEnded)
		}
	}
}

// heartbeat publishes the worker's liveness record until ctx ends, then removes it.
func (w *Worker) heartbeat(ctx context.Context) {
	host, _ := os.Hostname()
	t := time.NewTicker(w.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		w.mu.Lock()
		n := len(w.running)
		w.mu.Unlock()
		info := WorkerInfo{ID: w.id, Host: host, PID: os.Getpid(), Version: version.String(), Concurrency: w.cfg.Concurrency,
			Running: n, Done: w.done.Load(), Failed: w.failed.Load(), Started: w.started, Seen: time.Now().UTC()}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := putRecord(pctx, w.in.workers, w.id, info); err != nil && ctx.Err() == nil {
			w.log.Debug("worker heartbeat", "error", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = w.in.workers.Purge(dctx, w.id)
			cancel()
			return
		case <-t.C:
		}
	}
}
