package codec

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Compression selects the body compression of Arrow IPC output (frames and
// IPC files/streams). Readers decompress automatically.
type Compression string

// The IPC compressions.
const (
	CompressNone Compression = "none"
	CompressZstd Compression = "zstd"
	CompressLZ4  Compression = "lz4"
)

// ParseCompression parses "none" (or ""), "zstd" or "lz4".
func ParseCompression(s string) (Compression, error) {
	switch Compression(s) {
	case "", CompressNone:
		return CompressNone, nil
	case CompressZstd, CompressLZ4:
		return Compression(s), nil
	}
	return "", fmt.Errorf("%w: compression %q (want none, zstd or lz4)", ErrInvalidOptions, s)
}

func (c Compression) ipcOptions() ([]ipc.Option, error) {
	switch c {
	case "", CompressNone:
		return nil, nil
	case CompressZstd:
		return []ipc.Option{ipc.WithZstd()}, nil
	case CompressLZ4:
		return []ipc.Option{ipc.WithLZ4()}, nil
	}
	return nil, fmt.Errorf("%w: compression %q (want none, zstd or lz4)", ErrInvalidOptions, c)
}

// FrameEncoder splits record batches into IPC frames of bounded size. Each
// frame is a self-contained Arrow IPC stream (schema message, one record
// batch, end marker) that DecodeFrame — or any Arrow IPC stream reader —
// reads on its own.
type FrameEncoder struct {
	MaxBytes    int         // upper bound of every frame's size in bytes
	Compression Compression // body compression; "" = none
	Allocator   memory.Allocator
}

// EncodeFrames splits rec by rows into uncompressed frames of at most
// maxBytes bytes each and calls emit with each frame, in row order. The
// slice passed to emit is owned by the callee. A record batch with no rows
// yields one frame (carrying the schema). A single row whose frame exceeds
// maxBytes is an error wrapping ErrRowTooLarge that states its size.
func EncodeFrames(rec arrow.RecordBatch, maxBytes int, emit func([]byte) error) error {
	return FrameEncoder{MaxBytes: maxBytes}.Encode(rec, emit)
}

// Encode splits rec as EncodeFrames does, with the encoder's compression.
//
// The split estimates the bytes per row from the whole batch, serializes a
// slice of that many rows and verifies its size, shrinking the slice in
// proportion when it is too large and re-estimating from each frame, so a
// batch is serialized a small number of times, never row by row.
func (e FrameEncoder) Encode(rec arrow.RecordBatch, emit func([]byte) error) error {
	if e.MaxBytes <= 0 {
		return fmt.Errorf("%w: frame size limit %d must be positive", ErrInvalidOptions, e.MaxBytes)
	}
	opts, err := e.Compression.ipcOptions()
	if err != nil {
		return err
	}
	mem := e.Allocator
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	opts = append(opts, ipc.WithAllocator(mem), ipc.WithSchema(rec.Schema()))
	f := &framer{opts: opts, max: e.MaxBytes}

	whole, err := f.encode(rec, 0, rec.NumRows())
	if err != nil {
		return err
	}
	if len(whole) <= e.MaxBytes {
		return emit(whole)
	}
	overhead, err := f.encode(rec, 0, 0)
	if err != nil {
		return err
	}
	f.overhead = len(overhead)
	if f.overhead >= e.MaxBytes {
		return fmt.Errorf("%w: frame limit %d bytes is below the %d bytes of a frame without rows (schema and headers); raise the limit",
			ErrInvalidOptions, e.MaxBytes, f.overhead)
	}

	n := rec.NumRows()
	perRow := float64(len(whole)-f.overhead) / float64(n)
	rows := f.fit(perRow, n)
	for off := int64(0); off < n; {
		if rows > n-off {
			rows = n - off
		}
		frame, err := f.encode(rec, off, rows)
		if err != nil {
			return err
		}
		if len(frame) > e.MaxBytes {
			if rows == 1 {
				return fmt.Errorf("%w: row %d takes %d bytes as an IPC frame, over the limit of %d bytes; raise the frame limit or shorten the row's values",
					ErrRowTooLarge, off, len(frame), e.MaxBytes)
			}
			// Shrink in proportion to the overshoot (at least by one row).
			next := f.fit(float64(len(frame)-f.overhead)/float64(rows), rows)
			if next >= rows {
				next = rows - 1
			}
			rows = next
			continue
		}
		if err := emit(frame); err != nil {
			return err
		}
		off += rows
		// Re-estimate from this frame for the next one.
		rows = f.fit(float64(len(frame)-f.overhead)/float64(rows), n-off)
	}
	return nil
}

// framer serializes row ranges of one record batch.
type framer struct {
	opts     []ipc.Option
	max      int
	overhead int // size of a frame with zero rows
}

// fit returns how many rows of perRow bytes fit in one frame, in [1, limit],
// aiming slightly below the limit so most estimates verify first time.
func (f *framer) fit(perRow float64, limit int64) int64 {
	if perRow <= 0 {
		return limit
	}
	budget := float64(f.max-f.overhead) * 0.97
	rows := int64(budget / perRow)
	if rows < 1 {
		rows = 1
	}
	if rows > limit {
		rows = limit
	}
	return rows
}

// encode writes rows [off, off+n) of rec as a complete IPC stream.
func (f *framer) encode(rec arrow.RecordBatch, off, n int64) ([]byte, error) {
	part := rec.NewSlice(off, off+n)
	defer part.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, f.opts...)
	if err := w.Write(part); err != nil {
		w.Close()
		return nil, fmt.Errorf("encoding IPC frame: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encoding IPC frame: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeFrame reads the record batches of one frame (an Arrow IPC stream).
// The caller releases each batch. Malformed input is an error wrapping
// ErrMalformedFile, never a panic.
func DecodeFrame(b []byte, mem memory.Allocator) (recs []arrow.RecordBatch, err error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	release := func() {
		for _, r := range recs {
			r.Release()
		}
		recs = nil
	}
	// The Arrow IPC reader trusts its input's flatbuffers; corrupt bytes can
	// make it index out of range. A frame comes from another process, so turn
	// such a panic into an error.
	defer func() {
		if p := recover(); p != nil {
			release()
			err = fmt.Errorf("%w: corrupt IPC frame (%v)", ErrMalformedFile, p)
		}
	}()
	// No message in a frame can be longer than the frame.
	r, err := newIPCStream(bytes.NewReader(b), mem, int64(len(b)), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("%w: IPC frame: %v", ErrMalformedFile, err)
	}
	defer r.Release()
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			release()
			return nil, fmt.Errorf("%w: IPC frame: %v", ErrMalformedFile, err)
		}
		rec.Retain()
		recs = append(recs, rec)
	}
	return recs, nil
}
