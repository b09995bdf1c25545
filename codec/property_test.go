package codec

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/quick"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The round-trip property: typed Arrow rows → RowEncoder (strings for
// Redis) → RecordBuilder (same schema) → the same typed values, nulls
// included, for all six types.

var propSchema = &Schema{Fields: []Field{
	{"s", Utf8}, {"i", Int64}, {"f", Float64}, {"b", Bool}, {"d", Date}, {"t", Datetime},
}}

var (
	edgeInts   = []int64{0, 1, -1, math.MaxInt64, math.MinInt64, math.MaxInt32, math.MinInt32 - 1, 1e11, -1e11}
	edgeFloats = []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64, -math.MaxFloat64,
		math.SmallestNonzeroFloat64, 2.2250738585072014e-308, 0.1, 1e21, 1e-7, 999999999999999999999, 1.0 / 3, 5e-324, 9007199254740993}
	edgeDates = []int32{0, -1, math.MaxInt32, math.MinInt32, civilDays(1969, 12, 31), civilDays(1900, 2, 28), civilDays(1600, 2, 29),
		civilDays(2100, 3, 1), civilDays(2400, 2, 29), civilDays(9999, 12, 31), civilDays(10000, 1, 1), civilDays(0, 1, 1), civilDays(-1, 12, 31)}
	edgeTimes = []int64{0, -1, 1, math.MaxInt64, math.MinInt64, -62135596800_000_000, 253402300800_000_000, 4102444800_000_001, -2208988800_000_000, 999, 1000}
	edgeStrs  = []string{"", " ", "a,b", "x:y", "\"quoted\"", "line\nbreak", "tab\t", "nul\x00byte", "ünïcødé", "日本語", "🎉🚀", "\u200b", "null", "NaN", "1", "2024-01-01"}
)

func randString(rng *rand.Rand) string {
	if rng.IntN(3) == 0 {
		return edgeStrs[rng.IntN(len(edgeStrs))]
	}
	n := rng.IntN(12)
	var b strings.Builder
	for i := 0; i < n; i++ {
		var r rune
		switch rng.IntN(4) {
		case 0:
			r = rune(rng.IntN(128))
		case 1:
			r = rune(0x80 + rng.IntN(0x800-0x80))
		case 2:
			r = rune(0x800 + rng.IntN(0xD800-0x800))
		default:
			r = rune(0x10000 + rng.IntN(0x10FFFF-0x10000))
		}
		b.WriteRune(r)
	}
	return b.String()
}

// propRecord builds n random rows of propSchema, with nulls and edge values.
func propRecord(mem memory.Allocator, rng *rand.Rand, n int) arrow.RecordBatch {
	as, _ := propSchema.ArrowSchema(MetaColumns{})
	rb := array.NewRecordBuilder(mem, as)
	defer rb.Release()
	null := func() bool { return rng.IntN(6) == 0 }
	edge := func() bool { return rng.IntN(4) == 0 }
	for r := 0; r < n; r++ {
		sb := rb.Field(0).(*array.StringBuilder)
		if null() {
			sb.AppendNull()
		} else {
			sb.Append(randString(rng))
		}
		ib := rb.Field(1).(*array.Int64Builder)
		switch {
		case null():
			ib.AppendNull()
		case edge():
			ib.Append(edgeInts[rng.IntN(len(edgeInts))])
		default:
			ib.Append(int64(rng.Uint64()) >> rng.IntN(64))
		}
		fb := rb.Field(2).(*array.Float64Builder)
		switch {
		case null():
			fb.AppendNull()
		case edge():
			fb.Append(edgeFloats[rng.IntN(len(edgeFloats))])
		case rng.IntN(2) == 0:
			fb.Append(math.Float64frombits(rng.Uint64())) // any bit pattern, NaN payloads included
		default:
			fb.Append(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20)))
		}
		bb := rb.Field(3).(*array.BooleanBuilder)
		if null() {
			bb.AppendNull()
		} else {
			bb.Append(rng.IntN(2) == 0)
		}
		db := rb.Field(4).(*array.Date32Builder)
		switch {
		case null():
			db.AppendNull()
		case edge():
			db.Append(arrow.Date32(edgeDates[rng.IntN(len(edgeDates))]))
		case rng.IntN(2) == 0:
			db.Append(arrow.Date32(int32(rng.Uint32())))
		default:
			db.Append(arrow.Date32(rng.IntN(200000) - 100000)) // ±274 years around 1970
		}
		tb := rb.Field(5).(*array.TimestampBuilder)
		switch {
		case null():
			tb.AppendNull()
		case edge():
			tb.Append(arrow.Timestamp(edgeTimes[rng.IntN(len(edgeTimes))]))
		case rng.IntN(2) == 0:
			tb.Append(arrow.Timestamp(int64(rng.Uint64())))
		default:
			tb.Append(arrow.Timestamp(rng.Int64N(8e15) - 4e15)) // ±127 years
		}
	}
	return rb.NewRecordBatch()
}

// sameCell compares cell i of two arrays of one codec type; floats compare
// bit for bit (so -0 differs from 0) except that any NaN equals any NaN.
func sameCell(a, b arrow.Array, i int) bool {
	if a.IsNull(i) || b.IsNull(i) {
		return a.IsNull(i) && b.IsNull(i)
	}
	switch x := a.(type) {
	case *array.String:
		return x.Value(i) == b.(*array.String).Value(i)
	case *array.Int64:
		return x.Value(i) == b.(*array.Int64).Value(i)
	case *array.Float64:
		p, q := x.Value(i), b.(*array.Float64).Value(i)
		return math.Float64bits(p) == math.Float64bits(q) || (math.IsNaN(p) && math.IsNaN(q))
	case *array.Boolean:
		return x.Value(i) == b.(*array.Boolean).Value(i)
	case *array.Date32:
		return x.Value(i) == b.(*array.Date32).Value(i)
	case *array.Timestamp:
		return x.Value(i) == b.(*array.Timestamp).Value(i)
	}
	return false
}

func roundTripSeed(t *testing.T, seed uint64, n int) {
	t.Helper()
	mem := leakCheckedMem(t)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	rec := propRecord(mem, rng, n)
	defer rec.Release()

	enc, err := NewRowEncoder(rec.Schema(), EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// the encoder's schema is the schema the data was made with
	if enc.Schema().Spec() != propSchema.Spec() {
		t.Fatalf("encoder schema %s; want %s", enc.Schema().Spec(), propSchema.Spec())
	}
	b, err := NewRecordBuilder(mem, enc.Schema(), BuilderOptions{Meta: DefaultMetaColumns(), Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	var pairs []string
	for r := 0; r < n; r++ {
		pairs, err = enc.AppendRow(pairs[:0], rec, r)
		if err != nil {
			t.Fatalf("seed %d row %d: %v", seed, r, err)
		}
		h := make(map[string]string, len(pairs)/2)
		for j := 0; j < len(pairs); j += 2 {
			if !utf8.ValidString(pairs[j+1]) {
				t.Fatalf("seed %d row %d: field %s value %q is not UTF-8", seed, r, pairs[j], pairs[j+1])
			}
			h[pairs[j]] = pairs[j+1]
		}
		if err := b.AppendMap("k", h, -1, uint64(r)); err != nil {
			t.Fatalf("seed %d row %d: formatted value does not parse back: %v (hash %q)", seed, r, err, h)
		}
	}
	got := b.NewRecordBatch()
	defer got.Release()
	if len(b.Invalid()) != 0 {
		t.Fatalf("seed %d: invalid values %v", seed, b.Invalid())
	}
	for c := range propSchema.Fields {
		want, have := rec.Column(c), got.Column(c+1) // column 0 of got is _key
		for r := 0; r < n; r++ {
			if !sameCell(want, have, r) {
				ws, _, _ := FormatCell(want, r)
				hs, _, _ := FormatCell(have, r)
				t.Fatalf("seed %d row %d field %s: wrote %s (%q), read back %s (%q)", seed, r, propSchema.Fields[c].Name,
					want.ValueStr(r), ws, have.ValueStr(r), hs)
			}
		}
	}
}

func TestRoundTripProperty(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		roundTripSeed(t, seed, 500)
	}
	seed := rand.Uint64() // a fresh seed each run; logged so a failure can be replayed
	t.Logf("random seed %d", seed)
	roundTripSeed(t, seed, 2000)
}

// Scalar round trips with testing/quick (random values of each type).
func TestScalarRoundTripQuick(t *testing.T) {
	cfg := &quick.Config{MaxCount: 20000}
	check := func(name string, f any) {
		t.Helper()
		if err := quick.Check(f, cfg); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	check("int64", func(v int64) bool { got, ok := ParseInt64(FormatInt64(v)); return ok && got == v })
	check("float64", func(bits uint64) bool {
		v := math.Float64frombits(bits)
		got, ok := ParseFloat64(FormatFloat64(v))
		return ok && (math.Float64bits(got) == bits || math.IsNaN(v) && math.IsNaN(got))
	})
	check("bool", func(v bool) bool { got, ok := ParseBool(FormatBool(v)); return ok && got == v })
	check("date", func(v int32) bool { got, ok := ParseDate(FormatDate(v)); return ok && got == v })
	check("datetime", func(v int64) bool { got, ok := ParseDatetime(FormatDatetime(v)); return ok && got == v })
	// a date is also a datetime at midnight
	// a date is also a datetime at midnight, where int64 µs reach
	check("date as datetime", func(v int32) bool {
		got, ok := ParseDatetime(FormatDate(v))
		if int64(v) > math.MaxInt64/86400_000_000 || int64(v) < math.MinInt64/86400_000_000 {
			return !ok
		}
		return ok && got == int64(v)*86400_000_000
	})
	check("small date as datetime", func(v int32) bool {
		v %= 100_000_000
		got, ok := ParseDatetime(FormatDate(v))
		return ok && got == int64(v)*86400_000_000
	})
}
