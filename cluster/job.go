package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Job is a handle on a submitted job. Its methods are safe for concurrent
// use; Close releases the watchers it started.
type Job struct {
	id   string
	spec JobSpec
	c    *Client
	in   *infra
	log  hclog.Logger

	ctx    context.Context // lifetime of the handle's goroutines
	cancel context.CancelFunc
	wg     sync.WaitGroup

	progress chan Progress
	ended    chan struct{} // closed when the job record is terminal (or the watch failed)
	updated  chan struct{} // signalled (non-blocking) on every job record update

	mu       sync.Mutex
	latest   *jobRecord
	watchErr error
	running  map[int]int64 // task index → rows so far (progress estimates)
	progDone bool          // progress channel closed
	progSub  *nats.Subscription

	uploadDone chan struct{} // nil unless a load uploads
	uploadErr  error
	abortErr   error // the upload failed and telling the coordinator failed too

	closeOnce sync.Once
}

func (c *Client) newJob(in *infra, id string, spec JobSpec) (*Job, error) {
	ctx, cancel := context.WithCancel(context.Background())
	j := &Job{
		id: id, spec: spec, c: c, in: in, log: c.log.With("job", id),
		ctx: ctx, cancel: cancel,
		progress: make(chan Progress, 1),
		ended:    make(chan struct{}),
		updated:  make(chan struct{}, 1),
	}
	j.running = map[int]int64{}
	sub, err := c.nc.Subscribe(progressSubject(id), j.onProgress)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("following job %s: %w", id, err)
	}
	j.progSub = sub
	w, err := in.jobs.Watch(ctx, id)
	if err != nil {
		_ = sub.Unsubscribe()
		cancel()
		return nil, fmt.Errorf("watching job %s: %w", id, err)
	}
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		j.watch(w)
	}()
	return j, nil
}

// ID returns the job id.
func (j *Job) ID() string { return j.id }

// Kind returns the job kind.
func (j *Job) Kind() Kind { return j.spec.Kind }

// Spec returns the job's spec.
func (j *Job) Spec() JobSpec { return j.spec }

// jobPollEvery is how often a Job handle also reads its job record
// directly: a KV watch notices a lost connection or a restarted server
// only after missing heartbeats (about 15 s), a read at once.
const jobPollEvery = 2 * time.Second

// watch follows the job record until it is terminal.
func (j *Job) watch(w jetstream.KeyWatcher) {
	defer func() { _ = w.Stop() }()
	defer func() {
		_ = j.progSub.Unsubscribe()
		j.mu.Lock()
		j.progDone = true
		close(j.progress)
		j.mu.Unlock()
	}()
	defer close(j.ended)
	poll := time.NewTicker(jobPollEvery)
	defer poll.Stop()
	var rev uint64
	for {
		select {
		case <-j.ctx.Done():
			j.setWatchErr(fmt.Errorf("job %s: handle %w", j.id, ErrClosed))
			return
		case <-poll.C:
			if j.pollRecord(&rev) {
				return
			}
		case e, ok := <-w.Updates():
			if !ok {
				j.setWatchErr(fmt.Errorf("job %s: watch ended", j.id))
				return
			}
			if e == nil { // initial values delivered
				continue
			}
			if e.Operation() != jetstream.KeyValuePut {
				j.setWatchErr(fmt.Errorf("job %s: record removed: %w", j.id, ErrJobNotFound))
				return
			}
			if e.Revision() <= rev {
				continue // already seen by a poll
			}
			rev = e.Revision()
			var rec jobRecord
			if err := json.Unmarshal(e.Value(), &rec); err != nil {
				j.log.Warn("decoding job record", "error", err)
				continue
			}
			if j.apply(&rec) {
				return
			}
		}
	}
}

// pollRecord reads the job record and applies it if it is newer than rev;
// it reports whether the job has ended. Errors are left to the watch.
func (j *Job) pollRecord(rev *uint64) bool {
	ctx, cancel := context.WithTimeout(j.ctx, jobPollEvery)
	defer cancel()
	rec, r, err := getRecord[jobRecord](ctx, j.in.jobs, j.id)
	if err != nil || rec == nil || r <= *rev {
		return false
	}
	*rev = r
	return j.apply(rec)
}

// apply makes rec the latest record and reports whether it is terminal.
func (j *Job) apply(rec *jobRecord) bool {
	j.mu.Lock()
	j.latest = rec
	j.pushProgressLocked()
	j.mu.Unlock()
	select {
	case j.updated <- struct{}{}:
	default:
	}
	return rec.State.Terminal()
}

func (j *Job) setWatchErr(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.watchErr == nil {
		j.watchErr = err
	}
}

// onProgress records a running task's rows so far.
func (j *Job) onProgress(m *nats.Msg) {
	var tp taskProgress
	if err := json.Unmarshal(m.Data, &tp); err != nil || tp.Index < 0 {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.latest != nil && j.latest.Counted.has(tp.Index) {
		return // finished: its rows are in the record's counts
	}
	j.running[tp.Index] = tp.Rows
	j.pushProgressLocked()
}

// pushProgressLocked replaces any unread snapshot with the current one:
// the record's counts plus the rows so far of tasks not yet counted.
func (j *Job) pushProgressLocked() {
	if j.progDone || j.latest == nil {
		return
	}
	rec := j.latest
	p := progressOf(rec, time.Now())
	if !rec.State.Terminal() {
		for idx, n := range j.running {
			if rec.Counted.has(idx) {
				delete(j.running, idx)
				continue
			}
			p.Rows += n
		}
		if p.Elapsed > 0 {
			p.RowsPerSec = float64(p.Rows) / p.Elapsed.Seconds()
		}
	}
	select {
	case <-j.progress:
	default:
	}
	select {
	case j.progress <- p:
	default:
	}
}

// Progress returns a channel of progress snapshots. It keeps only the latest
// snapshot when the reader is slow and is closed when the job ends (or the
// Job is closed). Every call returns the same channel.
func (j *Job) Progress() <-chan Progress { return j.progress }

// record returns the latest job record seen (nil before the first).
func (j *Job) record() *jobRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.latest
}

// Wait blocks until the job ends and returns its summary. A failed or
// cancelled job returns the summary and a *JobError. For a load, Wait also
// waits for the upload; an input error (say a malformed CSV line) is the
// JobError's Cause.
func (j *Job) Wait(ctx context.Context) (*JobResult, error) {
	if j.uploadDone != nil {
		select {
		case <-j.uploadDone:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if j.abortErr != nil {
			// The job's end could not be recorded (say, the store is full):
			// do not wait for it.
			return nil, &JobError{ID: j.id, State: JobFailed, Cause: j.uploadErr,
				Reason: fmt.Sprintf("upload failed (%v) and the failure could not be recorded (%v)", j.uploadErr, j.abortErr)}
		}
	}
	return j.Settle(ctx)
}

// settleTimeout bounds how long Settle waits, after a load or delete ended
// without success, for its cut-short tasks to report what they wrote.
const settleTimeout = 10 * time.Second

// Settle waits for the job to end, but not for a load's upload (use it
// after cancelling a job whose input may still be blocked in a read). For
// a load or delete that did not succeed, it then waits (up to 10s) until
// the tasks that were running have reported what they wrote, so the
// result counts them; tasks that never report (a worker gone) are counted
// in JobResult.Unreported, and the counts are then a stated lower bound.
// It returns the result as Wait does.
func (j *Job) Settle(ctx context.Context) (*JobResult, error) {
	select {
	case <-j.ended:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	rec := j.record()
	if rec == nil || !rec.State.Terminal() {
		j.mu.Lock()
		err := j.watchErr
		j.mu.Unlock()
		return nil, err
	}
	if rec.State == JobSucceeded {
		res := rec.Result
		if res == nil {
			res = &JobResult{}
			fillResult(res, rec)
		}
		return res, nil
	}
	if rec.Result == nil {
		rec.Result = &JobResult{}
		fillResult(rec.Result, rec)
	}
	res := resultOf(rec)
	if rec.Spec.Kind == KindLoad || rec.Spec.Kind == KindDelete {
		res = j.settleWrites(ctx, rec)
	}
	return res, j.jobError(rec)
}

// settleWrites polls the task records until no task has an unreported
// attempt (or settleTimeout passes) and returns the result of the job
// record read then.
func (j *Job) settleWrites(ctx context.Context, rec *jobRecord) *JobResult {
	sctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	unreported, wait := -1, 20*time.Millisecond
	for {
		n, err := j.unreportedTasks(sctx)
		if err == nil {
			unreported = n
		}
		if err == nil && n == 0 {
			break
		}
		select {
		case <-sctx.Done():
		case <-time.After(wait): // polling the task records
			wait = min(2*wait, 500*time.Millisecond)
			continue
		}
		break
	}
	if latest, _, err := getRecord[jobRecord](context.WithoutCancel(ctx), j.in.jobs, j.id); err == nil && latest != nil && latest.Result != nil {
		rec = latest
	}
	res := resultOf(rec)
	if unreported != 0 {
		res.Unreported = max(unreported, 0)
		res.LowerBoundReason = fmt.Sprintf("%d task(s) running when the job ended did not report what they wrote within %s (worker gone?): Redis may hold more than counted", res.Unreported, settleTimeout)
		if unreported < 0 {
			res.LowerBoundReason = "the task records could not be read to collect what tasks cut short wrote: Redis may hold more than counted"
		}
	}
	return res
}

// unreportedTasks counts the job's tasks with an attempt that has not
// reported its end.
func (j *Job) unreportedTasks(ctx context.Context) (int, error) {
	n := 0
	err := forEachTask(ctx, j.in.taskKV, j.id, func(t *taskRecord) error {
		if t.unreported() {
			n++
		}
		return nil
	})
	return n, err
}

func (j *Job) jobError(rec *jobRecord) *JobError {
	e := &JobError{ID: rec.ID, State: rec.State, Reason: rec.Reason, Tasks: rec.Errors}
	if j.uploadDone != nil {
		select {
		case <-j.uploadDone:
			e.Cause = j.uploadErr
		default:
		}
	}
	return e
}

// Cancel cancels the job.
func (j *Job) Cancel(ctx context.Context) error { return j.c.Cancel(ctx, j.id) }

// Close stops the handle's watchers (and an unfinished upload, which fails
// the job). It does not otherwise cancel the job. Idempotent.
func (j *Job) Close() error {
	j.closeOnce.Do(func() {
		j.cancel()
		j.wg.Wait()
	})
	return nil
}
