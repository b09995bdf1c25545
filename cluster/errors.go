package cluster

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of package cluster; returned errors wrap one of them.
var (
	// ErrInvalidSpec: a job spec that cannot run (unknown kind, missing or
	// bad options, key column absent from the input). Nothing was written.
	ErrInvalidSpec = errors.New("invalid job spec")

	// ErrRedisUnreachable: the job's Redis target did not answer when the
	// job was validated. Nothing was written.
	ErrRedisUnreachable = errors.New("redis unreachable")

	// ErrNoCoordinator: no coordinator answered on the NATS connection.
	ErrNoCoordinator = errors.New("no coordinator answering")

	// ErrJobNotFound: no job with that id.
	ErrJobNotFound = errors.New("job not found")

	// ErrJobFailed: the job failed; see JobError for the task errors.
	ErrJobFailed = errors.New("job failed")

	// ErrJobCancelled: the job was cancelled.
	ErrJobCancelled = errors.New("job cancelled")

	// ErrJobFinished: the operation needs a job that is still running.
	ErrJobFinished = errors.New("job already finished")

	// ErrNotImplemented: a job kind or option this version does not run.
	ErrNotImplemented = errors.New("not implemented")

	// ErrSortNeedsKey: sorted results need the key column.
	ErrSortNeedsKey = errors.New("sorting needs the key column")

	// ErrClosed: the object was closed.
	ErrClosed = errors.New("closed")

	// ErrMalformedTask: a task message could not be decoded or names an
	// invalid job or task; the task fails (and its job) instead of being
	// dropped.
	ErrMalformedTask = errors.New("malformed task message")
)

// TaskError is the error of one task execution, as recorded by the coordinator.
type TaskError struct {
	Task      string `json:"task"`
	Attempt   string `json:"attempt,omitempty"`
	Delivered int    `json:"delivered,omitempty"` // NumDelivered of the execution
	Worker    string `json:"worker,omitempty"`
	Error     string `json:"error"`
}

// JobError is returned by Job.Wait and ResultReader.Next when a job did not
// succeed. It wraps ErrJobFailed or ErrJobCancelled.
type JobError struct {
	ID     string
	State  JobState
	Reason string      // why the job ended (first task error, cancel request, ...)
	Tasks  []TaskError // errors of failed tasks (bounded)
	Cause  error       // a local cause, e.g. the input error that aborted a load upload
}

func (e *JobError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "job %s %s", e.ID, e.State)
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	return b.String()
}

func (e *JobError) Unwrap() []error {
	base := ErrJobFailed
	if e.State == JobCancelled {
		base = ErrJobCancelled
	}
	if e.Cause != nil {
		return []error{base, e.Cause}
	}
	return []error{base}
}
