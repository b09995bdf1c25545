package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hashicorp/go-hclog"
	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/shard"
)

// shardExecutor runs task bodies with package shard. It keeps one
// shard.Client per Redis URL and closes those idle for clientIdle.
type shardExecutor struct {
	log hclog.Logger

	mu      sync.Mutex
	clients map[string]*cachedClient
	closed  bool
}

type cachedClient struct {
	c    *shard.Client
	used time.Time
	refs int
}

const clientIdle = 5 * time.Minute

func newShardExecutor(log hclog.Logger) executor {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &shardExecutor{log: log.Named("redis"), clients: map[string]*cachedClient{}}
}

// client returns a (cached) client for url; release must be called after use.
func (e *shardExecutor) client(ctx context.Context, url string) (*shard.Client, func(), error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, nil, fmt.Errorf("redis executor: %w", ErrClosed)
	}
	now := time.Now()
	var idle []*shard.Client
	for u, cc := range e.clients {
		if u != url && cc.refs == 0 && now.Sub(cc.used) > clientIdle {
			idle = append(idle, cc.c)
			delete(e.clients, u)
		}
	}
	cc := e.clients[url]
	if cc != nil {
		cc.refs++
		cc.used = now
	}
	e.mu.Unlock()
	for _, c := range idle {
		_ = c.Close()
	}
	if cc == nil {
		c, err := shard.Dial(ctx, url)
		if err != nil {
			return nil, nil, err
		}
		e.mu.Lock()
		if old := e.clients[url]; old != nil { // raced with another dial
			e.mu.Unlock()
			_ = c.Close()
			return e.client(ctx, url)
		}
		cc = &cachedClient{c: c, used: now, refs: 1}
		e.clients[url] = cc
		e.mu.Unlock()
	}
	return cc.c, func() {
		e.mu.Lock()
		cc.refs--
		cc.used = time.Now()
		e.mu.Unlock()
	}, nil
}

func (e *shardExecutor) Close() error {
	e.mu.Lock()
	clients := e.clients
	e.clients, e.closed = nil, true
	e.mu.Unlock()
	var errs []error
	for _, cc := range clients {
		errs = append(errs, cc.c.Close())
	}
	return errors.Join(errs...)
}

// Check dials Redis and validates the kind's options against shard's rules.
func (e *shardExecutor) Check(ctx context.Context, spec *JobSpec) error {
	target := spec.redisTarget()
	if spec.Load != nil {
		if err := writeOptions(spec, 0).Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidSpec, err)
		}
	}
	c, release, err := e.client(ctx, spec.Redis)
	if err != nil {
		if errors.Is(err, shard.ErrInvalidURL) || errors.Is(err, shard.ErrClusterDB) || errors.Is(err, shard.ErrInvalidOptions) {
			return fmt.Errorf("%w: redis %s: %w", ErrInvalidSpec, target, err)
		}
		if isAccessError(err) { // the server answered: it is reachable
			return fmt.Errorf("redis %s: %w", target, err)
		}
		return fmt.Errorf("%w: %s: %w (is Redis running there? check --redis)", ErrRedisUnreachable, target, err)
	}
	defer release()
	if spec.Load != nil {
		// Refused write commands are named before the job starts.
		if err := shard.CheckWrite(ctx, c, writeOptions(spec, 0)); err != nil {
			if isAccessError(err) {
				return fmt.Errorf("redis %s: %w", target, err)
			}
			return fmt.Errorf("%w: %s: checking write permissions: %w", ErrRedisUnreachable, target, err)
		}
	}
	return nil
}

func writeOptions(spec *JobSpec, offset uint64) shard.WriteOptions {
	l := spec.Load
	return shard.WriteOptions{
		Prefix: l.Prefix, KeyColumns: l.KeyColumns, IndexOffset: offset,
		Mode: shard.WriteMode(l.Mode), TTL: l.TTL, TTLColumn: l.TTLColumn,
		StripPrefix: l.StripPrefix, Exclude: l.Exclude,
		Pipeline: l.Pipeline, MaxFailures: l.MaxFailures,
	}
}

func (e *shardExecutor) Write(ctx context.Context, spec *JobSpec, rec arrow.RecordBatch, offset uint64) (counts, error) {
	c, release, err := e.client(ctx, spec.Redis)
	if err != nil {
		return counts{}, fmt.Errorf("connecting to redis %s: %w", spec.redisTarget(), err)
	}
	defer release()
	st, err := shard.WriteBatch(ctx, c, rec, writeOptions(spec, offset))
	ct := counts{Rows: st.Rows, Written: st.Written, Skipped: st.Skipped, Failed: st.Failed, Rejected: st.Rejected}
	for _, f := range st.Failures {
		ct.FailedKeys = append(ct.FailedKeys, KeyFailure{Key: f.Key, Row: f.Row, Err: f.Err})
	}
	if err != nil {
		return ct, fmt.Errorf("writing rows %d..%d to %s: %w", offset, offset+uint64(rec.NumRows())-1, spec.redisTarget(), err)
	}
	return ct, nil
}

// isAccessError reports a refusal by Redis that retrying cannot cure: bad
// credentials, a command the ACL user may not run, a database that does
// not exist.
func isAccessError(err error) bool {
	return errors.Is(err, shard.ErrAuth) || errors.Is(err, shard.ErrNoPermission) || errors.Is(err, shard.ErrBadDB)
}

// Classify: stale topology is re-planned; errors of the data or the spec,
// and refusals by Redis (authentication, ACL permissions, database), cannot
// be cured by retrying; anything else (connections, timeouts, a shrinking
// table, a moving slot) is retried.
func (e *shardExecutor) Classify(err error) failCode {
	var fe *finalError
	switch {
	case errors.As(err, &fe):
		return failFinal
	case errors.Is(err, shard.ErrStaleTopology):
		return failStale
	case errors.Is(err, codec.ErrInvalidValue), errors.Is(err, codec.ErrRowTooLarge),
		errors.Is(err, codec.ErrSchemaMismatch), errors.Is(err, codec.ErrUnsupportedType),
		errors.Is(err, shard.ErrInvalidOptions), errors.Is(err, shard.ErrInvalidPartition),
		errors.Is(err, shard.ErrInvalidURL), errors.Is(err, shard.ErrClusterDB),
		errors.Is(err, ErrInvalidSpec), errors.Is(err, ErrNotImplemented), isAccessError(err):
		return failFinal
	}
	return failRetry
}
