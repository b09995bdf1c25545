package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redstage/redstage/codec"
)

// uploadKeepalive is how often an uploader tells the coordinator it is alive.
const uploadKeepalive = 30 * time.Second

// startUpload streams inputs to the chunk store in the background.
func (j *Job) startUpload(inputs []LoadInput) {
	j.uploadDone = make(chan struct{})
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		defer close(j.uploadDone)
		j.uploadErr = j.upload(j.ctx, inputs)
	}()
}

// upload cuts the inputs into chunks, uploads them and queues their tasks,
// then reports the end of input; on failure it reports the error, which
// fails the job.
func (j *Job) upload(ctx context.Context, inputs []LoadInput) (err error) {
	defer closeInputs(inputs)
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		j.keepalive(kctx)
	}()

	u := &uploader{job: j, ctx: ctx}
	for _, in := range inputs {
		if err := u.input(in); err != nil {
			j.log.Error("upload failed", "input", in.Name, "error", err)
			j.abortInput(err)
			return err
		}
	}
	req := inputRequest{Job: j.id, Chunks: u.chunks, Rows: int64(u.offset), Bytes: u.bytes}
	if err := j.c.requestRetry(ctx, opInput, req, nil); err != nil {
		err = fmt.Errorf("ending input of job %s: %w", j.id, err)
		j.abortInput(err)
		return err
	}
	j.log.Info("input uploaded", "chunks", u.chunks, "rows", u.offset, "bytes", u.bytes)
	return nil
}

// abortInput tells the coordinator the input failed (best effort).
func (j *Job) abortInput(cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), j.c.cfg.RequestTimeout+j.c.cfg.RetryFor)
	defer cancel()
	err := j.c.requestRetry(ctx, opInput, inputRequest{Job: j.id, Error: cause.Error()}, nil)
	if err != nil && !errors.Is(err, ErrJobFinished) {
		j.log.Warn("reporting input failure", "error", err)
	}
}

func (j *Job) keepalive(ctx context.Context) {
	t := time.NewTicker(uploadKeepalive)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := j.c.request(ctx, opInput, inputRequest{Job: j.id, Keepalive: true}, nil); err != nil && ctx.Err() == nil {
				j.log.Warn("upload keepalive", "error", err)
			}
		}
	}
}

// uploader carries the position in the job's input across files.
type uploader struct {
	job    *Job
	ctx    context.Context
	chunks int
	offset uint64 // global row index of the next row
	bytes  int64
	cur    *chunkWriter
}

// input uploads one input; chunks never span inputs (schemas may differ).
func (u *uploader) input(in LoadInput) error {
	schema := in.Source.Schema()
	cfg := u.job.c.cfg
	for {
		rec, err := in.Source.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			u.discard()
			return fmt.Errorf("reading %s: %w", in.Name, err)
		}
		err = u.add(schema, rec, cfg)
		rec.Release()
		if err != nil {
			u.discard()
			return err
		}
	}
	return u.flush()
}

// waitWindow blocks while MaxPendingChunks chunks are queued and not yet done.
func (u *uploader) waitWindow() error {
	for {
		rec := u.job.record()
		done := 0
		if rec != nil {
			if rec.State.Terminal() {
				return fmt.Errorf("job %s is %s: %w", u.job.id, rec.State, ErrJobFinished)
			}
			done = rec.Done
		}
		if u.chunks-done < u.job.c.cfg.MaxPendingChunks {
			return nil
		}
		select {
		case <-u.job.updated:
		case <-u.job.ended:
		case <-u.ctx.Done():
			return u.ctx.Err()
		}
	}
}

// add appends rec to the current chunk, cutting it at chunk boundaries.
func (u *uploader) add(schema *arrow.Schema, rec arrow.RecordBatch, cfg ClientConfig) error {
	if !rec.Schema().Equal(schema) {
		return fmt.Errorf("%w: a batch's schema differs from the input's", codec.ErrSchemaMismatch)
	}
	for start := int64(0); start < rec.NumRows(); {
		if u.cur == nil {
			if err := u.waitWindow(); err != nil {
				return err
			}
			cw, err := u.openChunk(schema, cfg.ChunkCompression)
			if err != nil {
				return err
			}
			u.cur = cw
		}
		n := min(rec.NumRows()-start, int64(cfg.ChunkRows)-u.cur.rows)
		part := rec
		if start != 0 || n != rec.NumRows() {
			part = rec.NewSlice(start, start+n)
		}
		err := u.cur.write(part)
		if part != rec {
			part.Release()
		}
		if err != nil {
			return err
		}
		start += n
		if u.cur.rows >= int64(cfg.ChunkRows) || u.cur.size() >= int64(cfg.ChunkBytes) {
			if err := u.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (u *uploader) openChunk(schema *arrow.Schema, comp codec.Compression) (*chunkWriter, error) {
	name := chunkObject(u.job.id, u.chunks)
	return newChunkWriter(u.ctx, u.job.in.chunks, name, schema, comp)
}

// flush finishes the current chunk, if any, and queues its task.
func (u *uploader) flush() error {
	cw := u.cur
	if cw == nil {
		return nil
	}
	u.cur = nil
	size, err := cw.finish()
	if err != nil {
		return err
	}
	ref := chunkRef{Object: cw.name, Offset: u.offset, Rows: cw.rows, Bytes: size}
	req := chunkRequest{Job: u.job.id, Index: u.chunks, Chunk: ref}
	if err := u.job.c.requestRetry(u.ctx, opChunk, req, nil); err != nil {
		return fmt.Errorf("queueing chunk %d of job %s: %w", u.chunks, u.job.id, err)
	}
	u.chunks++
	u.offset += uint64(cw.rows)
	u.bytes += size
	return nil
}

func (u *uploader) discard() {
	if u.cur != nil {
		u.cur.abort()
		u.cur = nil
	}
}

// chunkWriter streams one chunk, an Arrow IPC stream, into the object store.
type chunkWriter struct {
	name string
	pw   *io.PipeWriter
	cnt  *countingWriter
	w    *ipc.Writer
	rows int64
	done chan error
}

func newChunkWriter(ctx context.Context, store jetstream.ObjectStore, name string, schema *arrow.Schema, comp codec.Compression) (*chunkWriter, error) {
	pr, pw := io.Pipe()
	cw := &chunkWriter{name: name, pw: pw, done: make(chan error, 1)}
	go func() {
		_, err := store.Put(ctx, jetstream.ObjectMeta{Name: name}, pr)
		pr.CloseWithError(err) // unblocks the writer if Put stopped early
		cw.done <- err
	}()
	cw.cnt = &countingWriter{w: pw}
	opts := []ipc.Option{ipc.WithSchema(schema)}
	switch comp {
	case codec.CompressLZ4:
		opts = append(opts, ipc.WithLZ4())
	case codec.CompressZstd:
		opts = append(opts, ipc.WithZstd())
	}
	cw.w = ipc.NewWriter(cw.cnt, opts...)
	return cw, nil
}

func (cw *chunkWriter) write(rec arrow.RecordBatch) error {
	if err := cw.w.Write(rec); err != nil {
		return fmt.Errorf("writing chunk %s: %w", cw.name, err)
	}
	cw.rows += rec.NumRows()
	return nil
}

func (cw *chunkWriter) size() int64 { return cw.cnt.n }

// finish closes the IPC stream and waits for the upload; it returns the size.
func (cw *chunkWriter) finish() (int64, error) {
	err := cw.w.Close()
	cw.pw.CloseWithError(err)
	if perr := <-cw.done; perr != nil {
		return 0, fmt.Errorf("uploading chunk %s: %w", cw.name, perr)
	}
	if err != nil {
		return 0, fmt.Errorf("writing chunk %s: %w", cw.name, err)
	}
	return cw.cnt.n, nil
}

func (cw *chunkWriter) abort() {
	cw.pw.CloseWithError(errors.New("upload aborted"))
	<-cw.done
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
