package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redstage/redstage/codec"
)

// Job lifecycle on the coordinator. Every step is idempotent so that a
// coordinator that crashed half-way can redo it (see repair).

// submit validates, records and (except load) plans and queues a job.
func (c *Coordinator) submit(ctx context.Context, spec JobSpec) (*submitReply, error) {
	spec.Normalize()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	vctx, cancel := context.WithTimeout(ctx, c.cfg.ValidateTimeout)
	err := c.exec.Check(vctx, &spec)
	cancel()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	j := &jobRecord{
		ID: newJobID(now), Spec: spec, State: JobPending, Created: now, Touched: now,
		Target: spec.target(), Replaced: map[string]int{},
	}
	if spec.Kind == KindLoad {
		j.State, j.Started = JobRunning, now
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("encoding job: %w", err)
	}
	if _, err := c.in.jobs.Create(ctx, j.ID, b); err != nil {
		return nil, fmt.Errorf("recording job %s: %w", j.ID, err)
	}
	log := c.log.With("job", j.ID, "kind", spec.Kind, "redis", spec.redisTarget())
	if spec.Kind == KindLoad {
		log.Info("load job accepted, waiting for input chunks")
		return &submitReply{ID: j.ID}, nil
	}
	n, err := c.planJob(ctx, j)
	if err != nil {
		log.Error("planning failed", "error", err)
		_ = c.endJob(ctx, j.ID, JobFailed, "planning: "+err.Error(), nil)
		return nil, fmt.Errorf("planning job %s: %w", j.ID, err)
	}
	log.Info("job planned", "target", j.Target, "tasks", n)
	return &submitReply{ID: j.ID, Tasks: n}, nil
}

// planJob splits a scan, infer or delete job into tasks, records and queues them.
func (c *Coordinator) planJob(ctx context.Context, j *jobRecord) (int, error) {
	c.mu.Lock()
	if c.planning[j.ID] {
		c.mu.Unlock()
		return 0, nil
	}
	c.planning[j.ID] = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.planning, j.ID)
		c.mu.Unlock()
	}()

	tasks := j.Spec.Tasks
	if tasks == 0 {
		tasks = c.cfg.DefaultTasks
	}
	parts, err := c.exec.Plan(ctx, &j.Spec, tasks)
	if err != nil {
		return 0, err
	}
	// A previous coordinator may have crashed half-way through recording a plan.
	if err := c.deleteTaskRecords(ctx, j.ID); err != nil {
		return 0, err
	}
	limit := 0
	if j.Spec.Kind == KindInfer && len(parts) > 0 {
		// Every task may read the whole sample, so that partitions with
		// more keys make up for those with fewer than their share; the
		// result takes exactly Sample hashes (buildResult, allot).
		limit = j.Spec.Infer.Sample
	}
	recs := make([]*taskRecord, len(parts))
	for i, p := range parts {
		recs[i] = &taskRecord{Job: j.ID, ID: taskID(i), Index: i, State: taskPlanned, Part: p, Limit: limit, Updated: time.Now().UTC()}
		if err := putRecord(ctx, c.in.taskKV, taskKey(j.ID, recs[i].ID), recs[i]); err != nil {
			return 0, err
		}
	}
	j2, err := updateRecord(ctx, c.in.jobs, j.ID, func(r *jobRecord) error {
		if r.State.Terminal() {
			return fmt.Errorf("job %s: %w", j.ID, ErrJobFinished)
		}
		r.Planned, r.Tasks, r.InputComplete = true, len(parts), true
		r.State, r.Started = JobRunning, time.Now().UTC()
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, t := range recs {
		c.sched.add(j2.ID, j2.Created, t.ID)
	}
	c.sched.poke()
	return len(parts), c.maybeFinish(ctx, j.ID)
}

// publishTask queues a planned task (deduplicated by message id) and marks it queued.
func (c *Coordinator) publishTask(ctx context.Context, j *jobRecord, t *taskRecord) error {
	m := taskMsg{Job: j.ID, Task: t.ID, Index: t.Index, Spec: j.Spec, Part: t.Part, Chunk: t.Chunk, Limit: t.Limit, Policy: c.policy()}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding task %s: %w", t.ID, err)
	}
	id := fmt.Sprintf("%s.%s.%d", j.ID, t.ID, t.Gen)
	if _, err := c.js.Publish(ctx, taskSubject(j.ID, t.ID), b, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("queueing task %s of job %s: %w", t.ID, j.ID, err)
	}
	_, err = updateRecord(ctx, c.in.taskKV, taskKey(j.ID, t.ID), func(r *taskRecord) error {
		if r.State != taskPlanned {
			return errNoChange
		}
		r.State, r.Updated = taskQueued, time.Now().UTC()
		return nil
	})
	return err
}

// addChunk records an uploaded load chunk as a task and queues it.
func (c *Coordinator) addChunk(ctx context.Context, r chunkRequest) error {
	if !validToken(r.Job) {
		return fmt.Errorf("job %q: %w", r.Job, ErrJobNotFound)
	}
	if r.Index < 0 || r.Index >= 1<<24 || r.Chunk.Subject != chunkSubject(r.Job, r.Index) || r.Chunk.Frames < 0 {
		return fmt.Errorf("%w: chunk %d of job %s: bad index, subject or frame count", ErrInvalidSpec, r.Index, r.Job)
	}
	j, err := updateRecord(ctx, c.in.jobs, r.Job, func(j *jobRecord) error {
		switch {
		case j.State.Terminal():
			return fmt.Errorf("job %s is %s: %w", r.Job, j.State, ErrJobFinished)
		case j.Spec.Kind != KindLoad:
			return fmt.Errorf("%w: job %s is a %s job, chunks belong to load jobs", ErrInvalidSpec, r.Job, j.Spec.Kind)
		case j.InputComplete:
			return fmt.Errorf("%w: job %s: input already complete", ErrInvalidSpec, r.Job)
		}
		j.Tasks = max(j.Tasks, r.Index+1)
		j.Touched = time.Now().UTC()
		return nil
	})
	if err != nil {
		return err
	}
	t := &taskRecord{Job: r.Job, ID: taskID(r.Index), Index: r.Index, State: taskPlanned, Chunk: &r.Chunk, Updated: time.Now().UTC()}
	t, err = c.createTask(ctx, t)
	if err != nil {
		return err
	}
	if t.State == taskPlanned {
		c.sched.add(j.ID, j.Created, t.ID)
		c.sched.poke()
	}
	return nil
}

// createTask creates a task record unless it exists; it returns the stored record.
func (c *Coordinator) createTask(ctx context.Context, t *taskRecord) (*taskRecord, error) {
	key := taskKey(t.Job, t.ID)
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encoding task %s: %w", key, err)
	}
	if _, err := c.in.taskKV.Create(ctx, key, b); err == nil {
		return t, nil
	} else if !errors.Is(err, jetstream.ErrKeyExists) && !isRevisionMismatch(err) {
		return nil, fmt.Errorf("recording task %s: %w", key, err)
	}
	old, _, err := getRecord[taskRecord](ctx, c.in.taskKV, key)
	if err != nil {
		return nil, err
	}
	if old == nil {
		return nil, fmt.Errorf("recording task %s: record vanished", key)
	}
	return old, nil
}

// inputDone handles the end (or a keepalive, or an abort) of a load's input.
func (c *Coordinator) inputDone(ctx context.Context, r inputRequest) error {
	if !validToken(r.Job) {
		return fmt.Errorf("job %q: %w", r.Job, ErrJobNotFound)
	}
	if r.Error != "" {
		return c.endJob(ctx, r.Job, JobFailed, "reading input: "+r.Error, nil)
	}
	_, err := updateRecord(ctx, c.in.jobs, r.Job, func(j *jobRecord) error {
		if j.State.Terminal() {
			return fmt.Errorf("job %s is %s: %w", r.Job, j.State, ErrJobFinished)
		}
		j.Touched = time.Now().UTC()
		if r.Keepalive {
			return nil
		}
		if r.Chunks < j.Tasks {
			return fmt.Errorf("%w: job %s: input ends after %d chunks but chunk %d was added", ErrInvalidSpec, r.Job, r.Chunks, j.Tasks-1)
		}
		j.Tasks, j.InputComplete = r.Chunks, true
		return nil
	})
	if err != nil || r.Keepalive {
		return err
	}
	c.log.Info("load input complete", "job", r.Job, "chunks", r.Chunks, "rows", r.Rows, "bytes", r.Bytes)
	return c.maybeFinish(ctx, r.Job)
}

// maybeFinish ends a running job whose tasks all have an outcome.
func (c *Coordinator) maybeFinish(ctx context.Context, id string) error {
	j, _, err := getRecord[jobRecord](ctx, c.in.jobs, id)
	if err != nil || j == nil {
		return err
	}
	if j.State != JobRunning || !j.InputComplete || j.Done < j.Tasks {
		return nil
	}
	res, err := c.buildResult(ctx, j)
	if err != nil {
		return c.endJob(ctx, id, JobFailed, err.Error(), nil)
	}
	err = c.endJob(ctx, id, JobSucceeded, "", res)
	if errors.Is(err, ErrJobFinished) {
		return nil
	}
	return err
}

// buildResult summarizes a job whose tasks are all done.
func (c *Coordinator) buildResult(ctx context.Context, j *jobRecord) (*JobResult, error) {
	res := &JobResult{ID: j.ID, Kind: j.Spec.Kind}
	var samples []*sampleOutput
	err := c.forEachTask(ctx, j.ID, func(t *taskRecord) error {
		res.Attempts += t.Attempts
		if t.State == taskDone {
			res.Tasks++
		}
		if j.Spec.Kind == KindInfer && t.State == taskDone && len(t.Output) > 0 {
			var out sampleOutput
			if err := json.Unmarshal(t.Output, &out); err != nil {
				return fmt.Errorf("task %s: decoding inference state: %w", t.ID, err)
			}
			samples = append(samples, &out)
		}
		return nil
	})
	if err == nil && j.Spec.Kind == KindInfer {
		res.Inference, err = mergeSamples(samples, j.Spec.Infer)
	}
	if err != nil {
		return nil, fmt.Errorf("summarizing job %s: %w", j.ID, err)
	}
	return res, nil
}

// mergeSamples takes exactly Sample hashes (or all, if fewer were read)
// from the tasks' outputs, an equal share from each task as far as it has
// them, and merges their inferrer states.
func mergeSamples(samples []*sampleOutput, spec *InferSpec) (*codec.Inference, error) {
	opts := codec.InferOptions{Threshold: spec.Threshold}
	avail := make([]int, len(samples))
	for i, s := range samples {
		avail[i] = s.total()
	}
	inf := codec.NewInferrer(opts)
	for i, k := range allot(avail, spec.Sample) {
		for _, b := range samples[i].pickBlocks(k) {
			part := codec.NewInferrer(opts)
			if err := json.Unmarshal(samples[i].Blocks[b].State, part); err != nil {
				return nil, fmt.Errorf("decoding inference state: %w", err)
			}
			inf.Merge(part)
		}
	}
	return inf.Result(), nil
}

// fillResult completes a result from the job's counts at the moment it ends.
func fillResult(res *JobResult, j *jobRecord) {
	res.ID, res.Kind, res.State, res.Error = j.ID, j.Spec.Kind, j.State, j.Reason
	ct := j.Counts
	res.Rows, res.Bytes = ct.Rows, ct.Bytes
	res.Written, res.Skipped, res.Failed, res.Rejected, res.FailedKeys = ct.Written, ct.Skipped, ct.Failed, ct.Rejected, ct.FailedKeys
	res.Scanned, res.OtherTypes, res.Vanished, res.Duplicates, res.Nulls = ct.Scanned, ct.OtherTypes, ct.Vanished, ct.Duplicates, ct.Nulls
	res.Matched, res.Deleted = ct.Matched, ct.Deleted
	res.NonUTF8Keys = ct.NonUTF8Keys
	if res.Inference != nil { // tasks may read more than the sample takes
		res.Rows = int64(res.Inference.SampleCount)
	}
	p := progressOf(j, j.Finished)
	res.Duration, res.RowsPerSec = p.Elapsed, p.RowsPerSec
	if res.Attempts < j.Attempts {
		res.Attempts = j.Attempts
	}
}

// endJob moves a job to a terminal state and cleans up after it: workers
// are told to stop its tasks, queued tasks are purged, and so are result
// frames (unless it succeeded) and load chunks. ErrJobFinished if it had
// ended already.
func (c *Coordinator) endJob(ctx context.Context, id string, state JobState, reason string, res *JobResult, errs ...TaskError) error {
	j, err := c.updateJobMakingRoom(ctx, id, state != JobSucceeded, func(j *jobRecord) error {
		if j.State.Terminal() {
			return fmt.Errorf("job %s is %s: %w", id, j.State, ErrJobFinished)
		}
		j.State, j.Reason, j.Finished = state, reason, time.Now().UTC()
		for _, e := range errs {
			j.Errors = appendError(j.Errors, e)
		}
		if res == nil {
			res = &JobResult{}
		}
		fillResult(res, j)
		j.Result = res
		return nil
	})
	if err != nil {
		return err
	}
	c.log.Info("job ended", "job", id, "state", state, "reason", reason, "rows", j.Counts.Rows, "duration", j.Result.Duration)
	c.cleanup(ctx, j)
	return nil
}

// updateJobMakingRoom updates a job record; when the store is full and the
// job is ending without success, it purges the job's data (which the job
// no longer needs) to make room and tries once more. The error of a store
// that stays full wraps ErrStoreFull.
func (c *Coordinator) updateJobMakingRoom(ctx context.Context, id string, purge bool, fn func(*jobRecord) error) (*jobRecord, error) {
	j, err := updateRecord(ctx, c.in.jobs, id, fn)
	if err == nil || !isStoreFull(err) {
		return j, err
	}
	if purge {
		c.log.Warn("JetStream store full: purging the data of the ending job to record its end", "job", id, "error", err)
		if perr := purgeJobData(ctx, c.in, id); perr != nil {
			c.log.Warn("purging job data", "job", id, "error", perr)
		}
		if j, err = updateRecord(ctx, c.in.jobs, id, fn); err == nil {
			return j, nil
		}
	}
	if isStoreFull(err) {
		err = storeFull(ctx, c.nc, c.js, "KV_"+bucketJobs, err)
	}
	return nil, fmt.Errorf("recording the end of job %s: %w", id, err)
}

// cleanup removes what a terminal job no longer needs. Failures are logged:
// stream MaxAge and bucket TTLs remove leftovers eventually.
func (c *Coordinator) cleanup(ctx context.Context, j *jobRecord) {
	if j.State != JobSucceeded {
		if err := c.nc.Publish(cancelSubject(j.ID), []byte(j.State)); err != nil {
			c.log.Warn("broadcasting cancel", "job", j.ID, "error", err)
		}
		if err := c.in.results.Purge(ctx, jetstream.WithPurgeSubject(jobResultsFilter(j.ID))); err != nil {
			c.log.Warn("purging results", "job", j.ID, "error", err)
		}
	}
	if err := c.in.tasks.Purge(ctx, jetstream.WithPurgeSubject(taskSubject(j.ID, "*"))); err != nil {
		c.log.Warn("purging queued tasks", "job", j.ID, "error", err)
	}
	if j.Spec.Kind == KindLoad {
		c.deleteChunks(ctx, j.ID)
	}
}

func (c *Coordinator) deleteChunks(ctx context.Context, job string) {
	if err := c.in.chunks.Purge(ctx, jetstream.WithPurgeSubject(jobChunksFilter(job))); err != nil {
		c.log.Warn("purging load chunks", "job", job, "error", err)
	}
}

// forEachTask calls fn with every task record of a job.
func (c *Coordinator) forEachTask(ctx context.Context, job string, fn func(*taskRecord) error) error {
	return forEachTask(ctx, c.in.taskKV, job, fn)
}

func forEachTask(ctx context.Context, kv jetstream.KeyValue, job string, fn func(*taskRecord) error) error {
	lister, err := kv.ListKeysFiltered(ctx, job+".*")
	if err != nil {
		return fmt.Errorf("listing tasks of %s: %w", job, err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		t, _, err := getRecord[taskRecord](ctx, kv, k)
		if err != nil {
			return err
		}
		if t == nil {
			continue
		}
		if err := fn(t); err != nil {
			return err
		}
	}
	return nil
}

func (c *Coordinator) deleteTaskRecords(ctx context.Context, job string) error {
	var keys []string
	err := c.forEachTask(ctx, job, func(t *taskRecord) error {
		keys = append(keys, taskKey(job, t.ID))
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := c.in.taskKV.Purge(ctx, k); err != nil {
			return fmt.Errorf("removing stale task %s: %w", k, err)
		}
	}
	return nil
}

// repair resumes unfinished jobs: it plans jobs whose planning was cut
// short, queues planned tasks, completes interrupted re-plans, fails load
// jobs whose uploader vanished, and finishes jobs that are complete.
func (c *Coordinator) repair(ctx context.Context) {
	keys, err := c.in.jobs.Keys(ctx)
	if err != nil {
		if !errors.Is(err, jetstream.ErrNoKeysFound) && ctx.Err() == nil {
			c.log.Warn("listing jobs for repair", "error", err)
		}
		return
	}
	for _, id := range keys {
		if ctx.Err() != nil {
			return
		}
		j, _, err := getRecord[jobRecord](ctx, c.in.jobs, id)
		if err != nil || j == nil || j.State.Terminal() {
			continue
		}
		if err := c.repairJob(ctx, j); err != nil && ctx.Err() == nil {
			c.log.Warn("repairing job", "job", id, "error", err)
		}
	}
}

// planGrace protects a job being planned by another request from repair.
const planGrace = time.Minute

func (c *Coordinator) repairJob(ctx context.Context, j *jobRecord) error {
	now := time.Now()
	if j.Spec.Kind != KindLoad && !j.Planned {
		if now.Sub(j.Created) < planGrace {
			return nil
		}
		c.log.Info("resuming planning", "job", j.ID)
		if _, err := c.planJob(ctx, j); err != nil {
			return c.endJob(ctx, j.ID, JobFailed, "planning: "+err.Error(), nil)
		}
		return nil
	}
	if j.Spec.Kind == KindLoad && !j.InputComplete && now.Sub(j.Touched) > c.cfg.InputTimeout {
		return c.endJob(ctx, j.ID, JobFailed,
			fmt.Sprintf("no input from the uploading client for %s (client gone?); resubmit the load", c.cfg.InputTimeout.Round(time.Second)), nil)
	}
	var pending, replacing []*taskRecord
	err := c.forEachTask(ctx, j.ID, func(t *taskRecord) error {
		switch t.State {
		case taskPlanned:
			pending = append(pending, t)
		case taskReplacing:
			replacing = append(replacing, t)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range pending {
		if c.sched.add(j.ID, j.Created, t.ID) {
			c.log.Debug("holding a planned task for release", "job", j.ID, "task", t.ID)
		}
	}
	c.sched.poke()
	for _, t := range replacing {
		if err := c.continueReplan(ctx, j.ID, t); err != nil {
			return err
		}
	}
	return c.maybeFinish(ctx, j.ID)
}
