package codec

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// encodeAll runs the encoder and returns the frames.
func encodeAll(t *testing.T, e FrameEncoder, rec arrow.RecordBatch) ([][]byte, error) {
	t.Helper()
	var frames [][]byte
	err := e.Encode(rec, func(b []byte) error {
		frames = append(frames, b)
		return nil
	})
	return frames, err
}

// decodeAll decodes every frame and checks the rows equal rec's.
func decodeAll(t *testing.T, mem memory.Allocator, frames [][]byte, want arrow.RecordBatch) {
	t.Helper()
	var got []arrow.RecordBatch
	defer func() { releaseAll(got) }()
	for i, f := range frames {
		recs, err := DecodeFrame(f, mem)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if len(recs) != 1 {
			t.Fatalf("frame %d holds %d batches, want 1", i, len(recs))
		}
		got = append(got, recs...)
	}
	requireSameRecords(t, want, got)
}

func TestEncodeFramesSplitsWithinLimit(t *testing.T) {
	mem := checkedMem(t)
	rec := sixRecord(t, mem, 3000, 3)
	defer rec.Release()
	var whole bytes.Buffer
	w := ipc.NewWriter(&whole, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()

	for _, tc := range []struct {
		name   string
		max    int
		comp   Compression
		atMost int // frames expected at most (sanity: the split is not row by row)
	}{
		{"fits whole", whole.Len() + 100, CompressNone, 1},
		{"half", whole.Len()/2 + 2000, CompressNone, 3},
		{"tenth", whole.Len() / 10, CompressNone, 14},
		{"small", 8 << 10, CompressNone, whole.Len()/(4<<10) + 2},
		{"zstd small", 8 << 10, CompressZstd, whole.Len()/(4<<10) + 2},
		{"lz4 tenth", whole.Len() / 10, CompressLZ4, 14},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frames, err := encodeAll(t, FrameEncoder{MaxBytes: tc.max, Compression: tc.comp, Allocator: mem}, rec)
			if err != nil {
				t.Fatal(err)
			}
			if len(frames) == 0 || len(frames) > tc.atMost {
				t.Fatalf("%d frames, want 1..%d", len(frames), tc.atMost)
			}
			for i, f := range frames {
				if len(f) > tc.max {
					t.Fatalf("frame %d is %d bytes, over the limit %d", i, len(f), tc.max)
				}
			}
			decodeAll(t, mem, frames, rec)
		})
	}
}

// TestEncodeFramesUnevenRows: rows of very different sizes still give frames
// within the limit.
func TestEncodeFramesUnevenRows(t *testing.T) {
	mem := checkedMem(t)
	s := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewStringBuilder(mem)
	defer b.Release()
	for i := 0; i < 2000; i++ {
		switch {
		case i%500 == 499:
			b.Append(strings.Repeat("x", 20000))
		case i%3 == 0:
			b.AppendNull()
		default:
			b.Append("short")
		}
	}
	col := b.NewArray()
	defer col.Release()
	rec := array.NewRecordBatch(s, []arrow.Array{col}, int64(col.Len()))
	defer rec.Release()
	const limit = 24 << 10
	frames, err := encodeAll(t, FrameEncoder{MaxBytes: limit, Allocator: mem}, rec)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if len(f) > limit {
			t.Fatalf("frame %d is %d bytes, over %d", i, len(f), limit)
		}
	}
	decodeAll(t, mem, frames, rec)
}

func TestEncodeFramesRowTooLarge(t *testing.T) {
	mem := checkedMem(t)
	s := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Append("small")
	b.Append(strings.Repeat("y", 50000))
	col := b.NewArray()
	defer col.Release()
	rec := array.NewRecordBatch(s, []arrow.Array{col}, 2)
	defer rec.Release()

	var emitted int
	err := EncodeFrames(rec, 10000, func([]byte) error { emitted++; return nil })
	if !errors.Is(err, ErrRowTooLarge) {
		t.Fatalf("err = %v, want ErrRowTooLarge", err)
	}
	for _, want := range []string{"row 1", "10000 bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if emitted != 1 {
		t.Errorf("emitted %d frames before the error, want 1 (the small row)", emitted)
	}
}

func TestEncodeFramesEmptyAndErrors(t *testing.T) {
	mem := checkedMem(t)
	rec := sixRecord(t, mem, 10, 1)
	defer rec.Release()
	empty := rec.NewSlice(0, 0)
	defer empty.Release()
	frames, err := encodeAll(t, FrameEncoder{MaxBytes: 1 << 20}, empty)
	if err != nil || len(frames) != 1 {
		t.Fatalf("empty batch: %d frames, err %v; want 1 frame", len(frames), err)
	}
	recs, err := DecodeFrame(frames[0], mem)
	if err != nil || len(recs) != 1 || recs[0].NumRows() != 0 || !recs[0].Schema().Equal(rec.Schema()) {
		t.Fatalf("decoding the empty frame: %v, %d batches", err, len(recs))
	}
	releaseAll(recs)

	if err := EncodeFrames(rec, 0, func([]byte) error { return nil }); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("limit 0: %v, want ErrInvalidOptions", err)
	}
	if err := EncodeFrames(rec, 200, func([]byte) error { return nil }); !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "without rows") {
		t.Errorf("limit below the schema size: %v, want ErrInvalidOptions", err)
	}
	if _, err := encodeAll(t, FrameEncoder{MaxBytes: 100, Compression: "brotli"}, rec); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("unknown compression: %v, want ErrInvalidOptions", err)
	}
	stop := errors.New("stop")
	if err := EncodeFrames(rec, 1<<20, func([]byte) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("emit error: %v, want it returned", err)
	}
}

func TestDecodeFrameRejectsGarbage(t *testing.T) {
	mem := checkedMem(t)
	rec := sixRecord(t, mem, 20, 1)
	defer rec.Release()
	frames, err := encodeAll(t, FrameEncoder{MaxBytes: 1 << 20}, rec)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"text":      []byte("hello, not arrow"),
		"truncated": frames[0][:len(frames[0])/2],
		// a length prefix claiming a 2 GiB message must be refused without
		// allocating it
		"huge length": {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4},
	} {
		recs, err := DecodeFrame(b, mem)
		releaseAll(recs)
		if !errors.Is(err, ErrMalformedFile) {
			t.Errorf("%s: err = %v, want ErrMalformedFile", name, err)
		}
	}
}

// FuzzDecodeFrame: arbitrary bytes never panic and never leak.
func FuzzDecodeFrame(f *testing.F) {
	rec := sixRecord(f, memory.DefaultAllocator, 5, 1)
	defer rec.Release()
	_ = EncodeFrames(rec, 1<<20, func(b []byte) error { f.Add(b); return nil })
	_ = FrameEncoder{MaxBytes: 1 << 20, Compression: CompressZstd}.Encode(rec, func(b []byte) error { f.Add(b); return nil })
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := DecodeFrame(b, memory.DefaultAllocator)
		if err == nil {
			for _, r := range recs {
				if r.NumCols() != int64(r.Schema().NumFields()) {
					t.Fatalf("batch has %d columns but schema %d fields", r.NumCols(), r.Schema().NumFields())
				}
			}
		}
		releaseAll(recs)
	})
}

// BenchmarkEncodeFrames measures splitting a 100k-row batch into 1 MiB frames.
func BenchmarkEncodeFrames(b *testing.B) {
	rec := sixRecord(b, memory.DefaultAllocator, 100000, 9)
	defer rec.Release()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		if err := EncodeFrames(rec, 1<<20, func(f []byte) error { n += len(f); return nil }); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(n))
	}
	b.ReportMetric(float64(rec.NumRows())*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
