package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bounds of what records keep.
const (
	maxRecordedErrors   = 20  // task errors kept per job and per task
	maxRecordedFailures = 100 // failed keys kept per job
)

// jobRecord is the value of a job in REDSTAGE_JOBS.
type jobRecord struct {
	ID       string    `json:"id"`
	Spec     JobSpec   `json:"spec"`
	State    JobState  `json:"state"`
	Created  time.Time `json:"created"`
	Started  time.Time `json:"started,omitempty"`
	Finished time.Time `json:"finished,omitempty"`
	Target   string    `json:"target,omitempty"`
	Touched  time.Time `json:"touched"` // last sign of life of a load's uploader

	// Planned is set once all task records of the plan exist (scan, infer,
	// delete); a load job's tasks are added chunk by chunk.
	Planned       bool   `json:"planned"`
	Tasks         int    `json:"tasks"`          // task indices in use
	InputComplete bool   `json:"input_complete"` // Tasks is final
	Done          int    `json:"done"`           // tasks with a winner or replaced
	Counted       bitset `json:"counted"`        // task indices whose outcome is in Done/Counts
	Attempts      int    `json:"attempts"`
	// Replaced maps a replanned task to the index of its first child.
	Replaced map[string]int `json:"replaced,omitempty"`
	Counts   counts         `json:"counts"`
	Errors   []TaskError    `json:"errors,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	Result   *JobResult     `json:"result,omitempty"`
	// Late are the counts of write tasks that did not complete before the
	// job ended: attempts cut short (or failed for good) and completions
	// processed after the end. They are added to Result by resultOf.
	Late counts `json:"late"`
}

// taskState is the lifecycle state of a task.
type taskState string

const (
	taskPlanned   taskState = "planned"   // record exists, not yet on the queue
	taskQueued    taskState = "queued"    // on the queue (possibly running)
	taskRunning   taskState = "running"   // an execution started
	taskDone      taskState = "done"      // has a winning attempt
	taskFailed    taskState = "failed"    // gave up
	taskReplacing taskState = "replacing" // being replaced by re-planned children
	taskReplaced  taskState = "replaced"  // replaced by children
)

func (s taskState) terminal() bool {
	return s == taskDone || s == taskFailed || s == taskReplaced
}

// taskRecord is the value of a task in REDSTAGE_TASK (key "<job>.<task>").
type taskRecord struct {
	Job    string    `json:"job"`
	ID     string    `json:"id"`
	Parent string    `json:"parent,omitempty"` // the re-planned task this one replaces a piece of
	Index  int       `json:"index"`
	State  taskState `json:"state"`
	Gen    int       `json:"gen"` // publish generation (message id suffix)

	Part  json.RawMessage `json:"part,omitempty"`  // shard partition (scan, infer, delete)
	Chunk *chunkRef       `json:"chunk,omitempty"` // load input chunk

	Limit           int               `json:"limit,omitempty"` // infer: hashes to sample
	Attempts        int               `json:"attempts"`
	Winner          string            `json:"winner,omitempty"`
	WinnerDelivered int               `json:"winner_delivered,omitempty"`
	Worker          string            `json:"worker,omitempty"`
	Frames          int               `json:"frames,omitempty"`
	Counts          counts            `json:"counts"`
	Output          json.RawMessage   `json:"output,omitempty"` // infer: codec.Inferrer state
	Errors          []TaskError       `json:"errors,omitempty"`
	Children        []json.RawMessage `json:"children,omitempty"` // replacing: partitions of the children
	Updated         time.Time         `json:"updated"`
	// Stopped: an attempt reported being cut short (or failed for good)
	// with what it wrote (in the job record's Late counts).
	Stopped bool `json:"stopped,omitempty"`
	// Current is the attempt that started last (to tell whether it ended).
	Current string `json:"current,omitempty"`
}

// unreported reports whether the task was running an attempt that has not
// reported its end (complete, stopped, or failed).
func (t *taskRecord) unreported() bool {
	if t.State != taskRunning || t.Winner != "" || t.Stopped {
		return false
	}
	n := len(t.Errors)
	return n == 0 || t.Errors[n-1].Attempt != t.Current
}

// chunkRef locates a load chunk.
type chunkRef struct {
	Subject string `json:"subject"` // frames on REDSTAGE_CHUNKS
	Frames  int    `json:"frames"`
	Offset  uint64 `json:"offset"` // global row index of the chunk's first row
	Rows    int64  `json:"rows"`
	Bytes   int64  `json:"bytes"`
}

// taskMsg is the body of a task message on REDSTAGE_TASKS.
type taskMsg struct {
	Job   string          `json:"job"`
	Task  string          `json:"task"`
	Index int             `json:"index"`
	Spec  JobSpec         `json:"spec"`
	Part  json.RawMessage `json:"part,omitempty"`
	Chunk *chunkRef       `json:"chunk,omitempty"`
	// Limit is a per-task cap (infer: hashes to sample).
	Limit  int         `json:"limit,omitempty"`
	Policy retryPolicy `json:"policy"`
}

// retryPolicy travels with each task so workers apply the coordinator's.
type retryPolicy struct {
	MaxAttempts int           `json:"max_attempts"`
	Backoff     time.Duration `json:"backoff"`
	MaxBackoff  time.Duration `json:"max_backoff"`
	Timeout     time.Duration `json:"timeout"`
	AckWait     time.Duration `json:"ack_wait"`
}

// delay returns the retry delay after the given delivery (1-based).
func (p retryPolicy) delay(delivered int) time.Duration {
	d := p.Backoff
	for i := 1; i < delivered && d < p.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.MaxBackoff)
}

// eventType names a task event.
type eventType string

const (
	evStarted  eventType = "started"
	evComplete eventType = "complete"
	evFailed   eventType = "failed"
	// evStopped: a write task (load, delete) cut short because its job
	// ended; Counts are what it wrote before it stopped.
	evStopped eventType = "stopped"
)

// failCode says what the coordinator does with a failed execution.
type failCode string

const (
	failRetry failCode = "retry" // will be redelivered (NakWithDelay)
	failFinal failCode = "final" // the task has failed for good
	failStale failCode = "stale" // stale topology: re-plan the task
)

// event is a record on REDSTAGE_EVENTS.
type event struct {
	Type      eventType       `json:"type"`
	Job       string          `json:"job"`
	Task      string          `json:"task"`
	Attempt   string          `json:"attempt"`
	Delivered int             `json:"delivered"`
	Worker    string          `json:"worker"`
	Frames    int             `json:"frames,omitempty"`
	Counts    counts          `json:"counts"`
	Output    json.RawMessage `json:"output,omitempty"`
	Error     string          `json:"error,omitempty"`
	Code      failCode        `json:"code,omitempty"`
	Time      time.Time       `json:"time"`
}

// taskProgress is a running task's row count so far, published on core
// NATS (redstage.prog.<job>) about once a second; best effort.
type taskProgress struct {
	Task  string `json:"task"`
	Index int    `json:"index"`
	Rows  int64  `json:"rows"`
}

// counts are the statistics of a task, summed over a job.
type counts struct {
	Rows  int64 `json:"rows,omitempty"`
	Bytes int64 `json:"bytes,omitempty"`
	// load
	Written    int64        `json:"written,omitempty"`
	Skipped    int64        `json:"skipped,omitempty"`
	Failed     int64        `json:"failed,omitempty"`
	Rejected   int64        `json:"rejected,omitempty"`
	FailedKeys []KeyFailure `json:"failed_keys,omitempty"`
	// scan
	Scanned    int64            `json:"scanned,omitempty"`
	OtherTypes int64            `json:"other_types,omitempty"`
	Vanished   int64            `json:"vanished,omitempty"`
	Duplicates int64            `json:"duplicates,omitempty"`
	Restarts   int64            `json:"restarts,omitempty"`
	Nulls      map[string]int64 `json:"nulls,omitempty"`

	NonUTF8Keys int64 `json:"non_utf8_keys,omitempty"` // scan: keys escaped in the key column
	// delete
	Matched int64 `json:"matched,omitempty"`
	Deleted int64 `json:"deleted,omitempty"`
}

func (c *counts) add(o counts) {
	c.Rows += o.Rows
	c.Bytes += o.Bytes
	c.Written += o.Written
	c.Skipped += o.Skipped
	c.Failed += o.Failed
	c.Rejected += o.Rejected
	for _, f := range o.FailedKeys {
		if len(c.FailedKeys) >= maxRecordedFailures {
			break
		}
		c.FailedKeys = append(c.FailedKeys, f)
	}
	c.Scanned += o.Scanned
	c.OtherTypes += o.OtherTypes
	c.Vanished += o.Vanished
	c.Duplicates += o.Duplicates
	c.Restarts += o.Restarts
	c.NonUTF8Keys += o.NonUTF8Keys
	for k, v := range o.Nulls {
		if c.Nulls == nil {
			c.Nulls = make(map[string]int64)
		}
		c.Nulls[k] += v
	}
	c.Matched += o.Matched
	c.Deleted += o.Deleted
}

// bitset is a growable set of small non-negative integers (JSON: bytes as base64).
type bitset []byte

func (b bitset) has(i int) bool { return i/8 < len(b) && b[i/8]&(1<<(i%8)) != 0 }

func (b *bitset) set(i int) {
	for i/8 >= len(*b) {
		*b = append(*b, 0)
	}
	(*b)[i/8] |= 1 << (i % 8)
}

func appendError(errs []TaskError, e TaskError) []TaskError {
	if len(errs) >= maxRecordedErrors {
		return errs
	}
	return append(errs, e)
}

// errNoChange tells updateRecord that fn decided not to write.
var errNoChange = errors.New("no change")

// getRecord reads and decodes a KV value; found=false if the key is absent.
func getRecord[T any](ctx context.Context, kv jetstream.KeyValue, key string) (rec *T, rev uint64, err error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s/%s: %w", kv.Bucket(), key, err)
	}
	rec = new(T)
	if err := json.Unmarshal(e.Value(), rec); err != nil {
		return nil, 0, fmt.Errorf("decoding %s/%s: %w", kv.Bucket(), key, err)
	}
	return rec, e.Revision(), nil
}

// updateRecord applies fn to the current value of key and writes it back
// with compare-and-swap, retrying on conflicts. fn returns errNoChange to
// skip the write. A missing key is an error wrapping ErrJobNotFound.
func updateRecord[T any](ctx context.Context, kv jetstream.KeyValue, key string, fn func(*T) error) (*T, error) {
	for attempt := 0; ; attempt++ {
		rec, rev, err := getRecord[T](ctx, kv, key)
		if err != nil {
			return nil, err
		}
		if rec == nil {
			return nil, fmt.Errorf("%s/%s: %w", kv.Bucket(), key, ErrJobNotFound)
		}
		if err := fn(rec); err != nil {
			if errors.Is(err, errNoChange) {
				return rec, nil
			}
			return rec, err
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return nil, fmt.Errorf("encoding %s/%s: %w", kv.Bucket(), key, err)
		}
		_, err = kv.Update(ctx, key, b, rev)
		if err == nil {
			return rec, nil
		}
		if !isRevisionMismatch(err) || attempt > 100 {
			return nil, fmt.Errorf("updating %s/%s: %w", kv.Bucket(), key, err)
		}
	}
}

func isRevisionMismatch(err error) bool {
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

func putRecord(ctx context.Context, kv jetstream.KeyValue, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s/%s: %w", kv.Bucket(), key, err)
	}
	if _, err := kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("writing %s/%s: %w", kv.Bucket(), key, err)
	}
	return nil
}
