package cluster

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// batchList is a batchSource over in-memory batches.
type batchList struct {
	recs []arrow.RecordBatch
	i    int
}

func (b *batchList) next() (arrow.RecordBatch, error) {
	if b.i >= len(b.recs) {
		return nil, io.EOF
	}
	b.i++
	return b.recs[b.i-1], nil
}

func (b *batchList) close() {
	for _, r := range b.recs[b.i:] {
		r.Release()
	}
}

var sortSchema = arrow.NewSchema([]arrow.Field{
	{Name: "_key", Type: arrow.BinaryTypes.String},
	{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "when", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}, nil)

// randomBatches returns batches with random keys (repeats allowed) and
// n = the row's position in the input, so stability can be checked.
func randomBatches(mem memory.Allocator, r *rand.Rand, rows, batch, keySpace int) ([]arrow.RecordBatch, []string) {
	b := array.NewRecordBuilder(mem, sortSchema)
	defer b.Release()
	var out []arrow.RecordBatch
	var keys []string
	for i := 0; i < rows; i++ {
		k := fmt.Sprintf("k%06d", r.IntN(keySpace))
		keys = append(keys, k)
		b.Field(0).(*array.StringBuilder).Append(k)
		b.Field(1).(*array.Int64Builder).Append(int64(i))
		if i%5 == 0 {
			b.Field(2).AppendNull()
			b.Field(3).AppendNull()
		} else {
			b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(i))
			b.Field(3).(*array.BooleanBuilder).Append(i%2 == 0)
		}
		if b.Field(0).Len() == batch {
			out = append(out, b.NewRecordBatch())
		}
	}
	if b.Field(0).Len() > 0 {
		out = append(out, b.NewRecordBatch())
	}
	return out, keys
}

// TestSortSource sorts in memory and with spilled runs; the output is the
// input in stable key order, nothing lost, temporary files removed.
func TestSortSource(t *testing.T) {
	cases := []struct {
		name     string
		rows     int
		runBytes int64
		keys     int
	}{
		{"empty", 0, 1 << 20, 10},
		{"one run", 5000, 64 << 20, 1000},
		{"many runs", 20000, 32 << 10, 5000},
		{"many duplicates", 9000, 16 << 10, 7},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
			defer mem.AssertSize(t, 0)
			r := rand.New(rand.NewPCG(uint64(c.rows), 7))
			recs, keys := randomBatches(mem, r, c.rows, 333, c.keys)
			dir := t.TempDir()
			src := newSortSource(&batchList{recs: recs}, sortSchema, 0,
				ResultOptions{SortRunBytes: c.runBytes, BatchRows: 1000, Allocator: mem}, dir)
			var gotKeys []string
			var gotN []int64
			for {
				rec, err := src.next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if rec.NumRows() > 1000 {
					t.Fatalf("batch of %d rows, want ≤ 1000", rec.NumRows())
				}
				k := rec.Column(0).(*array.String)
				n := rec.Column(1).(*array.Int64)
				ts := rec.Column(2).(*array.Timestamp)
				for i := 0; i < int(rec.NumRows()); i++ {
					gotKeys = append(gotKeys, k.Value(i))
					gotN = append(gotN, n.Value(i))
					if (n.Value(i)%5 == 0) != ts.IsNull(i) || (!ts.IsNull(i) && int64(ts.Value(i)) != n.Value(i)) {
						t.Fatalf("row %d: columns not moved together", n.Value(i))
					}
				}
				rec.Release()
			}
			if c.name == "many runs" && len(src.files) < 2 {
				t.Errorf("%d run files, want a spilled sort", len(src.files))
			}
			src.close()
			want := slices.Clone(keys)
			slices.Sort(want)
			if !slices.Equal(gotKeys, want) {
				t.Fatalf("keys not the sorted input (%d rows, want %d)", len(gotKeys), len(want))
			}
			for i := 1; i < len(gotN); i++ {
				if gotKeys[i] == gotKeys[i-1] && gotN[i] < gotN[i-1] {
					t.Fatalf("unstable at %d: %s rows %d then %d", i, gotKeys[i], gotN[i-1], gotN[i])
				}
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("%d temporary files left", len(ents))
			}
		})
	}
}
