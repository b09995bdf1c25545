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

// Sample reads up to limit hashes of the partition and returns their
// inferrer states as a sampleOutput (blocks of 1, 2, 4, ... hashes), from
// which the coordinator takes exactly the share it needs.
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
	bs := newBlockSampler(codec.InferOptions{Threshold: spec.Infer.Threshold})
	n, err := shard.SamplePartition(ctx, c, p, spec.Infer.Pattern, limit, func(_ string, names []string, m map[string]string) error {
		return bs.add(names, m)
	})
	if err == nil {
		err = bs.flush()
	}
	if err != nil {
		return nil, counts{}, restartError(p, err)
	}
	b, err := json.Marshal(bs.out)
	if err != nil {
		return nil, counts{}, fmt.Errorf("encoding inference state: %w", err)
	}
	return b, counts{Rows: int64(n)}, nil
}

// blockSampler cuts sampled hashes into inferrer states of 1, 2, 4, ...
// hashes (sampleOutput).
type blockSampler struct {
	opts codec.InferOptions
	cur  *codec.Inferrer
	size int64 // hashes of the current block when full
	out  sampleOutput
}

func newBlockSampler(opts codec.InferOptions) *blockSampler {
	return &blockSampler{opts: opts, cur: codec.NewInferrer(opts), size: 1}
}

// orderedFields: hashes with at most this many fields are taken in the
// order Redis returns them (the insertion order of a listpack-encoded
// hash, Redis's default up to 128 fields); larger ones, whose order means
// nothing, in natural order (codec.Inferrer.AddHash).
const orderedFields = 128

func (s *blockSampler) add(names []string, m map[string]string) error {
	if len(names) == len(m) && len(names) <= orderedFields {
		values := make([]string, len(names))
		for i, k := range names {
			values[i] = m[k]
		}
		s.cur.AddRow(names, values)
	} else {
		s.cur.AddHash(m)
	}
	if s.cur.SampleCount() == s.size {
		return s.flush()
	}
	return nil
}

// flush ends the current block (if it has hashes).
func (s *blockSampler) flush() error {
	if s.cur.SampleCount() == 0 {
		return nil
	}
	state, err := json.Marshal(s.cur)
	if err != nil {
		return fmt.Errorf("encoding inference state: %w", err)
	}
	s.out.Blocks = append(s.out.Blocks, sampleBlock{N: int(s.cur.SampleCount()), State: state})
	s.cur, s.size = codec.NewInferrer(s.opts), 2*s.size
	return nil
}

// sampleOutput is an infer task's output: the inferrer states of the
// hashes it read, in blocks of 1, 2, 4, ... hashes in scan order (the last
// one may be partial). Any count up to the total is the sum of some of the
// blocks (pickBlocks), so the coordinator can take exactly the number of
// hashes it allots the task.
type sampleOutput struct {
	Blocks []sampleBlock `json:"blocks"`
}

type sampleBlock struct {
	N     int             `json:"n"`
	State json.RawMessage `json:"state"`
}

// total returns the hashes of all blocks.
func (o *sampleOutput) total() int {
	n := 0
	for _, b := range o.Blocks {
		n += b.N
	}
	return n
}

// pickBlocks returns the indices of blocks holding exactly k hashes (0 ≤ k
// ≤ total): blocks 0..m-1 hold 1, 2, ..., 2^(m-1) (2^m - 1 together) and a
// last block r ≤ 2^m; k < 2^m is k's binary digits, a larger k takes the
// last block and the binary digits of k - r.
func (o *sampleOutput) pickBlocks(k int) []int {
	var out []int
	m := len(o.Blocks)
	if m > 0 && k >= 1<<(m-1) && k > 0 {
		last := o.Blocks[m-1].N
		if k >= last && (k-last) < 1<<(m-1) {
			out = append(out, m-1)
			k -= last
		}
	}
	for i := 0; k > 0 && i < m; i++ {
		if k&(1<<i) != 0 {
			out = append(out, i)
		}
	}
	return out
}

// allot shares want hashes among tasks that read avail[i] each: every task
// gets an equal share up to what it has, the rest goes to those with more,
// so exactly min(want, Σ avail) hashes are taken.
func allot(avail []int, want int) []int {
	k := make([]int, len(avail))
	left := 0
	for _, a := range avail {
		left += a
	}
	left = min(left, want)
	for left > 0 {
		active := 0
		for i := range avail {
			if k[i] < avail[i] {
				active++
			}
		}
		per := max(1, left/active)
		for i := range avail {
			add := min(per, avail[i]-k[i], left)
			k[i] += add
			left -= add
		}
	}
	return k
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
