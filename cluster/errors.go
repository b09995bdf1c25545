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

	// ErrStoreFull: the NATS server's JetStream store refused a write for
	// lack of space (its max_file_store, an account or stream limit, or a
	// full disk). See StoreFullError.
	ErrStoreFull = errors.New("JetStream store full")
)

// StoreFullError says which JetStream store refused a write and how full
// it is. It wraps ErrStoreFull and the server's error.
type StoreFullError struct {
	Server string // NATS server URL (redacted), "" if unknown
	Stream string // redstage stream that refused the write, "" if unknown
	Used   int64  // bytes stored in the account's file store (0 = unknown)
	Limit  int64  // the account's store limit in bytes; -1 = the server's own limit (max_file_store or disk)
	Err    error
}

func (e *StoreFullError) Error() string {
	var b strings.Builder
	b.WriteString("JetStream store full")
	if e.Server != "" {
		fmt.Fprintf(&b, " on %s", e.Server)
	}
	if e.Stream != "" {
		fmt.Fprintf(&b, " (stream %s)", e.Stream)
	}
	fmt.Fprintf(&b, ": %v; ", e.Err)
	switch {
	case e.Limit > 0:
		fmt.Fprintf(&b, "%s stored of the account's %s limit", mib(e.Used), mib(e.Limit))
	case e.Used > 0:
		fmt.Fprintf(&b, "%s stored: the server's max_file_store limit (or its disk) is reached", mib(e.Used))
	default:
		b.WriteString("the server's max_file_store limit (or its disk) is reached")
	}
	b.WriteString("; this job's data was removed from the store: free more space (unread results of other jobs, other streams) or raise the limit, then run the job again")
	return b.String()
}

func (e *StoreFullError) Unwrap() []error { return []error{ErrStoreFull, e.Err} }

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
