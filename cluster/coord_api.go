package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
)

// Request handlers of the coordinator's micro service.

func decodeRequest(req micro.Request, v any) error {
	if err := json.Unmarshal(req.Data(), v); err != nil {
		return fmt.Errorf("%w: malformed request on %s: %v", ErrInvalidSpec, req.Subject(), err)
	}
	return nil
}

func (c *Coordinator) serveSubmit(ctx context.Context, req micro.Request) {
	var r submitRequest
	if err := decodeRequest(req, &r); err != nil {
		respondErr(req, err)
		return
	}
	rep, err := c.submit(ctx, r.Spec)
	if err != nil {
		respondErr(req, err)
		return
	}
	respondJSON(req, rep)
}

func (c *Coordinator) serveStatus(ctx context.Context, req micro.Request) {
	var r idRequest
	if err := decodeRequest(req, &r); err != nil {
		respondErr(req, err)
		return
	}
	st, err := readStatus(ctx, c.in.jobs, r.ID)
	if err != nil {
		respondErr(req, err)
		return
	}
	respondJSON(req, st)
}

func (c *Coordinator) serveList(ctx context.Context, req micro.Request) {
	var r listRequest
	if len(req.Data()) > 0 {
		if err := decodeRequest(req, &r); err != nil {
			respondErr(req, err)
			return
		}
	}
	list, err := listStatus(ctx, c.in.jobs, r.Limit)
	if err != nil {
		respondErr(req, err)
		return
	}
	respondJSON(req, list)
}

func (c *Coordinator) serveCancel(ctx context.Context, req micro.Request) {
	var r cancelRequest
	if err := decodeRequest(req, &r); err != nil {
		respondErr(req, err)
		return
	}
	if !validToken(r.ID) {
		respondErr(req, fmt.Errorf("job %q: %w", r.ID, ErrJobNotFound))
		return
	}
	reason := "cancelled on request"
	if r.Reason != "" {
		reason += ": " + r.Reason
	}
	err := c.endJob(ctx, r.ID, JobCancelled, reason, nil)
	if errors.Is(err, ErrJobFinished) && r.Abandon {
		err = c.abandonResults(ctx, r.ID, reason)
	}
	if err != nil {
		respondErr(req, err)
		return
	}
	c.log.Info("job cancelled", "job", r.ID, "reason", reason)
	respondJSON(req, okReply{OK: true})
}

// abandonResults marks a succeeded scan whose results nobody will read as
// cancelled, with the reason, and purges its frames (ErrJobFinished for
// any other finished job).
func (c *Coordinator) abandonResults(ctx context.Context, id, reason string) error {
	j, err := updateRecord(ctx, c.in.jobs, id, func(j *jobRecord) error {
		if j.State != JobSucceeded || j.Spec.Kind != KindScan {
			return fmt.Errorf("job %s is %s: %w", id, j.State, ErrJobFinished)
		}
		j.State, j.Reason = JobCancelled, reason+" (after all its tasks had succeeded; results discarded)"
		if j.Result != nil {
			j.Result.State, j.Result.Error = j.State, j.Reason
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.cleanup(ctx, j)
	return nil
}

func (c *Coordinator) serveChunk(ctx context.Context, req micro.Request) {
	var r chunkRequest
	if err := decodeRequest(req, &r); err != nil {
		respondErr(req, err)
		return
	}
	if err := c.addChunk(ctx, r); err != nil {
		respondErr(req, err)
		return
	}
	respondJSON(req, okReply{OK: true})
}

func (c *Coordinator) serveInput(ctx context.Context, req micro.Request) {
	var r inputRequest
	if err := decodeRequest(req, &r); err != nil {
		respondErr(req, err)
		return
	}
	if err := c.inputDone(ctx, r); err != nil {
		respondErr(req, err)
		return
	}
	respondJSON(req, okReply{OK: true})
}

// readStatus reads a job record as a JobStatus.
func readStatus(ctx context.Context, jobs jetstream.KeyValue, id string) (*JobStatus, error) {
	if !validToken(id) {
		return nil, fmt.Errorf("job %q: %w", id, ErrJobNotFound)
	}
	j, _, err := getRecord[jobRecord](ctx, jobs, id)
	if err != nil {
		return nil, err
	}
	if j == nil {
		return nil, fmt.Errorf("job %s: %w", id, ErrJobNotFound)
	}
	st := statusOf(j, time.Now())
	return &st, nil
}

// listStatus returns up to limit jobs (0 = all), newest first.
func listStatus(ctx context.Context, jobs jetstream.KeyValue, limit int) ([]JobStatus, error) {
	keys, err := jobs.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return []JobStatus{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing jobs: %w", err)
	}
	// Job ids start with their creation time: sort keys to read only the newest.
	sort.Sort(sort.Reverse(sort.StringSlice(keys)))
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	out := make([]JobStatus, 0, len(keys))
	now := time.Now()
	for _, k := range keys {
		j, _, err := getRecord[jobRecord](ctx, jobs, k)
		if err != nil {
			return nil, err
		}
		if j != nil {
			out = append(out, statusOf(j, now))
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Created.After(out[b].Created) })
	return out, nil
}

// statusOf converts a job record; the Redis URL is redacted.
func statusOf(j *jobRecord, now time.Time) JobStatus {
	return JobStatus{
		ID:       j.ID,
		Kind:     j.Spec.Kind,
		State:    j.State,
		Redis:    j.Spec.redisTarget(),
		Target:   j.Target,
		Created:  j.Created,
		Finished: j.Finished,
		Progress: progressOf(j, now),
		Result:   resultOf(j),
		Errors:   j.Errors,
	}
}

func progressOf(j *jobRecord, now time.Time) Progress {
	start := j.Started
	if start.IsZero() {
		start = j.Created
	}
	end := now
	if !j.Finished.IsZero() {
		end = j.Finished
	}
	el := max(end.Sub(start), 0)
	p := Progress{
		Job: j.ID, Kind: j.Spec.Kind, State: j.State,
		TasksDone: j.Done, TasksTotal: j.Tasks, InputComplete: j.InputComplete,
		Rows: j.Counts.Rows, Bytes: j.Counts.Bytes, Elapsed: el,
	}
	if el > 0 {
		p.RowsPerSec = float64(p.Rows) / el.Seconds()
	}
	return p
}
