package cluster

import (
	"context"
)

// Job is a handle on a submitted job. Its methods are safe for concurrent
// use; Close releases the watchers it started.
type Job struct {
	id   string
	kind Kind
	c    *Client
}

// ID returns the job id.
func (j *Job) ID() string { return j.id }

// Kind returns the job kind.
func (j *Job) Kind() Kind { return j.kind }

// Progress returns a channel of progress snapshots. It keeps only the latest
// snapshot when the reader is slow and is closed when the job ends (or the
// Job is closed). Every call returns the same channel.
func (j *Job) Progress() <-chan Progress {
	ch := make(chan Progress)
	close(ch)
	return ch
}

// Results streams the merged rows of a scan job: each task's rows from its
// winning attempt exactly once, with the row index column (if the spec asks
// for one) assigned here. See ResultOptions for sorting.
func (j *Job) Results(ctx context.Context, opts ResultOptions) (*ResultReader, error) {
	return nil, ErrNotImplemented
}

// Wait blocks until the job ends and returns its summary. A failed or
// cancelled job returns the summary and a *JobError.
func (j *Job) Wait(ctx context.Context) (*JobResult, error) {
	return nil, ErrNotImplemented
}

// Cancel cancels the job.
func (j *Job) Cancel(ctx context.Context) error { return j.c.Cancel(ctx, j.id) }

// Close stops the handle's watchers. It does not cancel the job. Idempotent.
func (j *Job) Close() error { return nil }
