package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/shard"
)

// finalError marks an execution error that retrying cannot cure.
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }

func decodePartition(raw json.RawMessage) (shard.Partition, error) {
	var p shard.Partition
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, &finalError{fmt.Errorf("%w: decoding partition: %v", shard.ErrInvalidPartition, err)}
	}
	return p, nil
}

func encodePartitions(parts []shard.Partition) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(parts))
	for i, p := range parts {
		b, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encoding partition %d: %w", i, err)
		}
		out[i] = b
	}
	return out, nil
}

// pattern returns the job's key pattern.
func (s *JobSpec) pattern() string {
	switch {
	case s.Scan != nil:
		return s.Scan.Pattern
	case s.Infer != nil:
		return s.Infer.Pattern
	case s.Delete != nil:
		return s.Delete.Pattern
	}
	return ""
}

func (e *shardExecutor) Plan(ctx context.Context, spec *JobSpec, tasks int) ([]json.RawMessage, error) {
	c, release, err := e.client(ctx, spec.Redis)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrRedisUnreachable, spec.redisTarget(), err)
	}
	defer release()
	parts, err := shard.PlanScan(ctx, c, shard.PlanOptions{Tasks: tasks, Pattern: spec.pattern()})
	if err != nil {
		return nil, fmt.Errorf("planning %s on %s: %w", spec.Kind, spec.redisTarget(), err)
	}
	return encodePartitions(parts)
}

// Replan splits the partition's slot range by its current owners
// (shard.ReplanPartition). Cursor partitions cannot be re-planned one at a
// time: the key set of a cursor partition belongs to one server process.
func (e *shardExecutor) Replan(ctx context.Context, spec *JobSpec, raw json.RawMessage) ([]json.RawMessage, error) {
	old, err := decodePartition(raw)
	if err != nil {
		return nil, err
	}
	if old.Kind == shard.KindCursor {
		return nil, fmt.Errorf("partition %s: a cursor partition cannot be re-planned alone; run the job again", old)
	}
	c, release, err := e.client(ctx, spec.Redis)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.redisTarget(), err)
	}
	defer release()
	parts, err := shard.ReplanPartition(ctx, c, old)
	if err != nil {
		return nil, err
	}
	return encodePartitions(parts)
}

func (e *shardExecutor) Scan(ctx context.Context, spec *JobSpec, raw json.RawMessage, emit func(arrow.RecordBatch) error) (counts, error) {
	p, err := decodePartition(raw)
	if err != nil {
		return counts{}, err
	}
	c, release, err := e.client(ctx, spec.Redis)
	if err != nil {
		return counts{}, fmt.Errorf("connecting to redis %s: %w", spec.redisTarget(), err)
	}
	defer release()
	sc := spec.Scan
	st, err := shard.ScanPartition(ctx, c, p, shard.ScanOptions{
		Pattern: sc.Pattern, Schema: sc.Schema, Meta: sc.Meta, Strict: sc.Strict,
		BatchSize: sc.BatchSize, Count: sc.Count, FetchAll: sc.FetchAll,
	}, emit)
	ct := counts{Rows: st.Rows, Scanned: st.Scanned, OtherTypes: st.OtherTypes, Vanished: st.Vanished,
		Duplicates: st.Duplicates, Restarts: int64(st.Restarts), Nulls: st.Invalid, NonUTF8Keys: st.NonUTF8Keys}
	return ct, restartError(p, err)
}

// restartError makes a node-wide restart final: the rows of the node's
// other cursor partitions may already have been emitted.
func restartError(p shard.Partition, err error) error {
	if err != nil && errors.Is(err, shard.ErrServerRestarted) {
		if p.NodeWideRestart() {
			return &finalError{fmt.Errorf("redis node %s restarted during the job (%w); cursor partitions cannot be resumed exactly: run the job again", p.Node, err)}
		}
	}
	return err
}

// Sample feeds up to limit hashes of the partition to a fresh inferrer and
// returns its JSON state (merged by the coordinator).
func (e *shardExecutor) Sample(ctx context.Context, spec *JobSpec, raw json.RawMessage, limit int) (json.RawMessage, counts, error) {
	p, err := decodePartition(raw)
	if err != nil {
		return nil, counts{}, err
	}
	c, release, err := e.client(ctx, spec.Redis)
	if err != nil {
		return nil, counts{}, fmt.Errorf("connecting to redis %s: %w", spec.redisTarget(), err)
	}
	defer release()
	inf := codec.NewInferrer(codec.InferOptions{Threshold: spec.Infer.Threshold})
	n, err := shard.SamplePartition(ctx, c, p, spec.Infer.Pattern, limit, func(_ string, m map[string]string) error {
		inf.AddHash(m)
		return nil
	})
	if err != nil {
		return nil, counts{}, restartError(p, err)
	}
	state, err := json.Marshal(inf)
	if err != nil {
		return nil, counts{}, fmt.Errorf("encoding inference state: %w", err)
	}
	return state, counts{Rows: int64(n)}, nil
}

// Delete removes (or, dry, counts) the partition's matching keys of the
// spec's type.
func (e *shardExecutor) Delete(ctx context.Context, spec *JobSpec, raw json.RawMessage) (counts, error) {
	p, err := decodePartition(raw)
	if err != nil {
		return counts{}, err
	}
	c, release, err := e.client(ctx, spec.Redis)
	if err != nil {
		return counts{}, fmt.Errorf("connecting to redis %s: %w", spec.redisTarget(), err)
	}
	defer release()
	st, err := shard.DeletePartition(ctx, c, p, shard.DeleteOptions{
		Pattern: spec.Delete.Pattern, Type: spec.Delete.Type, DryRun: spec.Delete.DryRun,
	})
	ct := counts{Rows: st.Matched, Matched: st.Matched, Deleted: st.Deleted, OtherTypes: st.OtherTypes}
	if err != nil && errors.Is(err, shard.ErrServerRestarted) && p.NodeWideRestart() {
		// Deleting is idempotent: rerunning every partition is safe, but
		// this one alone may now miss keys; say so.
		return ct, &finalError{fmt.Errorf("redis node %s restarted during the delete (%w): run the delete again to catch keys it may have missed", p.Node, err)}
	}
	return ct, err
}
