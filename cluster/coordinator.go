package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
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
	if c.TaskTimeout <= 0 || c.ResultRetention <= 0 || c.JobRetention <= 0 || c.ValidateTimeout <= 0 {
		errs = append(errs, errors.New("TaskTimeout, ResultRetention, JobRetention and ValidateTimeout must be positive"))
	}
	if c.MaxAckPending < 1 || c.DefaultTasks < 0 {
		errs = append(errs, errors.New("MaxAckPending must be positive and DefaultTasks not negative"))
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
	nc  *nats.Conn
	cfg CoordinatorConfig
}

// NewCoordinator checks cfg and returns a coordinator using nc (not closed by
// Close). It creates redstage's streams, consumers and buckets if missing.
func NewCoordinator(ctx context.Context, nc *nats.Conn, cfg CoordinatorConfig) (*Coordinator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return nil, ErrNotImplemented
}

// Run serves requests and processes task events until ctx is cancelled,
// resuming unfinished jobs first. It returns nil on cancellation.
func (c *Coordinator) Run(ctx context.Context) error { return ErrNotImplemented }

// Close stops Run (if running) and waits for it. Idempotent.
func (c *Coordinator) Close() error { return nil }
