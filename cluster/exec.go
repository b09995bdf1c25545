package cluster

import (
	"context"
	"encoding/json"

	"github.com/apache/arrow-go/v18/arrow"
)

// executor is the Redis side of the protocol: the coordinator checks and
// plans with it, workers run task bodies with it. The production executor
// (exec_shard.go) calls package shard; partitions travel as JSON so the
// protocol does not depend on their shape.
type executor interface {
	// Check dials the job's Redis (bounded by ctx) and checks the spec
	// against it (for a load, the write permissions). Errors wrap
	// ErrRedisUnreachable, ErrInvalidSpec, or shard.ErrAuth,
	// shard.ErrNoPermission, shard.ErrBadDB.
	Check(ctx context.Context, spec *JobSpec) error
	// Plan splits a scan, infer or delete job into partitions.
	Plan(ctx context.Context, spec *JobSpec, tasks int) ([]json.RawMessage, error)
	// Replan returns partitions of a fresh plan that together cover part
	// (after a stale-topology failure).
	Replan(ctx context.Context, spec *JobSpec, part json.RawMessage) ([]json.RawMessage, error)

	Scan(ctx context.Context, spec *JobSpec, part json.RawMessage, emit func(arrow.RecordBatch) error) (counts, error)
	// Sample feeds up to limit hashes of part to a fresh inferrer and
	// returns its JSON state.
	Sample(ctx context.Context, spec *JobSpec, part json.RawMessage, limit int) (json.RawMessage, counts, error)
	Delete(ctx context.Context, spec *JobSpec, part json.RawMessage) (counts, error)
	// Write writes rec, whose first row has global index offset.
	Write(ctx context.Context, spec *JobSpec, rec arrow.RecordBatch, offset uint64) (counts, error)

	// Classify says whether an execution error is worth retrying.
	Classify(err error) failCode
	Close() error
}
