package tests

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/redstage/redstage/codec"
)

// The ground-truth data set: one row per key, every codec type, nulls and
// empty strings, non-ASCII text. Keys are prefix + id, and ids are
// zero-padded so that key order is row order.
const dataSchemaSpec = "id:utf8,name:utf8,qty:int64,price:float64,active:bool,day:date,ts:datetime"

var dataSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.BinaryTypes.String},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "qty", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "active", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
}, nil)

var names = []string{"Ada", "Grace Hopper", "Zoë", "Jürgen Núñez", "李雷", "", "O'Brien, Pat", `say "hi"`, "tab\there", "line\nbreak"}

// writeDataset writes n rows (ids from first) to path in batches.
func writeDataset(t testing.TB, path string, first, n int) {
	t.Helper()
	w, err := codec.CreateRecordWriter(path, dataSchema, codec.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(first), 7))
	b := array.NewRecordBuilder(memory.DefaultAllocator, dataSchema)
	defer b.Release()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	flush := func() {
		rec := b.NewRecordBatch()
		defer rec.Release()
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	for i := first; i < first+n; i++ {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("%08d", i))
		if i%17 == 3 {
			b.Field(1).(*array.StringBuilder).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(names[rng.IntN(len(names))])
		}
		if i%11 == 5 {
			b.Field(2).(*array.Int64Builder).AppendNull()
		} else {
			b.Field(2).(*array.Int64Builder).Append(rng.Int64N(1<<40) - 1<<39)
		}
		b.Field(3).(*array.Float64Builder).Append(float64(rng.IntN(1_000_000)) / 100)
		b.Field(4).(*array.BooleanBuilder).Append(rng.IntN(2) == 0)
		b.Field(5).(*array.Date32Builder).Append(arrow.Date32FromTime(base.AddDate(0, 0, rng.IntN(4000)-2000)))
		if i%13 == 7 {
			b.Field(6).(*array.TimestampBuilder).AppendNull()
		} else {
			b.Field(6).(*array.TimestampBuilder).Append(arrow.Timestamp(base.Add(time.Duration(rng.Int64N(int64(400 * 24 * time.Hour)))).UnixMicro()))
		}
		if b.Field(0).Len() == 65536 {
			flush()
		}
	}
	if b.Field(0).Len() > 0 {
		flush()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// rowCursor walks the rows of a file.
type rowCursor struct {
	r    codec.RecordReader
	rec  arrow.RecordBatch
	row  int
	cols map[string]int
}

func openRows(t testing.TB, path string) *rowCursor {
	t.Helper()
	r, err := codec.OpenReader(path, codec.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cols := map[string]int{}
	for i, f := range r.Schema().Fields() {
		cols[f.Name] = i
	}
	return &rowCursor{r: r, cols: cols}
}

// next advances; false at the end.
func (c *rowCursor) next(t testing.TB) bool {
	t.Helper()
	for c.rec == nil || c.row+1 >= int(c.rec.NumRows()) {
		if c.rec != nil {
			c.rec.Release()
			c.rec = nil
		}
		rec, err := c.r.Next()
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		c.rec, c.row = rec, -1
	}
	c.row++
	return true
}

// cells returns the named columns of the current row as text ("∅" = null).
func (c *rowCursor) cells(t testing.TB, names []string) []string {
	t.Helper()
	out := make([]string, len(names))
	for i, n := range names {
		j, ok := c.cols[n]
		if !ok {
			t.Fatalf("no column %q (have %v)", n, c.cols)
		}
		s, ok, err := codec.FormatCell(c.rec.Column(j), c.row)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			s = "∅"
		}
		out[i] = s
	}
	return out
}

func (c *rowCursor) close() {
	if c.rec != nil {
		c.rec.Release()
	}
	c.r.Close()
}

var dataFields = []string{"id", "name", "qty", "price", "active", "day", "ts"}

// checkSchema checks the output's column names and Arrow types.
func checkSchema(t testing.TB, path string) {
	t.Helper()
	r, err := codec.OpenReader(path, codec.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := r.Schema()
	want := []arrow.DataType{arrow.BinaryTypes.String}
	for _, f := range dataSchema.Fields() {
		want = append(want, f.Type)
	}
	if got.NumFields() != len(want) || got.Field(0).Name != "_key" {
		t.Fatalf("output schema %s: want _key and %s", got, dataSchemaSpec)
	}
	for i, dt := range want {
		if !arrow.TypeEqual(got.Field(i).Type, dt) {
			t.Errorf("column %s: type %s, want %s", got.Field(i).Name, got.Field(i).Type, dt)
		}
	}
}

// compareSorted compares a scan output in key order with the input, row by
// row: same number of rows, same keys in the same order, same values.
func compareSorted(t testing.TB, input, output, prefix string) {
	t.Helper()
	checkSchema(t, output)
	in, out := openRows(t, input), openRows(t, output)
	defer in.close()
	defer out.close()
	n, bad := 0, 0
	for {
		hasIn, hasOut := in.next(t), out.next(t)
		if !hasIn && !hasOut {
			break
		}
		if hasIn != hasOut {
			t.Fatalf("row %d: input has a row: %v, output has a row: %v", n, hasIn, hasOut)
		}
		want := in.cells(t, dataFields)
		key := out.cells(t, []string{"_key"})[0]
		got := out.cells(t, dataFields)
		if key != prefix+want[0] || strings.Join(got, "\x1f") != strings.Join(want, "\x1f") {
			bad++
			if bad <= 5 {
				t.Errorf("row %d: output key %q values %q; want key %q values %q", n, key, got, prefix+want[0], want)
			}
		}
		n++
	}
	if bad > 0 {
		t.Fatalf("%d of %d rows differ", bad, n)
	}
}

// rowHash hashes a row's cells.
func rowHash(cells []string) uint64 {
	h := fnv.New64a()
	for _, c := range cells {
		h.Write([]byte(c))
		h.Write([]byte{0x1f})
	}
	return h.Sum64()
}

// compareUnordered checks that an output holds exactly the input's rows,
// in any order: no key missing, none twice, none extra, values equal.
func compareUnordered(t testing.TB, input, output, prefix string) {
	t.Helper()
	checkSchema(t, output)
	out := openRows(t, output)
	got := map[string]uint64{}
	dups := 0
	for out.next(t) {
		key := out.cells(t, []string{"_key"})[0]
		if _, seen := got[key]; seen {
			dups++
			if dups <= 5 {
				t.Errorf("key %q appears twice in the output", key)
			}
		}
		got[key] = rowHash(out.cells(t, dataFields))
	}
	out.close()
	in := openRows(t, input)
	defer in.close()
	missing, differ, n := 0, 0, 0
	for in.next(t) {
		n++
		want := in.cells(t, dataFields)
		key := prefix + want[0]
		h, ok := got[key]
		switch {
		case !ok:
			missing++
			if missing <= 5 {
				t.Errorf("key %q missing from the output", key)
			}
		case h != rowHash(want):
			differ++
			if differ <= 5 {
				t.Errorf("key %q: values differ from %q", key, want)
			}
		}
		delete(got, key)
	}
	if dups+missing+differ+len(got) > 0 {
		t.Fatalf("%d input rows: %d missing, %d duplicated, %d differ, %d extra keys in the output", n, missing, dups, differ, len(got))
	}
}
