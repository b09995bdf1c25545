package cluster

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// The coordinator's scheduler shares worker slots between jobs (issue 7.5).
//
// Planned tasks are not put on the work queue at once: the scheduler holds
// them and releases them so that the queue holds only what workers can take
// now, that is one task per pull request a worker has open (the consumer's
// NumWaiting) and at least CoordinatorConfig.QueueAhead, minus the tasks
// already waiting there (NumPending). Which job's task goes next is decided
// by round-robin across the jobs holding tasks (start-time fair queuing by
// task): each job has a turn number, the job with the lowest turn releases
// its next task and moves to the next turn, and a job that starts holding
// tasks (newly submitted, or a load whose next chunk arrives) joins at the
// current turn, ahead of the jobs that already had that turn. Within a
// turn, the job holding the fewest tasks goes first (then the older job).
// So a small job submitted behind big ones gets the next free slot instead
// of waiting for every task queued before it, jobs share the workers task by
// task, and no job waits more than one turn of every other job. A round runs when a
// task is planned, after every batch of task events, and every PollInterval
// while tasks are held.
//
// Held tasks are recorded as planned; a coordinator that restarts finds them
// by its repair pass and holds them again. Several coordinators each release
// the tasks they hold by the same rule (each repair pass makes every
// coordinator hold every planned task; releasing is idempotent: a task is
// published only while its record says planned, with a deduplicating message
// id). A job whose task cannot be queued for queueFailAfter fails with the
// publishing error.

// queueFailAfter bounds how long a job waits while its tasks cannot be
// queued (the store refuses the message) before it fails.
const queueFailAfter = 10 * time.Second

// scheduler holds planned tasks and releases them fairly; see above.
type scheduler struct {
	c    *Coordinator
	wake chan struct{}

	mu   sync.Mutex
	jobs map[string]*heldJob
	turn int64 // turn of the last task released (the current turn)
}

// heldJob is what the scheduler holds of one job.
type heldJob struct {
	created time.Time
	order   []string        // held task ids, in the order they were planned
	held    map[string]bool // the same, as a set
	failing time.Time       // start of consecutive queueing failures
	turn    int64           // the job's next turn
}

// candidate is a job with held tasks, as one round sees it.
type candidate struct {
	job  *jobRecord
	turn int64
	held int // tasks the job holds
}

func newScheduler(c *Coordinator) *scheduler {
	return &scheduler{c: c, wake: make(chan struct{}, 1), jobs: map[string]*heldJob{}}
}

// add holds a planned task of job until a round releases it; it reports
// whether the task was new to the scheduler.
func (s *scheduler) add(job string, created time.Time, task string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.jobs[job]
	if h == nil {
		h = &heldJob{created: created, held: map[string]bool{}, turn: s.turn}
		s.jobs[job] = h
	}
	if h.held[task] {
		return false
	}
	h.held[task] = true
	h.order = append(h.order, task)
	return true
}

// poke asks for a round soon; it never blocks.
func (s *scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run releases tasks until ctx ends.
func (s *scheduler) run(ctx context.Context) {
	t := time.NewTicker(s.c.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
		s.round(ctx)
	}
}

// round releases as many held tasks as workers can take now, fairest first.
func (s *scheduler) round(ctx context.Context) {
	if s.idle() {
		return
	}
	room, err := s.room(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.c.log.Debug("reading the work queue's state", "error", err)
		}
		return
	}
	cands := s.candidates(ctx)
	for room > 0 && len(cands) > 0 {
		slices.SortStableFunc(cands, func(a, b *candidate) int {
			return cmp.Or(cmp.Compare(a.turn, b.turn), cmp.Compare(a.held, b.held),
				a.job.Created.Compare(b.job.Created), cmp.Compare(a.job.ID, b.job.ID))
		})
		best := cands[0]
		released, more, err := s.releaseNext(ctx, best)
		switch {
		case err != nil:
			s.queueFailed(ctx, best.job, err)
			more = false
		case released:
			room--
		}
		if !more {
			cands = cands[1:]
		}
	}
}

func (s *scheduler) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.jobs) == 0
}

// room is how many more tasks the work queue should hold now.
func (s *scheduler) room(ctx context.Context) (int, error) {
	cons, err := s.c.js.Consumer(ctx, streamTasks, consumerWorkers)
	if err != nil {
		return 0, err
	}
	info := cons.CachedInfo()
	return max(info.NumWaiting, s.c.cfg.QueueAhead) - int(info.NumPending), nil
}

// candidates returns the jobs with held tasks that still run; it forgets
// the others.
func (s *scheduler) candidates(ctx context.Context) []*candidate {
	s.mu.Lock()
	held := make(map[string]candidate, len(s.jobs))
	for id, h := range s.jobs {
		held[id] = candidate{turn: h.turn, held: len(h.order)}
	}
	s.mu.Unlock()
	var out []*candidate
	for id, c := range held {
		j, _, err := getRecord[jobRecord](ctx, s.c.in.jobs, id)
		if err != nil {
			continue // try again next round
		}
		if j == nil || j.State.Terminal() {
			s.forget(id)
			continue
		}
		out = append(out, &candidate{job: j, turn: c.turn, held: c.held})
	}
	return out
}

func (s *scheduler) forget(job string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.jobs, job)
}

// releaseNext queues the next held task of c's job that is still planned
// and moves the job to its next turn. It reports whether it queued one and
// whether the job holds more tasks.
func (s *scheduler) releaseNext(ctx context.Context, c *candidate) (released, more bool, err error) {
	j := c.job
	id, ok := s.pop(j.ID)
	if !ok {
		return false, false, nil
	}
	t, _, err := getRecord[taskRecord](ctx, s.c.in.taskKV, taskKey(j.ID, id))
	if err != nil { // not a queueing failure: try again next round
		s.unpop(j.ID, id)
		s.c.log.Debug("reading a held task", "job", j.ID, "task", id, "error", err)
		return false, false, nil
	}
	if t != nil && t.State == taskPlanned {
		err = s.c.publishTask(ctx, j, t)
		released = err == nil
	}
	if err != nil {
		s.unpop(j.ID, id)
		return false, true, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if released {
		s.turn = max(s.turn, c.turn)
		c.turn++
		c.held--
	}
	h := s.jobs[j.ID]
	if h != nil {
		h.failing, h.turn = time.Time{}, c.turn
	}
	return released, h != nil && len(h.order) > 0, nil
}

// pop takes the first held task of job (the job is forgotten once empty).
func (s *scheduler) pop(job string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.jobs[job]
	if h == nil || len(h.order) == 0 {
		delete(s.jobs, job)
		return "", false
	}
	id := h.order[0]
	h.order = h.order[1:]
	delete(h.held, id)
	if len(h.order) == 0 {
		delete(s.jobs, job)
	}
	return id, true
}

// unpop gives back a task that could not be queued, at the front.
func (s *scheduler) unpop(job, task string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.jobs[job]
	if h == nil {
		h = &heldJob{held: map[string]bool{}, turn: s.turn}
		s.jobs[job] = h
	}
	if !h.held[task] {
		h.held[task] = true
		h.order = append([]string{task}, h.order...)
	}
}

// queueFailed notes that a task of j could not be queued; after
// queueFailAfter of consecutive failures the job fails.
func (s *scheduler) queueFailed(ctx context.Context, j *jobRecord, err error) {
	s.mu.Lock()
	h := s.jobs[j.ID]
	since := time.Duration(0)
	if h != nil {
		if h.failing.IsZero() {
			h.failing = time.Now()
		}
		since = time.Since(h.failing)
	}
	s.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	if since < queueFailAfter {
		s.c.log.Warn("queueing a task failed, will retry", "job", j.ID, "error", err)
		return
	}
	reason := fmt.Sprintf("tasks could not be queued for %s: %v", queueFailAfter, err)
	if err := s.c.endJob(ctx, j.ID, JobFailed, reason, nil); err != nil {
		s.c.log.Warn("failing a job whose tasks cannot be queued", "job", j.ID, "error", err)
	}
	s.forget(j.ID)
}
