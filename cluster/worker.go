package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
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
	// HeartbeatInterval of worker liveness records (5s).
	HeartbeatInterval time.Duration
}

// DefaultWorkerConfig returns the defaults.
func DefaultWorkerConfig() WorkerConfig {
	return WorkerConfig{
		Logger:            hclog.NewNullLogger(),
		Concurrency:       1,
		FetchTimeout:      500 * time.Millisecond,
		DrainTimeout:      10 * time.Second,
		HeartbeatInterval: 5 * time.Second,
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
	if c.DrainTimeout < 0 || c.FrameBytes < 0 {
		errs = append(errs, errors.New("DrainTimeout and FrameBytes must not be negative"))
	}
	if c.HeartbeatInterval <= 0 {
		errs = append(errs, errors.New("HeartbeatInterval must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("worker config: %w", err)
	}
	return nil
}

// Worker pulls tasks from the work queue and runs them against Redis.
type Worker struct {
	nc  *nats.Conn
	cfg WorkerConfig
}

// NewWorker checks cfg and returns a worker using nc (not closed by the worker).
func NewWorker(nc *nats.Conn, cfg WorkerConfig) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Worker{nc: nc, cfg: cfg}, nil
}

// ID returns the worker id.
func (w *Worker) ID() string { return w.cfg.ID }

// Run pulls and runs tasks until ctx is cancelled, then drains: it stops
// pulling, lets running tasks finish within DrainTimeout, hands back (Nak)
// those that do not, and returns nil. It waits for the coordinator to have
// created the work queue.
func (w *Worker) Run(ctx context.Context) error { return ErrNotImplemented }
