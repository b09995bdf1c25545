package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"

	"github.com/redstage/redstage/cluster"
)

// runtime is where a command's job runs: a remote cluster (--nats) or an
// embedded one started for this command.
type runtime struct {
	client *cluster.Client
	emb    *cluster.Embedded // nil when remote
	nc     *nats.Conn        // owned when remote
	log    hclog.Logger
}

// natsConnectTimeout bounds the first connection to a remote NATS server.
const natsConnectTimeout = 5 * time.Second

// openRuntime connects to the cluster named by g.NATS, or starts an
// embedded one when it is empty.
func (a *App) openRuntime(ctx context.Context, g *GlobalOptions, log hclog.Logger, tune ...func(*cluster.ClientConfig)) (*runtime, error) {
	ccfg := cluster.DefaultClientConfig()
	ccfg.Logger = quieter(log)
	ccfg.TempDir = g.TempDir
	for _, fn := range tune {
		fn(&ccfg)
	}
	a.setMemoryLimit(g.NATS == "", log)
	if g.NATS != "" {
		nc, err := connectNATS(ctx, g.NATS, "redstage-cli", log, natsOptions{Timeout: natsConnectTimeout, MaxReconnects: 240})
		if err != nil {
			return nil, err
		}
		cl, err := cluster.NewClient(nc, ccfg)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("cluster client: %w", err)
		}
		log.Debug("using cluster", "nats", RedactURL(g.NATS))
		return &runtime{client: cl, nc: nc, log: log}, nil
	}
	cfg := cluster.DefaultEmbeddedConfig()
	if cfg.NATS.MaxPayload = g.MaxPayload; cfg.NATS.MaxPayload == 0 {
		cfg.NATS.MaxPayload = DefaultMaxPayload
	}
	if cfg.NATS.MaxPayload < 1<<20 || cfg.NATS.MaxPayload > 64<<20 {
		return nil, usageErrorf("e.g. --max-payload 16777216", "--max-payload %d: want 1 MiB (1048576) to 64 MiB (67108864)", cfg.NATS.MaxPayload)
	}
	inner := quieter(log)
	cfg.Logger = inner
	cfg.NATS.Logger = inner
	cfg.NATS.NoListen = true
	cfg.Coordinator.Logger = inner
	cfg.Worker.Logger = inner
	cfg.Client = ccfg
	cfg.Workers = g.Workers
	// Shorter idle waits than a deployment's: the embedded cluster is shut
	// down after every command, and shutdown waits for them.
	cfg.Worker.FetchTimeout = 200 * time.Millisecond
	cfg.Coordinator.PollInterval = 200 * time.Millisecond
	start := time.Now()
	emb, err := cluster.StartEmbedded(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("starting the embedded cluster: %w", err)
	}
	log.Debug("embedded cluster started", "workers", g.Workers, "took", time.Since(start).Round(time.Millisecond))
	return &runtime{client: emb.Client(), emb: emb, log: log}, nil
}

// Close shuts the runtime down in order (embedded: workers, coordinator,
// connections, NATS server). Idempotent.
func (r *runtime) Close() error {
	if r == nil {
		return nil
	}
	var errs []error
	if r.emb != nil {
		errs = append(errs, r.emb.Close())
		r.emb = nil
	}
	if r.nc != nil {
		if r.client != nil {
			errs = append(errs, r.client.Close())
		}
		r.nc.Close()
		r.nc = nil
	}
	return errors.Join(errs...)
}

// natsOptions tune connectNATS.
type natsOptions struct {
	Timeout       time.Duration // first connection (each try)
	MaxReconnects int           // after a lost connection; -1 = forever
	// RetryFor keeps trying the first connection this long (daemons
	// started before NATS is ready); 0 = one try.
	RetryFor time.Duration
}

// connectNATS dials a NATS server with reconnect handling that logs what
// happens. Errors are *natsConnectError (exit code 5).
func connectNATS(ctx context.Context, url, name string, log hclog.Logger, o natsOptions) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(o.Timeout),
		nats.MaxReconnects(o.MaxReconnects),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("lost the NATS connection, reconnecting", "nats", RedactURL(url), "error", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("reconnected to NATS", "nats", RedactURL(nc.ConnectedUrlRedacted()))
		}),
	}
	deadline := time.Now().Add(o.RetryFor)
	for attempt := 1; ; attempt++ {
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			return nc, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, &natsConnectError{URL: RedactURL(url), Err: err}
		}
		log.Warn("NATS not reachable yet, retrying", "nats", RedactURL(url), "attempt", attempt, "error", err)
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &natsConnectError{URL: RedactURL(url), Err: ctx.Err()}
		case <-t.C:
		}
	}
}

// needCluster rejects commands that only make sense against a running cluster.
func needCluster(g *GlobalOptions, what string) error {
	if g.NATS == "" {
		return usageErrorf("pass --nats nats://host:4222 or set REDSTAGE_NATS_URL",
			"%s needs a running cluster (--nats URL or REDSTAGE_NATS_URL): the embedded cluster lives only as long as one command", what)
	}
	return nil
}

// submitErr adds the (redacted) Redis URL to an unreachable-Redis error
// when the coordinator's message does not name it.
func submitErr(g *GlobalOptions, err error) error {
	if errors.Is(err, cluster.ErrRedisUnreachable) {
		if red := RedactURL(g.Redis); !strings.Contains(err.Error(), hostOf(g.Redis)) {
			return fmt.Errorf("Redis at %s: %w", red, err)
		}
	}
	return err
}

// hostOf returns host:port of a URL ("" if unparsable).
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "\x00"
	}
	return u.Host
}

// Soft memory limits of the CLI (the Go runtime's GOMEMLIMIT), unless the
// user set GOMEMLIMIT. The live heap of a scan is small (a few record
// batches and the writer's row group), but encoding Parquet makes garbage
// fast and the default GC pacing lets the heap double: a soft limit keeps
// the peak RSS well below the 300 MB goal at little CPU cost (measured in
// docs/benchmarks-e2e.md). The embedded cluster also holds NATS, the
// coordinator and the workers, so it gets more.
const (
	memoryLimitRemote   = 160 << 20
	memoryLimitEmbedded = 384 << 20
)

func (a *App) setMemoryLimit(embedded bool, log hclog.Logger) {
	if a.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := int64(memoryLimitRemote)
	if embedded {
		limit = memoryLimitEmbedded
	}
	debug.SetMemoryLimit(limit)
	log.Trace("soft memory limit set", "bytes", limit)
}
