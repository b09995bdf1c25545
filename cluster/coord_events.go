package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// maxEventDeliveries bounds how often a coordinator retries an event it
// cannot process (a KV outage); then the event is dropped and repair takes over.
const maxEventDeliveries = 50

func (c *Coordinator) handleEventMsg(ctx context.Context, msg jetstream.Msg) {
	var ev event
	if err := json.Unmarshal(msg.Data(), &ev); err != nil || !validToken(ev.Job) || !validToken(ev.Task) {
		c.log.Warn("dropping malformed task event", "subject", msg.Subject(), "error", err)
		_ = msg.Term()
		return
	}
	err := c.handleEvent(ctx, &ev)
	if err == nil || errors.Is(err, ErrJobNotFound) {
		if err := msg.Ack(); err != nil {
			c.log.Debug("acking event", "error", err)
		}
		return
	}
	if ctx.Err() != nil {
		_ = msg.Nak()
		return
	}
	md, _ := msg.Metadata()
	if md != nil && md.NumDelivered >= maxEventDeliveries {
		c.log.Error("dropping task event after repeated failures", "job", ev.Job, "task", ev.Task, "type", ev.Type, "error", err)
		_ = msg.Term()
		return
	}
	c.log.Warn("processing task event, will retry", "job", ev.Job, "task", ev.Task, "type", ev.Type, "error", err)
	_ = msg.NakWithDelay(time.Second)
}

func (c *Coordinator) handleEvent(ctx context.Context, ev *event) error {
	switch ev.Type {
	case evStarted:
		return c.taskStarted(ctx, ev)
	case evComplete:
		return c.taskComplete(ctx, ev)
	case evFailed:
		return c.taskFailed(ctx, ev)
	case evStopped:
		return c.taskStopped(ctx, ev)
	}
	c.log.Warn("ignoring task event of unknown type", "type", ev.Type)
	return nil
}

func (c *Coordinator) taskStarted(ctx context.Context, ev *event) error {
	_, err := updateRecord(ctx, c.in.taskKV, taskKey(ev.Job, ev.Task), func(t *taskRecord) error {
		if t.State.terminal() || t.State == taskReplacing {
			return errNoChange
		}
		t.State, t.Worker, t.Updated, t.Current = taskRunning, ev.Worker, time.Now().UTC(), ev.Attempt
		t.Attempts = max(t.Attempts+1, ev.Delivered)
		return nil
	})
	return err
}

// taskComplete picks the winning attempt (the first complete record) with
// CAS on the task record, then counts it once in the job record.
func (c *Coordinator) taskComplete(ctx context.Context, ev *event) error {
	won := false
	t, err := updateRecord(ctx, c.in.taskKV, taskKey(ev.Job, ev.Task), func(t *taskRecord) error {
		if t.Winner != "" {
			won = t.Winner == ev.Attempt // a redelivered event of the winner
			return errNoChange
		}
		if t.State.terminal() || t.State == taskReplacing {
			return errNoChange
		}
		t.Winner, t.WinnerDelivered, t.Worker = ev.Attempt, ev.Delivered, ev.Worker
		t.Frames, t.Counts, t.Output = ev.Frames, ev.Counts, ev.Output
		t.State, t.Updated = taskDone, time.Now().UTC()
		t.Attempts = max(t.Attempts, ev.Delivered)
		won = true
		return nil
	})
	if err != nil {
		return err
	}
	if !won {
		c.log.Debug("losing attempt", "job", ev.Job, "task", ev.Task, "attempt", ev.Attempt, "winner", t.Winner)
		if err := c.in.results.Purge(ctx, jetstream.WithPurgeSubject(resultSubject(ev.Job, ev.Task, ev.Attempt))); err != nil {
			c.log.Warn("purging frames of a losing attempt", "job", ev.Job, "task", ev.Task, "error", err)
		}
		return nil
	}
	_, err = updateRecord(ctx, c.in.jobs, ev.Job, func(j *jobRecord) error {
		if j.Counted.has(t.Index) {
			return errNoChange
		}
		j.Counted.set(t.Index)
		if j.State.Terminal() { // completed after the job ended: its writes happened
			j.Late.add(ev.Counts)
			return nil
		}
		j.Done++
		j.Counts.add(ev.Counts)
		return nil
	})
	if err != nil {
		return err
	}
	if t.Chunk != nil {
		if err := c.in.chunks.Purge(ctx, jetstream.WithPurgeSubject(t.Chunk.Subject)); err != nil {
			c.log.Warn("purging a load chunk", "subject", t.Chunk.Subject, "error", err)
		}
	}
	return c.maybeFinish(ctx, ev.Job)
}

func (c *Coordinator) taskFailed(ctx context.Context, ev *event) error {
	te := TaskError{Task: ev.Task, Attempt: ev.Attempt, Delivered: ev.Delivered, Worker: ev.Worker, Error: ev.Error}
	t, err := c.updateTaskMakingRoom(ctx, ev, func(t *taskRecord) error {
		if t.State.terminal() {
			return errNoChange
		}
		if n := len(t.Errors); n > 0 && t.Errors[n-1].Attempt == ev.Attempt {
			return errNoChange // redelivered event
		}
		t.Errors = appendError(t.Errors, te)
		t.Attempts = max(t.Attempts, ev.Delivered)
		if ev.Code == failFinal {
			t.State = taskFailed
		}
		t.Updated = time.Now().UTC()
		return nil
	})
	if err != nil {
		return err
	}
	log := c.log.With("job", ev.Job, "task", ev.Task, "attempt", ev.Delivered, "worker", ev.Worker)
	switch {
	case t.State == taskDone || t.State == taskReplaced:
		return nil
	case ev.Code == failFinal:
		if err := c.taskStopped(ctx, ev); err != nil { // count what it wrote
			return err
		}
		log.Error("task failed", "error", ev.Error)
		reason := fmt.Sprintf("task %s failed after %d attempt(s): %s", ev.Task, ev.Delivered, ev.Error)
		err := c.endJob(ctx, ev.Job, JobFailed, reason, nil, te)
		if errors.Is(err, ErrJobFinished) {
			return nil
		}
		return err
	case ev.Code == failStale:
		log.Info("stale topology, re-planning task", "error", ev.Error)
		return c.replanTask(ctx, ev.Job, ev.Task)
	default:
		log.Warn("task attempt failed, will be retried", "error", ev.Error)
		return nil
	}
}

// taskStopped counts, once per task, what a write task wrote before it was
// cut short by its job's end (or failed for good): in the job record's
// Late counts, which resultOf adds to the job's result. A task with a
// winner is already counted.
func (c *Coordinator) taskStopped(ctx context.Context, ev *event) error {
	t, err := updateRecord(ctx, c.in.taskKV, taskKey(ev.Job, ev.Task), func(t *taskRecord) error {
		if t.Winner != "" || t.Stopped {
			return errNoChange
		}
		t.Stopped, t.Updated = true, time.Now().UTC()
		return nil
	})
	if err != nil {
		return err
	}
	if t.Winner != "" {
		return nil
	}
	_, err = updateRecord(ctx, c.in.jobs, ev.Job, func(j *jobRecord) error {
		if j.Counted.has(t.Index) {
			return errNoChange // counted (a redelivered event)
		}
		j.Counted.set(t.Index)
		j.Late.add(ev.Counts)
		return nil
	})
	return err
}

// replanTask replaces a task whose partition no longer matches the Redis
// topology by the partitions of a fresh plan that cover it.
func (c *Coordinator) replanTask(ctx context.Context, job, task string) error {
	j, _, err := getRecord[jobRecord](ctx, c.in.jobs, job)
	if err != nil || j == nil || j.State.Terminal() {
		return err
	}
	key := taskKey(job, task)
	t, _, err := getRecord[taskRecord](ctx, c.in.taskKV, key)
	if err != nil || t == nil || t.State.terminal() {
		return err
	}
	if t.State != taskReplacing {
		if len(t.Part) == 0 {
			return c.endJob(ctx, job, JobFailed, fmt.Sprintf("task %s: topology changed under a task that cannot be re-planned", task), nil)
		}
		parts, err := c.exec.Replan(ctx, &j.Spec, t.Part)
		if err != nil {
			err := c.endJob(ctx, job, JobFailed, fmt.Sprintf("re-planning task %s after a topology change: %v", task, err), nil)
			if errors.Is(err, ErrJobFinished) {
				return nil
			}
			return err
		}
		t, err = updateRecord(ctx, c.in.taskKV, key, func(r *taskRecord) error {
			if r.State.terminal() || r.State == taskReplacing {
				return errNoChange
			}
			r.State, r.Children, r.Updated = taskReplacing, parts, time.Now().UTC()
			return nil
		})
		if err != nil {
			return err
		}
		if t.State != taskReplacing {
			return nil
		}
	}
	return c.continueReplan(ctx, job, t)
}

// continueReplan is the idempotent second half of replanTask: allocate the
// children's indices (once), create and queue them, mark the task replaced.
func (c *Coordinator) continueReplan(ctx context.Context, job string, t *taskRecord) error {
	j, err := updateRecord(ctx, c.in.jobs, job, func(j *jobRecord) error {
		if j.State.Terminal() {
			return errNoChange
		}
		if _, ok := j.Replaced[t.ID]; ok {
			return errNoChange
		}
		if j.Replaced == nil {
			j.Replaced = map[string]int{}
		}
		j.Replaced[t.ID] = j.Tasks
		j.Tasks += len(t.Children)
		if !j.Counted.has(t.Index) {
			j.Counted.set(t.Index)
			j.Done++
		}
		return nil
	})
	if err != nil || j.State.Terminal() {
		return err
	}
	first := j.Replaced[t.ID]
	for i, p := range t.Children {
		// Children are named by their own index, like planned tasks, so ids
		// stay short however often a range is re-planned (Parent keeps the
		// lineage).
		child := &taskRecord{Job: job, ID: taskID(first + i), Parent: t.ID, Index: first + i, State: taskPlanned,
			Part: p, Limit: t.Limit, Updated: time.Now().UTC()}
		child, err := c.createTask(ctx, child)
		if err != nil {
			return err
		}
		if child.State == taskPlanned {
			c.sched.add(job, j.Created, child.ID)
		}
	}
	_, err = updateRecord(ctx, c.in.taskKV, taskKey(job, t.ID), func(r *taskRecord) error {
		if r.State != taskReplacing {
			return errNoChange
		}
		r.State, r.Updated = taskReplaced, time.Now().UTC()
		return nil
	})
	if err != nil {
		return err
	}
	c.log.Info("task re-planned", "job", job, "task", t.ID, "children", len(t.Children))
	return c.maybeFinish(ctx, job)
}

// updateTaskMakingRoom updates the task record of a failed event; when the
// store is full and the failure is final (the job is failing), the job's
// data is purged to make room and the update is tried once more.
func (c *Coordinator) updateTaskMakingRoom(ctx context.Context, ev *event, fn func(*taskRecord) error) (*taskRecord, error) {
	key := taskKey(ev.Job, ev.Task)
	t, err := updateRecord(ctx, c.in.taskKV, key, fn)
	if err != nil && isStoreFull(err) && ev.Code == failFinal {
		c.log.Warn("JetStream store full: purging the data of the failing job", "job", ev.Job, "error", err)
		if perr := purgeJobData(ctx, c.in, ev.Job); perr != nil {
			c.log.Warn("purging job data", "job", ev.Job, "error", perr)
		}
		t, err = updateRecord(ctx, c.in.taskKV, key, fn)
	}
	return t, err
}
