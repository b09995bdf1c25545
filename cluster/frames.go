package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redstage/redstage/codec"
)

// Frames are self-contained Arrow IPC streams of bounded size published on
// one subject per producer (a load chunk, a scan attempt), numbered by the
// hdrFrame header. Both streams that carry them allow direct get, so a
// reader fetches them one at a time: memory is bounded by a frame and every
// fetch honours its context.

// frameGetTries is how often a frame get whose reply did not come within
// its timeout is sent again before the read fails.
const frameGetTries = 3

// readFrames reads frames 0..n-1 of subject in order and passes their
// record batches to fn, which owns (and releases) each. A frame stored
// twice is skipped; a missing one is an error. Each get waits at most
// timeout for its reply (a reply lost on the way, say while the server
// restarts, would otherwise block until ctx ends) and is retried.
func readFrames(ctx context.Context, st jetstream.Stream, subject string, n int, timeout time.Duration, mem memory.Allocator, fn func(arrow.RecordBatch) error) error {
	seq := uint64(1)
	for i := 0; i < n; {
		raw, err := getFrame(ctx, st, subject, seq, timeout)
		if err != nil {
			return fmt.Errorf("reading frame %d of %s: %w", i, subject, err)
		}
		seq = raw.Sequence + 1
		got, err := strconv.Atoi(raw.Header.Get(hdrFrame))
		switch {
		case err == nil && got < i:
			continue // a frame stored twice: keep the first
		case err != nil || got > i:
			return fmt.Errorf("frames of %s: frame %q where %d was expected", subject, raw.Header.Get(hdrFrame), i)
		}
		i++
		recs, err := codec.DecodeFrame(raw.Data, mem)
		if err != nil {
			return fmt.Errorf("decoding frame %d of %s: %w", got, subject, err)
		}
		for k, rec := range recs {
			if err := fn(rec); err != nil {
				for _, r := range recs[k+1:] {
					r.Release()
				}
				return err
			}
		}
	}
	return nil
}

// getFrame fetches the first message of subject at or after seq; each
// try is bounded by timeout, and tries that time out are repeated.
func getFrame(ctx context.Context, st jetstream.Stream, subject string, seq uint64, timeout time.Duration) (*jetstream.RawStreamMsg, error) {
	var err error
	for try := 1; try <= frameGetTries; try++ {
		gctx, cancel := context.WithTimeout(ctx, timeout)
		var raw *jetstream.RawStreamMsg
		raw, err = st.GetMsg(gctx, seq, jetstream.WithGetMsgSubject(subject))
		cancel()
		if err == nil {
			return raw, nil
		}
		if ctx.Err() != nil || !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no reply within %s, %d times: %w", timeout, frameGetTries, err)
}

// frameFill is the share of a frame's limit that pre-cut slices aim at.
const frameFill = 0.75

// encodeFrames cuts rec into row slices expected to fit a frame with room
// to spare, so that the encoder serializes each row once (it serializes a
// batch whole before splitting one that does not fit).
func encodeFrames(enc codec.FrameEncoder, rec arrow.RecordBatch, emit func([]byte) error) error {
	n := rec.NumRows()
	size := recordBytes(rec)
	budget := float64(enc.MaxBytes) * frameFill
	if n <= 1 || float64(size) <= budget {
		return enc.Encode(rec, emit)
	}
	rows := max(1, int64(budget/(float64(size)/float64(n))))
	for off := int64(0); off < n; off += rows {
		part := rec.NewSlice(off, min(off+rows, n))
		err := enc.Encode(part, emit)
		part.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// prefetchDepth is how many decoded batches a prefetching reader holds.
const prefetchDepth = 4

// prefetchFrames reads frames like readFrames on its own goroutine and
// delivers their batches on the returned channel, closed at the end. The
// consumer calls stop if it gives up early, drains the channel (releasing
// what it does not use), then calls wait for the reader's error.
func prefetchFrames(ctx context.Context, st jetstream.Stream, subject string, n, depth int, timeout time.Duration) (recs <-chan arrow.RecordBatch, stop func(), wait func() error) {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan arrow.RecordBatch, depth)
	errc := make(chan error, 1)
	go func() {
		defer close(out)
		errc <- readFrames(ctx, st, subject, n, timeout, memory.DefaultAllocator, func(rec arrow.RecordBatch) error {
			select {
			case out <- rec:
				return nil
			case <-ctx.Done():
				rec.Release()
				return ctx.Err()
			}
		})
	}()
	return out, cancel, func() error {
		for rec := range out {
			rec.Release()
		}
		cancel()
		return <-errc
	}
}
