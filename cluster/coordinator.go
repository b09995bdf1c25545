package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/redstage/redstage/internal/version"
)

// CoordinatorConfig configures a Coordinator.
type CoordinatorConfig struct {
	Logger   hclog.Logger
	Replicas int // JetStream replicas of redstage's streams and buckets (1)
	// DefaultTasks is the number of partitions of a scan/infer/delete job
	// whose spec leaves Tasks at 0 (0 = shard's default).
	DefaultTasks int
	// Retry policy, carried in every task so workers apply it.
	MaxAttempts     int           // deliveries of a task before it fails (4)
	RetryBackoff    time.Duration // delay before the first retry, doubling (500ms)
	MaxRetryBackoff time.Duration // cap of the retry delay (5s)
	TaskTimeout     time.Duration // bound of one task execution (30m)
	// AckWait: a task whose worker stops heartbeating is redelivered after it (30s).
	AckWait         time.Duration
	MaxAckPending   int           // tasks out with workers at once (1024)
	ResultRetention time.Duration // MaxAge of result frames never read (24h)
	JobRetention    time.Duration // how long job and task records are kept (7 days)
	ValidateTimeout time.Duration // bound of the Redis check at submit (5s)
	// InputTimeout fails a load job whose uploader has sent nothing (no
	// chunk, no keepalive) for this long (5m).
	InputTimeout   time.Duration
	PollInterval   time.Duration // event fetch wait; bounds shutdown latency (500ms)
	RepairInterval time.Duration // how often unfinished jobs are re-checked (30s)
	// QueueAhead: planned tasks are released to the work queue one per
	// worker request waiting for a task, but at least this many are kept
	// waiting there (2). More hides the coordinator's release latency from
	// the workers; fewer lets a newly submitted job start sooner. With 2
	// workers, 1 left a worker idle so often that 8 scans took twice as
	// long as with 2 (BenchmarkFairShareMix). See the package doc, "Fair
	// share".
	QueueAhead int
}

// DefaultCoordinatorConfig returns the defaults.
func DefaultCoordinatorConfig() CoordinatorConfig {
	return CoordinatorConfig{
		Logger:          hclog.NewNullLogger(),
		Replicas:        1,
		MaxAttempts:     4,
		RetryBackoff:    500 * time.Millisecond,
		MaxRetryBackoff: 5 * time.Second,
		TaskTimeout:     30 * time.Minute,
		AckWait:         30 * time.Second,
		MaxAckPending:   1024,
		ResultRetention: 24 * time.Hour,
		JobRetention:    7 * 24 * time.Hour,
		ValidateTimeout: 5 * time.Second,
		InputTimeout:    5 * time.Minute,
		PollInterval:    500 * time.Millisecond,
		RepairInterval:  30 * time.Second,
		QueueAhead:      2,
	}
}

// Validate checks the configuration.
func (c CoordinatorConfig) Validate() error {
	var errs []error
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("Replicas %d: want 1 to 5", c.Replicas))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("MaxAttempts %d: want at least 1", c.MaxAttempts))
	}
	if c.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("AckWait %s: want at least 1s", c.AckWait))
	}
	if c.RetryBackoff < 0 || c.MaxRetryBackoff < c.RetryBackoff {
		errs = append(errs, fmt.Errorf("RetryBackoff %s / MaxRetryBackoff %s: want 0 ≤ RetryBackoff ≤ MaxRetryBackoff", c.RetryBackoff, c.MaxRetryBackoff))
	}
	if c.TaskTimeout <= 0 || c.ResultRetention <= 0 || c.JobRetention <= 0 || c.ValidateTimeout <= 0 ||
		c.InputTimeout <= 0 || c.PollInterval <= 0 || c.RepairInterval <= 0 {
		errs = append(errs, errors.New("TaskTimeout, ResultRetention, JobRetention, ValidateTimeout, InputTimeout, PollInterval and RepairInterval must be positive"))
	}
	if c.MaxAckPending < 1 || c.DefaultTasks < 0 {
		errs = append(errs, errors.New("MaxAckPending must be positive and DefaultTasks not negative"))
	}
	if c.QueueAhead < 1 {
		errs = append(errs, fmt.Errorf("QueueAhead %d: want at least 1", c.QueueAhead))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("coordinator config: %w", err)
	}
	return nil
}

// Coordinator accepts jobs, plans and queues their tasks, picks each task's
// winning attempt and finishes jobs. Several coordinators may share a NATS
// system (they split requests and events; records are updated with CAS).
type Coordinator struct {
	nc    *nats.Conn
	cfg   CoordinatorConfig
	log   hclog.Logger
	js    jetstream.JetStream
	in    *infra
	exec  executor
	sched *scheduler

	mu       sync.Mutex
	started  bool
	closed   bool
	stopping bool
	cancel   context.CancelFunc
	done     chan struct{}
	handlers sync.WaitGroup
	planning map[string]bool // jobs this coordinator is planning now
}

// NewCoordinator checks cfg and returns a coordinator using nc (not closed by
// Close). It creates redstage's streams, consumers and buckets if missing.
func NewCoordinator(ctx context.Context, nc *nats.Conn, cfg CoordinatorConfig) (*Coordinator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newCoordinator(ctx, nc, cfg, newShardExecutor(cfg.Logger))
}

func newCoordinator(ctx context.Context, nc *nats.Conn, cfg CoordinatorConfig, ex executor) (*Coordinator, error) {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	in, err := ensureInfra(ctx, js, cfg)
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	c := &Coordinator{
		nc: nc, cfg: cfg, log: cfg.Logger.Named("coordinator"), js: js, in: in, exec: ex,
		done: make(chan struct{}), planning: map[string]bool{},
	}
	c.sched = newScheduler(c)
	return c, nil
}

// Run serves requests and processes task events until ctx is cancelled,
// resuming unfinished jobs first. It returns nil on cancellation.
func (c *Coordinator) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.started || c.closed {
		c.mu.Unlock()
		return errors.New("coordinator: Run called twice or after Close")
	}
	c.started = true
	ctx, cancel := context.WithCancel(ctx)
	c.cancel = cancel
	c.mu.Unlock()
	defer close(c.done)
	defer cancel()

	svc, err := c.startService(ctx)
	if err != nil {
		return err
	}
	defer c.stopService(svc)

	cons, err := c.js.Consumer(ctx, streamEvents, consumerCoordinator)
	if err != nil {
		return fmt.Errorf("coordinator: binding event consumer: %w", err)
	}
	c.log.Info("coordinator running", "service", serviceName)
	var sched sync.WaitGroup
	sched.Add(1)
	go func() {
		defer sched.Done()
		c.sched.run(ctx)
	}()
	defer func() {
		cancel()
		sched.Wait()
	}()
	c.repair(ctx)
	lastRepair := time.Now()
	for ctx.Err() == nil {
		batch, err := cons.Fetch(64, jetstream.FetchMaxWait(c.cfg.PollInterval))
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			c.log.Warn("fetching task events", "error", err)
			sleepCtx(ctx, c.cfg.PollInterval)
			continue
		}
		for msg := range batch.Messages() {
			c.handleEventMsg(ctx, msg)
			c.sched.poke()
		}
		if err := batch.Error(); err != nil && ctx.Err() == nil && !errors.Is(err, nats.ErrTimeout) {
			c.log.Warn("fetching task events", "error", err)
		}
		if time.Since(lastRepair) >= c.cfg.RepairInterval {
			c.repair(ctx)
			lastRepair = time.Now()
		}
	}
	c.log.Info("coordinator stopped")
	return nil
}

// Close stops Run (if running) and waits for it, then releases Redis
// connections. Idempotent.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	started := c.started
	if c.cancel != nil {
		c.cancel()
	}
	c.mu.Unlock()
	if started {
		<-c.done
	}
	return c.exec.Close()
}

func (c *Coordinator) startService(ctx context.Context) (micro.Service, error) {
	svc, err := micro.AddService(c.nc, micro.Config{
		Name:        serviceName,
		Version:     version.Semver(),
		Description: "redstage job coordinator",
	})
	if err != nil {
		return nil, fmt.Errorf("coordinator: starting service: %w", err)
	}
	grp := svc.AddGroup(strings.TrimSuffix(subjAPIPrefix, "."))
	eps := map[string]func(context.Context, micro.Request){
		opSubmit: c.serveSubmit,
		opStatus: c.serveStatus,
		opList:   c.serveList,
		opCancel: c.serveCancel,
		opChunk:  c.serveChunk,
		opInput:  c.serveInput,
	}
	for name, fn := range eps {
		if err := grp.AddEndpoint(name, c.async(ctx, fn)); err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("coordinator: adding endpoint %s: %w", name, err)
		}
	}
	return svc, nil
}

func (c *Coordinator) stopService(svc micro.Service) {
	if err := svc.Stop(); err != nil {
		c.log.Warn("stopping service", "error", err)
	}
	c.mu.Lock()
	c.stopping = true
	c.mu.Unlock()
	c.handlers.Wait()
}

// async runs a request handler on its own goroutine so a slow submit (Redis
// check, planning) does not hold up other requests; Run waits for them.
func (c *Coordinator) async(ctx context.Context, fn func(context.Context, micro.Request)) micro.HandlerFunc {
	return func(req micro.Request) {
		c.mu.Lock()
		if c.stopping {
			c.mu.Unlock()
			_ = req.Error(codeInternal, "coordinator shutting down", nil)
			return
		}
		c.handlers.Add(1)
		c.mu.Unlock()
		go func() {
			defer c.handlers.Done()
			fn(ctx, req)
		}()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (c *Coordinator) policy() retryPolicy {
	return retryPolicy{
		MaxAttempts: c.cfg.MaxAttempts,
		Backoff:     c.cfg.RetryBackoff,
		MaxBackoff:  c.cfg.MaxRetryBackoff,
		Timeout:     c.cfg.TaskTimeout,
		AckWait:     c.cfg.AckWait,
	}
}
