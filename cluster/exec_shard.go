package cluster

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hashicorp/go-hclog"
)

// shardExecutor runs task bodies with package shard.
// TODO(shard): replace the bodies once package shard lands.
type shardExecutor struct {
	log hclog.Logger
}

func newShardExecutor(log hclog.Logger) executor {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &shardExecutor{log: log}
}

var errNoShard = fmt.Errorf("redis executors: %w (package shard not yet available)", ErrNotImplemented)

func (e *shardExecutor) Check(ctx context.Context, spec *JobSpec) error { return errNoShard }
func (e *shardExecutor) Plan(ctx context.Context, spec *JobSpec, tasks int) ([]json.RawMessage, error) {
	return nil, errNoShard
}
func (e *shardExecutor) Replan(ctx context.Context, spec *JobSpec, part json.RawMessage) ([]json.RawMessage, error) {
	return nil, errNoShard
}
func (e *shardExecutor) Scan(ctx context.Context, spec *JobSpec, part json.RawMessage, emit func(arrow.RecordBatch) error) (counts, error) {
	return counts{}, errNoShard
}
func (e *shardExecutor) Sample(ctx context.Context, spec *JobSpec, part json.RawMessage, limit int) (json.RawMessage, counts, error) {
	return nil, counts{}, errNoShard
}
func (e *shardExecutor) Delete(ctx context.Context, spec *JobSpec, part json.RawMessage) (counts, error) {
	return counts{}, errNoShard
}
func (e *shardExecutor) Write(ctx context.Context, spec *JobSpec, rec arrow.RecordBatch, offset uint64) (counts, error) {
	return counts{}, errNoShard
}
func (e *shardExecutor) Classify(err error) failCode { return failFinal }
func (e *shardExecutor) Close() error                { return nil }
