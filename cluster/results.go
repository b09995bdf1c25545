package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redstage/redstage/codec"
)

// ResultOptions tunes Job.Results.
type ResultOptions struct {
	// Sort emits rows in key order (byte order of the key column). Rows are
	// sorted in runs of at most SortRunBytes, spilled to temporary Arrow IPC
	// files in ClientConfig.TempDir and merged: memory stays bounded.
	// Needs the key column (ErrSortNeedsKey).
	Sort         bool
	SortRunBytes int64 // default 64 MiB
	// BatchRows is the size of batches emitted by a sort (default 8192).
	BatchRows int
	// KeepResults leaves the job's result frames on the stream after they
	// were read (by default they are purged once all are read).
	KeepResults bool
	// Allocator for decoded batches (default memory.DefaultAllocator).
	Allocator memory.Allocator
}

// batchSource yields record batches; io.EOF at the end.
type batchSource interface {
	next() (arrow.RecordBatch, error)
	close()
}

// ResultReader yields merged record batches. Its method set matches
// codec.RecordReader.
type ResultReader struct {
	j      *Job
	opts   ResultOptions
	schema *arrow.Schema // output schema (with the index column)
	src    batchSource
	index  uint64
	addIdx bool
	once   sync.Once
	err    error // sticky
}

// Results streams the merged rows of a scan job: each task's rows from its
// winning attempt exactly once, with the row index column (if the spec asks
// for one) assigned here. See ResultOptions for sorting. Only one reader
// per job should be open; the reader must be closed.
func (j *Job) Results(ctx context.Context, opts ResultOptions) (*ResultReader, error) {
	if j.spec.Kind != KindScan || j.spec.Scan == nil {
		return nil, fmt.Errorf("%w: a %s job has no row results", ErrInvalidSpec, j.spec.Kind)
	}
	if opts.Allocator == nil {
		opts.Allocator = memory.DefaultAllocator
	}
	if opts.SortRunBytes <= 0 {
		opts.SortRunBytes = 64 << 20
	}
	if opts.BatchRows <= 0 {
		opts.BatchRows = 8192
	}
	sc := j.spec.Scan
	out, err := sc.Schema.ArrowSchema(sc.Meta)
	if err != nil {
		return nil, err
	}
	innerMeta := sc.Meta
	innerMeta.Index = ""
	inner, err := sc.Schema.ArrowSchema(innerMeta)
	if err != nil {
		return nil, err
	}
	if opts.Sort && sc.Meta.Key == "" {
		return nil, fmt.Errorf("%w: the scan was submitted without a key column (--no-key)", ErrSortNeedsKey)
	}
	fs, err := newFrameSource(ctx, j, inner, opts)
	if err != nil {
		return nil, err
	}
	var src batchSource = fs
	if opts.Sort {
		src = newSortSource(fs, inner, 0, opts, j.c.cfg.TempDir)
	}
	return &ResultReader{j: j, opts: opts, schema: out, src: src, addIdx: sc.Meta.Index != ""}, nil
}

// Schema returns the schema of every batch (key, schema fields, ttl, index).
func (r *ResultReader) Schema() *arrow.Schema { return r.schema }

// Next returns the next batch (the caller releases it), io.EOF after the
// last one of a succeeded job, or a *JobError if the job failed.
func (r *ResultReader) Next() (arrow.RecordBatch, error) {
	if r.err != nil {
		return nil, r.err
	}
	rec, err := r.src.next()
	if err != nil {
		r.err = err
		return nil, err
	}
	if !r.addIdx {
		return rec, nil
	}
	defer rec.Release()
	n := rec.NumRows()
	b := array.NewUint64Builder(r.opts.Allocator)
	defer b.Release()
	b.Reserve(int(n))
	for i := int64(0); i < n; i++ {
		b.UnsafeAppend(r.index + uint64(i))
	}
	r.index += uint64(n)
	idx := b.NewArray()
	defer idx.Release()
	cols := append(append(make([]arrow.Array, 0, rec.NumCols()+1), rec.Columns()...), idx)
	return array.NewRecordBatch(r.schema, cols, n), nil
}

// Close releases the reader's goroutine and temporary files. Idempotent.
func (r *ResultReader) Close() error {
	r.once.Do(func() { r.src.close() })
	return nil
}

// winner is a task whose winning attempt's frames are to be read.
type winner struct {
	task    string
	attempt string
	frames  int
}

type sourceItem struct {
	rec arrow.RecordBatch
	err error
}

// frameSource reads the winners' frames in the order winners become known.
// A goroutine prefetches a few batches; memory is bounded by them.
type frameSource struct {
	j      *Job
	schema *arrow.Schema
	opts   ResultOptions
	ch     chan sourceItem
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   bool
}

func newFrameSource(ctx context.Context, j *Job, schema *arrow.Schema, opts ResultOptions) (*frameSource, error) {
	cctx, cancel := context.WithCancel(ctx)
	tw, err := j.in.taskKV.Watch(cctx, j.id+".*")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watching tasks of job %s: %w", j.id, err)
	}
	fs := &frameSource{j: j, schema: schema, opts: opts, ch: make(chan sourceItem, 4), ctx: cctx, cancel: cancel}
	fs.wg.Add(1)
	go func() {
		defer fs.wg.Done()
		defer close(fs.ch) // a reader never blocks on a producer that is gone
		defer func() { _ = tw.Stop() }()
		err := fs.produce(tw)
		if err == nil {
			err = io.EOF
		}
		select {
		case fs.ch <- sourceItem{err: err}:
		case <-cctx.Done():
		}
	}()
	return fs, nil
}

func (fs *frameSource) next() (arrow.RecordBatch, error) {
	if fs.done {
		return nil, io.EOF
	}
	it, ok := <-fs.ch
	if !ok {
		fs.done = true
		if err := fs.ctx.Err(); err != nil {
			return nil, fmt.Errorf("results of job %s: %w", fs.j.id, err)
		}
		return nil, fmt.Errorf("results of job %s: %w", fs.j.id, ErrClosed)
	}
	if it.err != nil {
		fs.done = true
		return nil, it.err
	}
	return it.rec, nil
}

func (fs *frameSource) close() {
	fs.cancel()
	fs.wg.Wait()
	for it := range fs.ch { // closed by the producer
		if it.rec != nil {
			it.rec.Release()
		}
	}
}

func (fs *frameSource) send(rec arrow.RecordBatch) error {
	select {
	case fs.ch <- sourceItem{rec: rec}:
		return nil
	case <-fs.ctx.Done():
		rec.Release()
		return fs.ctx.Err()
	}
}

// produce emits the frames of every winner until the job has succeeded and
// all its winners are emitted.
func (fs *frameSource) produce(tw jetstream.KeyWatcher) error {
	seen := map[string]bool{}
	var queue []winner
	emitted := 0
	ended := fs.j.ended
	poll := time.NewTicker(jobPollEvery)
	defer poll.Stop()
	lastUpdate := time.Now()
	add := func(t *taskRecord) {
		if t.State == taskDone && t.Winner != "" && !seen[t.ID] {
			seen[t.ID] = true
			queue = append(queue, winner{task: t.ID, attempt: t.Winner, frames: t.Frames})
		}
	}
	for {
		// Emit what is known before waiting for more.
		for len(queue) > 0 {
			w := queue[0]
			queue = queue[1:]
			if err := fs.emitWinner(w); err != nil {
				return err
			}
			emitted++
			fs.purge(resultSubject(fs.j.id, w.task, w.attempt)) // keep the stream small during long jobs
		}
		if ended == nil {
			rec := fs.j.record()
			if rec == nil || rec.State != JobSucceeded {
				return fs.endError(rec)
			}
			if rec.Result == nil || emitted >= rec.Result.Tasks {
				fs.purge(jobResultsFilter(fs.j.id))
				return nil
			}
		}
		select {
		case <-fs.ctx.Done():
			return fs.ctx.Err()
		case <-ended:
			ended = nil
		case <-poll.C:
			// The watch is quiet but the job record counts winners not
			// seen: the watch may lag (a restarted server); read them.
			if rec := fs.j.record(); rec != nil && time.Since(lastUpdate) >= jobPollEvery && rec.Done-len(rec.Replaced) > len(seen) {
				if err := fs.pollWinners(add); err != nil && fs.ctx.Err() == nil {
					fs.j.log.Debug("reading task records", "error", err)
				}
			}
		case e, ok := <-tw.Updates():
			if !ok {
				return fmt.Errorf("results of job %s: task watch ended", fs.j.id)
			}
			lastUpdate = time.Now()
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var t taskRecord
			if err := json.Unmarshal(e.Value(), &t); err != nil {
				return fmt.Errorf("results of job %s: decoding task record %s: %w", fs.j.id, e.Key(), err)
			}
			add(&t)
		}
	}
}

// pollWinners reads the job's task records directly (bounded).
func (fs *frameSource) pollWinners(add func(*taskRecord)) error {
	ctx, cancel := context.WithTimeout(fs.ctx, fs.j.c.cfg.FrameTimeout)
	defer cancel()
	return forEachTask(ctx, fs.j.in.taskKV, fs.j.id, func(t *taskRecord) error {
		add(t)
		return nil
	})
}

func (fs *frameSource) endError(rec *jobRecord) error {
	if rec == nil {
		fs.j.mu.Lock()
		err := fs.j.watchErr
		fs.j.mu.Unlock()
		if err == nil {
			err = fmt.Errorf("job %s: state unknown", fs.j.id)
		}
		return err
	}
	return fs.j.jobError(rec)
}

// emitWinner reads the frames of one winning attempt by direct get, in order.
func (fs *frameSource) emitWinner(w winner) error {
	subj := resultSubject(fs.j.id, w.task, w.attempt)
	err := readFrames(fs.ctx, fs.j.in.results, subj, w.frames, fs.j.c.cfg.FrameTimeout, fs.opts.Allocator, func(rec arrow.RecordBatch) error {
		rec, err := conform(rec, fs.schema)
		if err != nil {
			return err
		}
		return fs.send(rec)
	})
	if err != nil {
		return fmt.Errorf("results of task %s (job %s): %w", w.task, fs.j.id, err)
	}
	return nil
}

// purge removes frames that were read (a winner's, then all of the job's).
func (fs *frameSource) purge(subject string) {
	if fs.opts.KeepResults {
		return
	}
	if err := fs.j.in.results.Purge(fs.ctx, jetstream.WithPurgeSubject(subject)); err != nil && !errors.Is(err, context.Canceled) {
		fs.j.log.Warn("purging read results", "error", err)
	}
}

// conform returns rec under schema s (same column names and types, possibly
// different nullability or metadata); it takes ownership of rec.
func conform(rec arrow.RecordBatch, s *arrow.Schema) (arrow.RecordBatch, error) {
	if rec.Schema().Equal(s) {
		return rec, nil
	}
	defer rec.Release()
	got := rec.Schema()
	if got.NumFields() != s.NumFields() {
		return nil, fmt.Errorf("%w: %d columns, want %d (%s)", codec.ErrSchemaMismatch, got.NumFields(), s.NumFields(), s)
	}
	for i := range s.NumFields() {
		g, w := got.Field(i), s.Field(i)
		if g.Name != w.Name || !arrow.TypeEqual(g.Type, w.Type) {
			return nil, fmt.Errorf("%w: column %d is %s %s, want %s %s", codec.ErrSchemaMismatch, i, g.Name, g.Type, w.Name, w.Type)
		}
	}
	return array.NewRecordBatch(s, rec.Columns(), rec.NumRows()), nil
}
