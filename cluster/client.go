package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redstage/redstage/codec"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	Logger hclog.Logger
	// RequestTimeout bounds a request to the coordinator; a submit includes
	// the Redis check and planning (default 30s).
	RequestTimeout time.Duration
	ChunkRows      int    // load: rows per uploaded chunk (default 65536)
	ChunkBytes     int    // load: approximate bytes per chunk (default 8 MiB)
	TempDir        string // sorted results: where runs are spilled ("" = os.TempDir())
	// ChunkCompression of uploaded load chunks ("" = none).
	ChunkCompression codec.Compression
	// MaxPendingChunks bounds the chunks uploaded but not yet written by
	// workers, so a fast reader does not copy a whole file into the store
	// ahead of the workers (default 16).
	MaxPendingChunks int
	// RetryFor: an uploading load keeps retrying its requests this long
	// while no coordinator answers (one restarting), then fails (2m).
	RetryFor time.Duration
	// FrameTimeout bounds one frame transfer with the store (a result
	// frame get, a chunk frame's publish ack): a reply lost on the way
	// is retried or fails the read instead of blocking it (10s).
	FrameTimeout time.Duration
}

// DefaultClientConfig returns the defaults.
func DefaultClientConfig() ClientConfig {
	return ClientConfig{
		Logger:           hclog.NewNullLogger(),
		RequestTimeout:   30 * time.Second,
		ChunkRows:        65536,
		ChunkBytes:       8 << 20,
		RetryFor:         2 * time.Minute,
		MaxPendingChunks: 16,
		FrameTimeout:     10 * time.Second,
	}
}

// Validate checks the configuration.
func (c ClientConfig) Validate() error {
	if c.RequestTimeout <= 0 || c.ChunkRows <= 0 || c.ChunkBytes <= 0 || c.MaxPendingChunks <= 0 || c.RetryFor < 0 || c.FrameTimeout <= 0 {
		return errors.New("client config: RequestTimeout, FrameTimeout, ChunkRows, ChunkBytes and MaxPendingChunks must be positive, RetryFor not negative")
	}
	if _, err := codec.ParseCompression(string(c.ChunkCompression)); err != nil {
		return fmt.Errorf("client config: %w", err)
	}
	return nil
}

// Client submits and follows jobs. It is safe for concurrent use.
type Client struct {
	nc  *nats.Conn
	cfg ClientConfig
	log hclog.Logger
	own bool
	js  jetstream.JetStream

	mu     sync.Mutex
	in     *infra
	closed bool
}

// Connect dials NATS at url and returns a Client that owns the connection.
func Connect(ctx context.Context, url string, cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := []nats.Option{nats.Name("redstage-client"), nats.MaxReconnects(-1)}
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(time.Until(dl)))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w (is the server running? without --nats redstage runs an embedded one)", url, err)
	}
	c, err := NewClient(nc, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.own = true
	return c, nil
}

// NewClient returns a Client on an existing connection (not closed by Close).
func NewClient(nc *nats.Conn, cfg ClientConfig) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return &Client{nc: nc, cfg: cfg, log: cfg.Logger.Named("client"), js: js}, nil
}

// Conn returns the NATS connection.
func (c *Client) Conn() *nats.Conn { return c.nc }

// Close closes the connection if the Client owns it. Idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.own {
		c.nc.Close()
	}
	return nil
}

// infra binds redstage's streams and buckets (once).
func (c *Client) infra(ctx context.Context) (*infra, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("client: %w", ErrClosed)
	}
	if c.in != nil {
		return c.in, nil
	}
	in, err := lookupInfra(ctx, c.js)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: redstage's streams do not exist on this NATS server (%v); start a coordinator", ErrNoCoordinator, err)
		}
		return nil, fmt.Errorf("client: %w", err)
	}
	c.in = in
	return in, nil
}

// request sends a request to the coordinator service and decodes the reply.
func (c *Client) request(ctx context.Context, op string, req, rep any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encoding %s request: %w", op, err)
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	msg, err := c.nc.RequestWithContext(rctx, subjAPIPrefix+op, b)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		where := "the embedded NATS server"
		if c.nc.Opts.InProcessServer == nil {
			where = "NATS " + c.nc.ConnectedUrlRedacted()
		}
		return fmt.Errorf("%s: %w on %s; start one (coordinator --nats URL) or run without --nats", op, ErrNoCoordinator, where)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return fmt.Errorf("%s: %w within %s: %w", op, ErrNoCoordinator, c.cfg.RequestTimeout, err)
	case err != nil:
		return fmt.Errorf("%s request: %w", op, err)
	}
	return decodeReply(msg, rep)
}

// requestRetry is request for idempotent requests: while no coordinator
// answers it retries, with backoff, for up to RetryFor.
func (c *Client) requestRetry(ctx context.Context, op string, req, rep any) error {
	deadline := time.Now().Add(c.cfg.RetryFor)
	delay := 100 * time.Millisecond
	for {
		err := c.request(ctx, op, req, rep)
		if err == nil || !errors.Is(err, ErrNoCoordinator) || time.Now().Add(delay).After(deadline) {
			return err
		}
		c.log.Warn("no coordinator answering, retrying", "request", op, "delay", delay)
		sleepCtx(ctx, delay)
		if ctx.Err() != nil {
			return err
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// Submit validates spec and submits a scan, infer or delete job. The
// coordinator rejects a spec that cannot run (ErrInvalidSpec,
// ErrRedisUnreachable, or a refusal by Redis wrapping shard.ErrAuth,
// shard.ErrNoPermission or shard.ErrBadDB) before any task runs.
func (c *Client) Submit(ctx context.Context, spec JobSpec) (*Job, error) {
	if spec.Kind == KindLoad {
		return nil, fmt.Errorf("%w: load jobs are submitted with Client.Load, which uploads their input", ErrInvalidSpec)
	}
	spec.Normalize()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	in, err := c.infra(ctx)
	if err != nil {
		return nil, err
	}
	var rep submitReply
	if err := c.request(ctx, opSubmit, submitRequest{Spec: spec}, &rep); err != nil {
		return nil, fmt.Errorf("submitting %s job: %w", spec.Kind, err)
	}
	c.log.Info("job submitted", "job", rep.ID, "kind", spec.Kind, "tasks", rep.Tasks)
	return c.newJob(in, rep.ID, spec)
}

// Attach returns a handle on an existing job.
func (c *Client) Attach(ctx context.Context, id string) (*Job, error) {
	in, err := c.infra(ctx)
	if err != nil {
		return nil, err
	}
	if !validToken(id) {
		return nil, fmt.Errorf("job %q: %w", id, ErrJobNotFound)
	}
	j, _, err := getRecord[jobRecord](ctx, in.jobs, id)
	if err != nil {
		return nil, err
	}
	if j == nil {
		return nil, fmt.Errorf("job %s: %w", id, ErrJobNotFound)
	}
	return c.newJob(in, id, j.Spec)
}

// Status returns the recorded state of a job (ErrJobNotFound if unknown).
// It reads the job records directly and works while no coordinator runs.
func (c *Client) Status(ctx context.Context, id string) (*JobStatus, error) {
	in, err := c.infra(ctx)
	if err != nil {
		return nil, err
	}
	return readStatus(ctx, in.jobs, id)
}

// List returns the jobs recorded (kept for CoordinatorConfig.JobRetention), newest first.
func (c *Client) List(ctx context.Context) ([]JobStatus, error) {
	in, err := c.infra(ctx)
	if err != nil {
		return nil, err
	}
	return listStatus(ctx, in.jobs, 0)
}

// Cancel cancels a job; workers stop its running tasks within seconds.
// Cancelling a finished job returns ErrJobFinished.
func (c *Client) Cancel(ctx context.Context, id string) error {
	if err := c.request(ctx, opCancel, idRequest{ID: id}, nil); err != nil {
		return fmt.Errorf("cancelling job %s: %w", id, err)
	}
	return nil
}

// Abandon cancels a job whose results will not be read, say because the
// output they were copied to was closed; reason is recorded in the job's
// state. Unlike Cancel it also ends a scan whose tasks have all
// succeeded (its state becomes cancelled), so its result frames are
// purged at once instead of after ResultRetention. Other finished jobs
// return ErrJobFinished.
func (j *Job) Abandon(ctx context.Context, reason string) error {
	if err := j.c.request(ctx, opCancel, cancelRequest{ID: j.id, Reason: reason, Abandon: true}, nil); err != nil {
		return fmt.Errorf("cancelling job %s: %w", j.id, err)
	}
	return nil
}

// Workers returns the live workers (those that heartbeated in the last 30s), by id.
func (c *Client) Workers(ctx context.Context) ([]WorkerInfo, error) {
	in, err := c.infra(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := in.workers.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return []WorkerInfo{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing workers: %w", err)
	}
	out := make([]WorkerInfo, 0, len(keys))
	for _, k := range keys {
		wi, _, err := getRecord[WorkerInfo](ctx, in.workers, k)
		if err != nil {
			return nil, err
		}
		if wi != nil {
			out = append(out, *wi)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out, nil
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

// LoadFiles opens paths with codec.OpenReader (streaming; "-" = stdin) and
// calls Load. An input that cannot be opened is returned as codec's error
// (a *codec.FileError naming the file) and nothing is submitted.
func (c *Client) LoadFiles(ctx context.Context, spec JobSpec, paths []string, read codec.ReadOptions) (*Job, error) {
	inputs := make([]LoadInput, 0, len(paths))
	for _, p := range paths {
		rd, err := codec.OpenReader(p, read)
		if err != nil {
			closeInputs(inputs)
			return nil, err
		}
		inputs = append(inputs, LoadInput{Name: p, Source: rd})
	}
	return c.Load(ctx, spec, inputs)
}

func closeInputs(inputs []LoadInput) {
	for _, in := range inputs {
		if in.Source != nil {
			_ = in.Source.Close()
		}
	}
}

// Load submits a load job (spec.Kind must be KindLoad) and streams the
// inputs to the cluster: it checks every input's schema against the key and
// TTL columns first (ErrInvalidSpec naming the input, nothing written), then
// cuts the rows into chunks of ClientConfig.ChunkRows / ChunkBytes, uploads
// each chunk and queues one task per chunk with its global row offset. It
// returns once the job is accepted; uploading continues in the background and
// its errors fail the job (see Job.Wait). Memory is bounded by a chunk.
func (c *Client) Load(ctx context.Context, spec JobSpec, inputs []LoadInput) (*Job, error) {
	job, err := c.load(ctx, spec, inputs)
	if err != nil {
		closeInputs(inputs)
	}
	return job, err
}

func (c *Client) load(ctx context.Context, spec JobSpec, inputs []LoadInput) (*Job, error) {
	if spec.Kind != KindLoad || spec.Load == nil {
		return nil, fmt.Errorf("%w: Load needs a load spec", ErrInvalidSpec)
	}
	if len(inputs) == 0 {
		return nil, fmt.Errorf("%w: load without input files", ErrInvalidSpec)
	}
	spec.Normalize()
	for i, in := range inputs {
		if in.Source == nil {
			return nil, fmt.Errorf("%w: input %d (%s) has no reader", ErrInvalidSpec, i, in.Name)
		}
		names := schemaNames(in.Source.Schema())
		if err := spec.Load.checkColumns(names, "input "+in.Name); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
		}
		if i == 0 {
			spec.Load.Columns = names
		}
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	in, err := c.infra(ctx)
	if err != nil {
		return nil, err
	}
	var rep submitReply
	if err := c.request(ctx, opSubmit, submitRequest{Spec: spec}, &rep); err != nil {
		return nil, fmt.Errorf("submitting load job: %w", err)
	}
	job, err := c.newJob(in, rep.ID, spec)
	if err != nil {
		return nil, err
	}
	c.log.Info("load job submitted, uploading input", "job", rep.ID, "inputs", len(inputs))
	job.startUpload(inputs)
	return job, nil
}

func schemaNames(s *arrow.Schema) []string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return names
}
