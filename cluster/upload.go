package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
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

	u := &uploader{job: j, ctx: ctx, frameMax: int(j.c.nc.MaxPayload()) - frameHeadroom}
	for _, in := range inputs {
		if err := u.input(in); err != nil {
			if isStoreFull(err) {
				err = fmt.Errorf("uploading %s: %w", in.Name, storeFull(ctx, j.c.nc, j.c.js, streamChunks, err))
			}
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
		// Wait must not wait for an end that was never recorded.
		j.abortErr = err
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
	job      *Job
	ctx      context.Context
	frameMax int
	chunks   int
	offset   uint64 // global row index of the next row
	bytes    int64
	cur      *chunkWriter
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
			u.cur = u.openChunk(cfg.ChunkCompression)
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

func (u *uploader) openChunk(comp codec.Compression) *chunkWriter {
	return newChunkWriter(u.ctx, u.job.c.js, chunkSubject(u.job.id, u.chunks), u.frameMax, comp, u.job.c.cfg.FrameTimeout)
}

// flush finishes the current chunk, if any, and queues its task.
func (u *uploader) flush() error {
	cw := u.cur
	if cw == nil {
		return nil
	}
	u.cur = nil
	if err := cw.finish(); err != nil {
		return err
	}
	size := cw.size()
	ref := chunkRef{Subject: cw.subject, Frames: cw.pub.n, Offset: u.offset, Rows: cw.rows, Bytes: size}
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

// chunkWriter publishes one chunk as numbered frames (each a bounded,
// self-contained Arrow IPC stream) with a bounded window of unacknowledged
// publishes.
type chunkWriter struct {
	subject string
	pub     *framePublisher
	enc     codec.FrameEncoder
	rows    int64
}

func newChunkWriter(ctx context.Context, js jetstream.JetStream, subject string, frameMax int, comp codec.Compression, ackTimeout time.Duration) *chunkWriter {
	return &chunkWriter{subject: subject, pub: newFramePublisher(ctx, js, subject, framesInFlight, ackTimeout),
		enc: codec.FrameEncoder{MaxBytes: frameMax, Compression: comp}}
}

func (cw *chunkWriter) write(rec arrow.RecordBatch) error {
	if err := encodeFrames(cw.enc, rec, cw.pub.publish); err != nil {
		return fmt.Errorf("uploading chunk %s: %w", cw.subject, err)
	}
	cw.rows += rec.NumRows()
	return nil
}

func (cw *chunkWriter) size() int64 { return cw.pub.bytes }

// finish waits until every frame is stored.
func (cw *chunkWriter) finish() error {
	if err := cw.pub.flush(); err != nil {
		return fmt.Errorf("uploading chunk %s: %w", cw.subject, err)
	}
	return nil
}

// abort drops a partial chunk; its frames are purged with the job's chunks.
func (cw *chunkWriter) abort() { _ = cw.pub.flush() }
