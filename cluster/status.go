package cluster

import (
	"fmt"
	"time"

	"github.com/redstage/redstage/codec"
)

// JobState is the lifecycle state of a job.
type JobState string

// Job states. Succeeded, Failed and Cancelled are terminal.
const (
	JobPending   JobState = "pending"   // accepted, not yet planned (load: waiting for input)
	JobRunning   JobState = "running"   // tasks queued or running
	JobSucceeded JobState = "succeeded" // every task has a winning attempt
	JobFailed    JobState = "failed"    // a task failed for good, or planning failed
	JobCancelled JobState = "cancelled" // cancelled on request
)

// Terminal reports whether the state is final.
func (s JobState) Terminal() bool {
	return s == JobSucceeded || s == JobFailed || s == JobCancelled
}

// Progress is a snapshot of a running job, delivered by Job.Progress.
type Progress struct {
	Job           string        `json:"job"`
	Kind          Kind          `json:"kind"`
	State         JobState      `json:"state"`
	TasksDone     int           `json:"tasks_done"`
	TasksTotal    int           `json:"tasks_total"`    // may grow while a load's input is read
	InputComplete bool          `json:"input_complete"` // TasksTotal is final
	Rows          int64         `json:"rows"`           // rows of finished tasks plus running tasks' rows so far (Job.Progress)
	Bytes         int64         `json:"bytes"`          // result or input bytes moved so far
	Elapsed       time.Duration `json:"elapsed"`
	RowsPerSec    float64       `json:"rows_per_sec"`
}

// KeyFailure is one row a load could not write.
type KeyFailure struct {
	Key string `json:"key"`
	Row int64  `json:"row"` // global row index in the input
	Err string `json:"error"`
}

// JobResult is the summary of a finished job (Job.Wait, Client.Status).
type JobResult struct {
	ID    string   `json:"id"`
	Kind  Kind     `json:"kind"`
	State JobState `json:"state"`
	Error string   `json:"error,omitempty"`

	Tasks    int `json:"tasks"`    // tasks of the job (after re-planning)
	Attempts int `json:"attempts"` // task executions, retries and redeliveries included

	Rows int64 `json:"rows"` // rows scanned, rows loaded, hashes sampled, or keys matched
	// Load.
	Written    int64        `json:"written,omitempty"`
	Skipped    int64        `json:"skipped,omitempty"`
	Failed     int64        `json:"failed,omitempty"`
	Rejected   int64        `json:"rejected,omitempty"`
	FailedKeys []KeyFailure `json:"failed_keys,omitempty"` // first failures (bounded)
	// Scan.
	Scanned    int64            `json:"scanned,omitempty"`     // keys returned by SCAN
	OtherTypes int64            `json:"other_types,omitempty"` // scan: non-hash keys skipped; delete: keys of other types left
	Vanished   int64            `json:"vanished,omitempty"`    // keys deleted between SCAN and read
	Duplicates int64            `json:"duplicates,omitempty"`  // duplicate keys dropped
	Nulls      map[string]int64 `json:"nulls,omitempty"`       // per field: unparsable values turned null
	// NonUTF8Keys: keys that are not valid UTF-8, escaped in the key column.
	NonUTF8Keys int64 `json:"non_utf8_keys,omitempty"`
	// Delete.
	Matched int64 `json:"matched,omitempty"`
	Deleted int64 `json:"deleted,omitempty"`
	// Infer.
	Inference *codec.Inference `json:"inference,omitempty"`

	Bytes      int64         `json:"bytes"` // result bytes (scan) or input bytes (load)
	Duration   time.Duration `json:"duration"`
	RowsPerSec float64       `json:"rows_per_sec"`

	// LowerBound is set for a load or delete that did not succeed: the
	// counts are what its tasks reported writing, including tasks cut
	// short by the job's end, and LowerBoundReason says why Redis may hold
	// more (tasks that never reported, earlier attempts of retried tasks).
	LowerBound       bool   `json:"lower_bound,omitempty"`
	LowerBoundReason string `json:"lower_bound_reason,omitempty"`
	// Unreported counts tasks still running when the job ended that had
	// not reported what they wrote when the result was read.
	Unreported int `json:"unreported,omitempty"`
}

// resultOf returns the result of a terminal job record with the counts of
// write tasks that did not complete before the end (jobRecord.Late)
// added; nil while the job runs.
func resultOf(j *jobRecord) *JobResult {
	if j.Result == nil {
		return nil
	}
	res := *j.Result
	if j.Spec.Kind != KindLoad && j.Spec.Kind != KindDelete || j.State == JobSucceeded {
		return &res
	}
	l := j.Late
	res.Rows += l.Rows
	res.Written += l.Written
	res.Skipped += l.Skipped
	res.Failed += l.Failed
	res.Rejected += l.Rejected
	res.Matched += l.Matched
	res.Deleted += l.Deleted
	if len(l.FailedKeys) > 0 {
		res.FailedKeys = append(append([]KeyFailure(nil), res.FailedKeys...), l.FailedKeys...)
	}
	res.LowerBound = true
	res.LowerBoundReason = fmt.Sprintf("the job %s before all of its tasks completed: the counts are what its tasks confirmed writing, tasks cut short included; Redis may hold more if a task's worker died without reporting, or an earlier attempt of a retried task got further", j.State)
	return &res
}

// JobStatus describes a job as the coordinator records it (Client.Status, List).
type JobStatus struct {
	ID       string      `json:"id"`
	Kind     Kind        `json:"kind"`
	State    JobState    `json:"state"`
	Redis    string      `json:"redis"`  // redacted
	Target   string      `json:"target"` // pattern or input description
	Created  time.Time   `json:"created"`
	Finished time.Time   `json:"finished,omitempty"`
	Progress Progress    `json:"progress"`
	Result   *JobResult  `json:"result,omitempty"` // set once terminal
	Errors   []TaskError `json:"errors,omitempty"`
}

// WorkerInfo describes a live worker (Client.Workers).
type WorkerInfo struct {
	ID          string    `json:"id"`
	Host        string    `json:"host"`
	PID         int       `json:"pid"`
	Version     string    `json:"version,omitempty"`
	Concurrency int       `json:"concurrency"`
	Running     int       `json:"running"` // tasks running now
	Done        int64     `json:"done"`    // tasks completed since start
	Failed      int64     `json:"failed"`  // task executions that failed since start
	Started     time.Time `json:"started"`
	Seen        time.Time `json:"seen"` // last heartbeat
}
