package codec

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// checkedMem returns a checked allocator that fails the test if any Arrow
// memory is still allocated when the test ends.
func checkedMem(t testing.TB) *memory.CheckedAllocator {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// sixSchema is a codec schema with one column of each type.
func sixSchema(t testing.TB) *Schema {
	t.Helper()
	s, err := NewSchema(
		Field{Name: "name", Type: Utf8},
		Field{Name: "count", Type: Int64},
		Field{Name: "score", Type: Float64},
		Field{Name: "ok", Type: Bool},
		Field{Name: "day", Type: Date},
		Field{Name: "at", Type: Datetime},
	)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// edge values that every format must carry exactly.
var (
	fileEdgeStrings = []string{"", "plain", "ünïcödé ✓ 日本語 🚀", "comma, here", "quote \" here", "line\nbreak", "crlf\r\nbreak",
		" leading and trailing ", "tab\there", "NA", "null", "\"", ",", "emoji 👍🏽 zwj 👨‍👩‍👧"}
	fileEdgeInts   = []int64{0, 1, -1, math.MaxInt64, math.MinInt64, 1 << 53, 1<<53 + 1, -(1<<53 + 1), 42}
	fileEdgeFloats = []float64{0, math.Copysign(0, -1), 1.5, -2.25, math.MaxFloat64, math.SmallestNonzeroFloat64,
		0.1, 1e21, 1e-7, 123456789.123456789, math.Inf(1), math.Inf(-1), math.NaN()}
	// days since epoch: 1900-01-01, 1969-12-31, 1970-01-01, 2024-02-29, 2150-06-01, 9999-12-31
	fileEdgeDates = []int32{-25567, -1, 0, 19782, 65379, 2932896}
	// µs since epoch: pre-1970, epoch, fractional, far future
	fileEdgeTimes = []int64{-2208988800000000, -1, 0, 1, 1700000000123456, 1700000000000000, 5680281600000000, 253402300799999999}
)

// sixRecord builds n rows of the six-type schema with edge values first,
// then random values, and nulls in every column (none in row 0).
func sixRecord(t testing.TB, mem memory.Allocator, n int, seed uint64) arrow.RecordBatch {
	t.Helper()
	as, err := sixSchema(t).ArrowSchema(MetaColumns{})
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, as)
	defer b.Release()
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := 0; i < n; i++ {
		null := func(col int) bool { return i > 0 && (i+col)%7 == 3 }
		if null(0) {
			b.Field(0).AppendNull()
		} else if i < len(fileEdgeStrings) {
			b.Field(0).(*array.StringBuilder).Append(fileEdgeStrings[i])
		} else {
			b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("s%d-%x-é", i, rng.Uint64()))
		}
		if null(1) {
			b.Field(1).AppendNull()
		} else if i < len(fileEdgeInts) {
			b.Field(1).(*array.Int64Builder).Append(fileEdgeInts[i])
		} else {
			b.Field(1).(*array.Int64Builder).Append(rng.Int64() - math.MaxInt64/2)
		}
		if null(2) {
			b.Field(2).AppendNull()
		} else if i < len(fileEdgeFloats) {
			b.Field(2).(*array.Float64Builder).Append(fileEdgeFloats[i])
		} else {
			b.Field(2).(*array.Float64Builder).Append(rng.NormFloat64() * 1e6)
		}
		if null(3) {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.BooleanBuilder).Append(rng.IntN(2) == 1)
		}
		if null(4) {
			b.Field(4).AppendNull()
		} else if i < len(fileEdgeDates) {
			b.Field(4).(*array.Date32Builder).Append(arrow.Date32(fileEdgeDates[i]))
		} else {
			b.Field(4).(*array.Date32Builder).Append(arrow.Date32(rng.IntN(80000) - 20000))
		}
		if null(5) {
			b.Field(5).AppendNull()
		} else if i < len(fileEdgeTimes) {
			b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(fileEdgeTimes[i]))
		} else {
			b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(rng.Int64N(4e15) - 1e15))
		}
	}
	return b.NewRecordBatch()
}

// requireSameRecords fails unless got (possibly many batches) holds exactly
// the rows of want, value for value (NaN equal to NaN, -0 distinct from 0).
func requireSameRecords(t testing.TB, want arrow.RecordBatch, got []arrow.RecordBatch) {
	t.Helper()
	var rows int64
	for _, g := range got {
		rows += g.NumRows()
	}
	if rows != want.NumRows() {
		t.Fatalf("got %d rows, want %d", rows, want.NumRows())
	}
	off := int64(0)
	for _, g := range got {
		if g.NumCols() != want.NumCols() {
			t.Fatalf("got %d columns (%v), want %d (%v)", g.NumCols(), g.Schema(), want.NumCols(), want.Schema())
		}
		for c := 0; c < int(want.NumCols()); c++ {
			if g.ColumnName(c) != want.ColumnName(c) {
				t.Fatalf("column %d named %q, want %q", c, g.ColumnName(c), want.ColumnName(c))
			}
			if !arrow.TypeEqual(g.Column(c).DataType(), want.Column(c).DataType()) {
				t.Fatalf("column %q type %s, want %s", want.ColumnName(c), g.Column(c).DataType(), want.Column(c).DataType())
			}
			for r := 0; r < int(g.NumRows()); r++ {
				wr := int(off) + r
				if d := cellDiff(want.Column(c), wr, g.Column(c), r); d != "" {
					t.Fatalf("row %d column %q: %s", wr, want.ColumnName(c), d)
				}
			}
		}
		off += g.NumRows()
	}
}

// cellDiff describes how two cells differ, or returns "".
func cellDiff(a arrow.Array, i int, b arrow.Array, j int) string {
	if a.IsNull(i) || b.IsNull(j) {
		if a.IsNull(i) != b.IsNull(j) {
			return fmt.Sprintf("null mismatch: want null=%v (%s), got null=%v (%s)", a.IsNull(i), a.ValueStr(i), b.IsNull(j), b.ValueStr(j))
		}
		return ""
	}
	if fa, ok := a.(*array.Float64); ok {
		x, y := fa.Value(i), b.(*array.Float64).Value(j)
		if math.Float64bits(x) == math.Float64bits(y) || (math.IsNaN(x) && math.IsNaN(y)) {
			return ""
		}
		return fmt.Sprintf("want %v (bits %x), got %v (bits %x)", x, math.Float64bits(x), y, math.Float64bits(y))
	}
	if a.ValueStr(i) != b.ValueStr(j) {
		return fmt.Sprintf("want %q, got %q", a.ValueStr(i), b.ValueStr(j))
	}
	return ""
}

// drain reads every batch of r, then closes it.
func drain(t testing.TB, r RecordReader) []arrow.RecordBatch {
	t.Helper()
	var out []arrow.RecordBatch
	for {
		rec, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			releaseAll(out)
			r.Close()
			t.Fatalf("reading: %v", err)
		}
		out = append(out, rec)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("closing reader: %v", err)
	}
	return out
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}
