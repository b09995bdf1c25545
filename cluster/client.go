package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	Logger         hclog.Logger
	RequestTimeout time.Duration // per request to the coordinator (default 10s)
	ChunkRows      int           // load: rows per uploaded chunk (default 65536)
	ChunkBytes     int           // load: approximate bytes per chunk (default 8 MiB)
	TempDir        string        // sorted results: where runs are spilled ("" = os.TempDir())
}

// DefaultClientConfig returns the defaults.
func DefaultClientConfig() ClientConfig {
	return ClientConfig{
		Logger:         hclog.NewNullLogger(),
		RequestTimeout: 10 * time.Second,
		ChunkRows:      65536,
		ChunkBytes:     8 << 20,
	}
}

// Validate checks the configuration.
func (c ClientConfig) Validate() error {
	if c.RequestTimeout <= 0 || c.ChunkRows <= 0 || c.ChunkBytes <= 0 {
		return fmt.Errorf("client config: RequestTimeout, ChunkRows and ChunkBytes must be positive")
	}
	return nil
}

// Client submits and follows jobs. It is safe for concurrent use.
type Client struct {
	nc  *nats.Conn
	cfg ClientConfig
	own bool
}

// Connect dials NATS at url and returns a Client that owns the connection.
func Connect(ctx context.Context, url string, cfg ClientConfig) (*Client, error) {
	return nil, fmt.Errorf("connecting to %s: %w", url, ErrNotImplemented)
}

// NewClient returns a Client on an existing connection (not closed by Close).
func NewClient(nc *nats.Conn, cfg ClientConfig) (*Client, error) {
	return nil, ErrNotImplemented
}

// Conn returns the NATS connection.
func (c *Client) Conn() *nats.Conn { return c.nc }

// Close closes the connection if the Client owns it. Idempotent.
func (c *Client) Close() error { return nil }

// Submit validates spec and submits a scan, infer or delete job. The
// coordinator rejects a spec that cannot run (ErrInvalidSpec,
// ErrRedisUnreachable) before any task runs.
func (c *Client) Submit(ctx context.Context, spec JobSpec) (*Job, error) {
	return nil, ErrNotImplemented
}

// RecordSource is one load input; codec.RecordReader satisfies it. Load
// takes ownership and closes it.
type RecordSource interface {
	Schema() *arrow.Schema
	Next() (arrow.RecordBatch, error) // io.EOF at end; the caller releases the batch
	Close() error
}

// LoadInput names one input of a load job (the name appears in errors).
type LoadInput struct {
	Name   string
	Source RecordSource
}

// Load submits a load job (spec.Kind must be KindLoad) and streams the
// inputs to the cluster: it checks every input's schema against the key and
// TTL columns first (ErrInvalidSpec naming the input, nothing written), then
// cuts the rows into chunks of ClientConfig.ChunkRows / ChunkBytes, uploads
// each chunk and queues one task per chunk with its global row offset. It
// returns once the job is accepted; uploading continues in the background and
// its errors fail the job (see Job.Wait). Memory is bounded by a chunk.
func (c *Client) Load(ctx context.Context, spec JobSpec, inputs []LoadInput) (*Job, error) {
	return nil, ErrNotImplemented
}

// Attach returns a handle on an existing job.
func (c *Client) Attach(ctx context.Context, id string) (*Job, error) {
	return nil, ErrNotImplemented
}

// Status returns the recorded state of a job (ErrJobNotFound if unknown).
func (c *Client) Status(ctx context.Context, id string) (*JobStatus, error) {
	return nil, ErrNotImplemented
}

// List returns the jobs the coordinator knows, newest first.
func (c *Client) List(ctx context.Context) ([]JobStatus, error) {
	return nil, ErrNotImplemented
}

// Cancel cancels a job; workers stop its running tasks within seconds.
// Cancelling a finished job returns ErrJobFinished.
func (c *Client) Cancel(ctx context.Context, id string) error {
	return ErrNotImplemented
}

// Workers returns the live workers (those that heartbeated recently).
func (c *Client) Workers(ctx context.Context) ([]WorkerInfo, error) {
	return nil, ErrNotImplemented
}
