package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/redstage/redstage/codec"
)

// outcome is what a task body produced.
type outcome struct {
	frames int
	counts counts
	output json.RawMessage
}

// handle runs one delivered task message to its end: ack, nak or term.
func (w *Worker) handle(hardCtx context.Context, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		w.log.Warn("task message without metadata", "error", err)
		_ = msg.Term()
		return
	}
	delivered := int(md.NumDelivered)
	tm, err := decodeTaskMsg(msg.Subject(), msg.Data())
	if err != nil {
		w.rejectTask(msg, delivered, err)
		return
	}
	log := w.log.With("job", tm.Job, "task", tm.Task, "delivery", delivered)
	attempt := nuid.Next()
	ev := event{Job: tm.Job, Task: tm.Task, Attempt: attempt, Delivered: delivered, Worker: w.id}

	if delivered > tm.Policy.MaxAttempts {
		// Earlier deliveries ended without an outcome (worker crashes, lost acks).
		ev.Type, ev.Code = evFailed, failFinal
		ev.Error = fmt.Sprintf("delivered %d times without completing (workers crashed or timed out); the limit is %d", delivered-1, tm.Policy.MaxAttempts)
		w.finish(msg, &ev, log)
		return
	}

	// Register before checking the job so a cancel broadcast cannot slip between.
	ctx, cancel := context.WithCancelCause(hardCtx)
	defer cancel(nil)
	w.mu.Lock()
	w.running[attempt] = &runningTask{job: tm.Job, task: tm.Task, cancel: cancel}
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.running, attempt)
		w.mu.Unlock()
	}()
	if active, err := w.taskActive(ctx, &tm); err != nil {
		log.Warn("reading task state, handing task back", "error", err)
		_ = msg.NakWithDelay(time.Second)
		return
	} else if !active {
		log.Debug("skipping task of an ended job or with an outcome")
		_ = msg.Ack()
		return
	}

	ev.Type = evStarted
	if err := w.publishEvent(ctx, &ev); err != nil {
		if isStoreFull(err) {
			w.failStoreFull(ctx, msg, &ev, streamEvents, err, log)
			return
		}
		log.Warn("publishing started event, handing task back", "error", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if w.hooks.beforeRun != nil {
		w.hooks.beforeRun(ctx, &tm, attempt, delivered)
	}

	hbDone := make(chan struct{})
	hbStopped := make(chan struct{})
	go func() {
		defer close(hbStopped)
		w.keepAlive(ctx, msg, &tm, cancel, hbDone)
	}()
	var rows atomic.Int64
	progDone := make(chan struct{})
	go func() {
		defer close(progDone)
		w.reportProgress(ctx, &tm, &rows, hbDone)
	}()
	tctx, tcancel := context.WithTimeout(ctx, tm.Policy.Timeout)
	out, runErr := w.run(tctx, &tm, attempt, &rows)
	tcancel()
	close(hbDone)
	<-hbStopped
	<-progDone

	cause := context.Cause(ctx)
	switch {
	case runErr == nil && cause == nil:
		ev.Type, ev.Frames, ev.Counts, ev.Output = evComplete, out.frames, out.counts, out.output
		ev.Error = ""
		if err := w.publishEvent(ctx, &ev); err != nil {
			if errors.Is(context.Cause(ctx), errJobEnded) { // ended meanwhile: say what it wrote
				w.reportStopped(ctx, &ev, tm.Spec.Kind, out.counts, log)
				_ = msg.Ack()
				return
			}
			if isStoreFull(err) {
				w.failStoreFull(ctx, msg, &ev, streamEvents, err, log)
				return
			}
			log.Warn("publishing complete event, handing task back", "error", err)
			_ = msg.NakWithDelay(time.Second)
			return
		}
		if w.hooks.beforeAck != nil {
			w.hooks.beforeAck(&tm, attempt)
		}
		w.done.Add(1)
		if err := msg.Ack(); err != nil {
			log.Debug("acking task", "error", err)
		}
		log.Debug("task done", "rows", out.counts.Rows, "frames", out.frames)
	case errors.Is(cause, errJobEnded):
		log.Info("task stopped: its job ended", "written", out.counts.Written)
		w.reportStopped(ctx, &ev, tm.Spec.Kind, out.counts, log)
		_ = msg.Ack()
	case errors.Is(cause, errDraining):
		log.Info("task handed back: worker draining")
		_ = msg.Nak()
	default:
		if runErr == nil {
			runErr = cause
		}
		if active, err := w.taskActive(context.WithoutCancel(ctx), &tm); err == nil && !active {
			// A late execution whose task was decided (or whose job ended)
			// meanwhile: its failure (say, its chunk is gone) is moot.
			log.Info("late execution stopped: task already decided", "error", runErr)
			_ = msg.Ack()
			return
		}
		if isStoreFull(runErr) {
			w.failStoreFull(ctx, msg, &ev, "", runErr, log)
			return
		}
		w.failed.Add(1)
		ev.Type, ev.Error, ev.Counts = evFailed, runErr.Error(), out.counts
		ev.Code = w.exec.Classify(runErr)
		if errors.Is(runErr, context.DeadlineExceeded) {
			ev.Code = failRetry
			ev.Error = fmt.Sprintf("task timed out after %s: %v", tm.Policy.Timeout, runErr)
		}
		if ev.Code == failRetry && delivered >= tm.Policy.MaxAttempts {
			ev.Code = failFinal
		}
		if ev.Code == failRetry {
			log.Warn("task attempt failed, retrying", "error", runErr, "delay", tm.Policy.delay(delivered))
			if err := w.publishEvent(context.WithoutCancel(ctx), &ev); err != nil {
				log.Debug("publishing failed event", "error", err)
			}
			_ = msg.NakWithDelay(tm.Policy.delay(delivered))
			return
		}
		if ev.Code == failStale {
			log.Info("partition stale, handing the task back for re-planning", "error", runErr)
		} else {
			log.Error("task failed", "error", runErr, "code", ev.Code)
		}
		w.finish(msg, &ev, log)
	}
}

// decodeTaskMsg parses a task message and checks that it names a valid job
// and task matching its subject.
func decodeTaskMsg(subject string, data []byte) (taskMsg, error) {
	var tm taskMsg
	if err := json.Unmarshal(data, &tm); err != nil {
		return tm, fmt.Errorf("%w: decoding task message: %v", ErrMalformedTask, err)
	}
	if !validToken(tm.Job) || !validToken(tm.Task) {
		return tm, fmt.Errorf("%w: job %q / task %q: ids must be 1-64 characters of A-Z, a-z, 0-9, '-' and '_'",
			ErrMalformedTask, tm.Job, tm.Task)
	}
	if subject != taskSubject(tm.Job, tm.Task) {
		return tm, fmt.Errorf("%w: message for task %s of job %s arrived on subject %s", ErrMalformedTask, tm.Task, tm.Job, subject)
	}
	return tm, nil
}

// rejectTask ends a task message that cannot be handled: the task its
// subject names fails for good (and with it the job), with the reason. Only
// a subject that names no valid job and task leaves nobody to tell: it is
// logged as an error and terminated.
func (w *Worker) rejectTask(msg jetstream.Msg, delivered int, reason error) {
	job, task, _ := strings.Cut(strings.TrimPrefix(msg.Subject(), subjTaskPrefix), ".")
	log := w.log.With("subject", msg.Subject(), "delivery", delivered)
	if !validToken(job) || !validToken(task) {
		log.Error("terminating a task message whose subject names no job and task", "error", reason)
		_ = msg.Term()
		return
	}
	log.Error("failing task: its message cannot be handled", "job", job, "task", task, "error", reason)
	ev := event{Type: evFailed, Code: failFinal, Job: job, Task: task, Attempt: nuid.Next(),
		Delivered: delivered, Worker: w.id, Error: reason.Error()}
	w.finish(msg, &ev, log)
}

// reportStopped tells the coordinator what a write task cut short by its
// job's end wrote, so the job's counts include it (best effort: a lost
// report leaves the job's figures a stated lower bound).
func (w *Worker) reportStopped(ctx context.Context, ev *event, k Kind, ct counts, log interface{ Warn(string, ...any) }) {
	if k != KindLoad && k != KindDelete {
		return
	}
	ev.Type, ev.Counts = evStopped, ct
	if err := w.publishEvent(context.WithoutCancel(ctx), ev); err != nil {
		log.Warn("reporting what a stopped task wrote", "error", err)
	}
}

// finish publishes a final failed (or stale) event and then acks the
// message; if the event cannot be stored the message is handed back. When
// the store is full, the job's data is purged first to make room: a final
// failure fails the job, which no longer needs it.
func (w *Worker) finish(msg jetstream.Msg, ev *event, log interface{ Warn(string, ...any) }) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := w.publishEvent(ctx, ev)
	if err != nil && ev.Type == evFailed && ev.Code == failFinal {
		// The job is failing: its data can go, which makes room if the
		// store is full (and frees disk space for a store whose writes
		// fail, which gets no reply at all).
		if perr := purgeJobData(ctx, w.in, ev.Job); perr != nil {
			log.Warn("purging the data of a failing job", "error", perr)
		}
		if isStoreFull(err) {
			err = w.publishEvent(ctx, ev)
		}
	}
	if err != nil {
		log.Warn("publishing failed event, handing task back", "error", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	_ = msg.Ack()
}

// failStoreFull fails a task (and so its job) whose execution or records
// could not be stored: retrying cannot help while the store is full, and
// the error names the store and its limit.
func (w *Worker) failStoreFull(ctx context.Context, msg jetstream.Msg, ev *event, stream string, err error, log hclog.Logger) {
	err = storeFull(ctx, w.nc, w.js, stream, err)
	w.failed.Add(1)
	log.Error("task failed: JetStream store full", "error", err)
	ev.Type, ev.Code, ev.Error = evFailed, failFinal, err.Error()
	ev.Frames, ev.Counts, ev.Output = 0, counts{}, nil
	w.finish(msg, ev, log)
}

// taskActive reports whether the task still needs running: its job is
// running and the task has no outcome yet.
func (w *Worker) taskActive(ctx context.Context, tm *taskMsg) (bool, error) {
	j, _, err := getRecord[jobRecord](ctx, w.in.jobs, tm.Job)
	if err != nil {
		return false, err
	}
	if j == nil || j.State.Terminal() {
		return false, nil
	}
	t, _, err := getRecord[taskRecord](ctx, w.in.taskKV, taskKey(tm.Job, tm.Task))
	if err != nil {
		return false, err
	}
	return t != nil && !t.State.terminal() && t.State != taskReplacing, nil
}

// keepAlive heartbeats the message every AckWait/3 and checks at each beat
// that the job is still running (a fallback for a missed cancel broadcast).
func (w *Worker) keepAlive(ctx context.Context, msg jetstream.Msg, tm *taskMsg, cancel context.CancelCauseFunc, done <-chan struct{}) {
	every := tm.Policy.AckWait / 3
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if w.hooks.loseHeartbeats {
			continue
		}
		if err := msg.InProgress(); err != nil {
			w.log.Debug("task heartbeat", "job", tm.Job, "task", tm.Task, "error", err)
		}
		cctx, ccancel := context.WithTimeout(ctx, every)
		active, err := w.taskActive(cctx, tm)
		ccancel()
		if err == nil && !active {
			cancel(errJobEnded)
			return
		}
	}
}

func (w *Worker) publishEvent(ctx context.Context, ev *event) error {
	ev.Time = time.Now().UTC()
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding %s event: %w", ev.Type, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	id := ev.Attempt + "." + string(ev.Type)
	if _, err := w.js.Publish(pctx, eventSubject(ev.Job), b, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("publishing %s event: %w", ev.Type, err)
	}
	return nil
}

// progressEvery is how often a running task reports its rows so far.
const progressEvery = time.Second

// reportProgress publishes the rows so far of a running task until done.
func (w *Worker) reportProgress(ctx context.Context, tm *taskMsg, rows *atomic.Int64, done <-chan struct{}) {
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	last := int64(-1)
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := rows.Load()
		if n == last {
			continue
		}
		last = n
		b, err := json.Marshal(taskProgress{Task: tm.Task, Index: tm.Index, Rows: n})
		if err == nil {
			_ = w.nc.Publish(progressSubject(tm.Job), b)
		}
	}
}

// run executes the task body of its kind; rows counts rows done so far.
func (w *Worker) run(ctx context.Context, tm *taskMsg, attempt string, rows *atomic.Int64) (outcome, error) {
	spec := &tm.Spec
	switch spec.Kind {
	case KindScan:
		return w.runScan(ctx, tm, attempt, rows)
	case KindInfer:
		state, ct, err := w.exec.Sample(ctx, spec, tm.Part, tm.Limit)
		return outcome{counts: ct, output: state}, err
	case KindDelete:
		ct, err := w.exec.Delete(ctx, spec, tm.Part)
		return outcome{counts: ct}, err
	case KindLoad:
		return w.runLoad(ctx, tm, rows)
	}
	return outcome{}, fmt.Errorf("%w: job kind %q", ErrNotImplemented, spec.Kind)
}

func (w *Worker) runScan(ctx context.Context, tm *taskMsg, attempt string, rows *atomic.Int64) (outcome, error) {
	pub := newFramePublisher(ctx, w.js, resultSubject(tm.Job, tm.Task, attempt), framesInFlight, w.cfg.RequestTimeout)
	enc := codec.FrameEncoder{MaxBytes: w.frameMax, Compression: w.cfg.FrameCompression}
	ct, err := w.exec.Scan(ctx, &tm.Spec, tm.Part, func(rec arrow.RecordBatch) error {
		if err := encodeFrames(enc, rec, pub.publish); err != nil {
			return err
		}
		rows.Add(rec.NumRows())
		return nil
	})
	if ferr := pub.flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return outcome{}, err
	}
	ct.Bytes = pub.bytes
	return outcome{frames: pub.n, counts: ct}, nil
}

// A load task joins the (frame-sized) batches of its chunk into batches of
// about this many rows before writing: shard.WriteBatch has a per-call cost.
const (
	writeBatchRows  = 32768
	writeBatchBytes = 8 << 20
)

func (w *Worker) runLoad(ctx context.Context, tm *taskMsg, rows *atomic.Int64) (outcome, error) {
	ch := tm.Chunk
	if ch == nil {
		return outcome{}, &finalError{fmt.Errorf("%w: load task %s without a chunk", ErrInvalidSpec, tm.Task)}
	}
	var ct counts
	offset := ch.Offset
	var pending []arrow.RecordBatch
	var pendRows, pendBytes int64
	release := func() {
		for _, r := range pending {
			r.Release()
		}
		pending, pendRows, pendBytes = pending[:0], 0, 0
	}
	defer release()
	write := func() error {
		if len(pending) == 0 {
			return nil
		}
		rec, err := concatBatches(pending, memory.DefaultAllocator)
		release()
		if err != nil {
			return fmt.Errorf("chunk %s: %w", ch.Subject, err)
		}
		defer rec.Release()
		c, err := w.exec.Write(ctx, &tm.Spec, rec, offset)
		ct.add(c) // on error too: what was written before it stopped
		if err != nil {
			return err
		}
		offset += uint64(rec.NumRows())
		rows.Add(rec.NumRows())
		return nil
	}
	// Frames are fetched and decoded ahead while Redis is written.
	recs, stop, wait := prefetchFrames(ctx, w.in.chunks, ch.Subject, ch.Frames, prefetchDepth, w.cfg.RequestTimeout)
	var err error
	for rec := range recs {
		pending = append(pending, rec)
		pendRows += rec.NumRows()
		pendBytes += recordBytes(rec)
		if pendRows >= writeBatchRows || pendBytes >= writeBatchBytes {
			if err = write(); err != nil {
				stop()
				break
			}
		}
	}
	if ferr := wait(); err == nil {
		err = ferr
	}
	if err == nil {
		err = write()
	}
	if err != nil {
		return outcome{counts: ct}, err // the counts of a cut-short task
	}
	if got := int64(offset - ch.Offset); got != ch.Rows {
		return outcome{}, fmt.Errorf("chunk %s holds %d rows, %d expected", ch.Subject, got, ch.Rows)
	}
	ct.Bytes = ch.Bytes
	return outcome{counts: ct}, nil
}

// concatBatches joins batches of one schema into one (the one batch itself,
// retained, if there is only one).
func concatBatches(recs []arrow.RecordBatch, mem memory.Allocator) (arrow.RecordBatch, error) {
	if len(recs) == 1 {
		recs[0].Retain()
		return recs[0], nil
	}
	schema := recs[0].Schema()
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	var n int64
	for _, r := range recs {
		if !r.Schema().Equal(schema) {
			return nil, fmt.Errorf("%w: frames of one chunk with different schemas", codec.ErrSchemaMismatch)
		}
		n += r.NumRows()
	}
	parts := make([]arrow.Array, len(recs))
	for c := range cols {
		for i, r := range recs {
			parts[i] = r.Column(c)
		}
		col, err := array.Concatenate(parts, mem)
		if err != nil {
			return nil, fmt.Errorf("joining column %s: %w", schema.Field(c).Name, err)
		}
		cols[c] = col
	}
	return array.NewRecordBatch(schema, cols, n), nil
}

// Unacknowledged frames per publisher: at most framesInFlight frames and
// bytesInFlight bytes (but always one), which bounds a task's memory.
const (
	framesInFlight = 8
	bytesInFlight  = 8 << 20
)

// framePublisher publishes numbered result frames asynchronously with a
// bounded window and reports the first failure.
type framePublisher struct {
	ctx     context.Context
	js      jetstream.JetStream
	subject string
	window  int
	// ackTimeout bounds the wait for a frame's publish ack: a lost ack
	// fails the publisher instead of blocking it.
	ackTimeout time.Duration
	pending    []jetstream.PubAckFuture
	sizes      []int
	inFly      int
	n          int
	bytes      int64
}

func newFramePublisher(ctx context.Context, js jetstream.JetStream, subject string, window int, ackTimeout time.Duration) *framePublisher {
	return &framePublisher{ctx: ctx, js: js, subject: subject, window: window, ackTimeout: ackTimeout}
}

func (p *framePublisher) publish(frame []byte) error {
	if err := p.ctx.Err(); err != nil {
		return context.Cause(p.ctx)
	}
	for len(p.pending) > 0 && (len(p.pending) >= p.window || p.inFly+len(frame) > bytesInFlight) {
		if err := p.waitOldest(); err != nil {
			return err
		}
	}
	m := nats.NewMsg(p.subject)
	m.Header.Set(hdrFrame, strconv.Itoa(p.n))
	m.Data = frame
	f, err := p.js.PublishMsgAsync(m)
	if err != nil {
		return fmt.Errorf("publishing result frame %d: %w", p.n, err)
	}
	p.pending = append(p.pending, f)
	p.sizes = append(p.sizes, len(frame))
	p.inFly += len(frame)
	p.n++
	p.bytes += int64(len(frame))
	return nil
}

func (p *framePublisher) waitOldest() error {
	f := p.pending[0]
	p.pending = p.pending[1:]
	p.inFly -= p.sizes[0]
	p.sizes = p.sizes[1:]
	t := time.NewTimer(p.ackTimeout)
	defer t.Stop()
	select {
	case <-t.C:
		return fmt.Errorf("storing frame on %s: no acknowledgement within %s (the server restarting, or its store failing to write, e.g. a full disk)", p.subject, p.ackTimeout)
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		if isStoreFull(err) {
			err = &StoreFullError{Stream: streamOfSubject(p.subject), Limit: -1, Err: err}
		}
		return fmt.Errorf("storing frame on %s: %w", p.subject, err)
	case <-p.ctx.Done():
		return context.Cause(p.ctx)
	}
}

// flush waits for every outstanding frame; after a failure the others
// are moot and not waited for (each wait could take ackTimeout).
func (p *framePublisher) flush() error {
	for len(p.pending) > 0 {
		if err := p.waitOldest(); err != nil {
			p.pending, p.sizes, p.inFly = nil, nil, 0
			return err
		}
	}
	return nil
}
