package shard

import (
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestTTLColumnAt(t *testing.T) {
	const now = int64(1_700_000_000_000) // Unix ms
	ts := func(u arrow.TimeUnit) arrow.DataType { return &arrow.TimestampType{Unit: u, TimeZone: "UTC"} }
	tests := []struct {
		name   string
		typ    arrow.DataType
		raw    int64 // raw cell value (ignored when null)
		null   bool
		want   expiry
		reject string // substring of the rejection reason
	}{
		{"seconds", arrow.PrimitiveTypes.Int64, 90, false, expiry{expireIn, 90_000}, ""},
		{"int8 seconds", arrow.PrimitiveTypes.Int8, 127, false, expiry{expireIn, 127_000}, ""},
		{"null", arrow.PrimitiveTypes.Int64, 0, true, expiry{}, ""},
		{"zero", arrow.PrimitiveTypes.Int32, 0, false, expiry{}, "not a positive TTL"},
		{"negative", arrow.PrimitiveTypes.Int64, -2, false, expiry{}, "not a positive TTL"},
		{"minus one is no expiry (scan's _ttl)", arrow.PrimitiveTypes.Int64, -1, false, expiry{}, ""},
		{"seconds overflow", arrow.PrimitiveTypes.Int64, math.MaxInt64 / 10, false, expiry{}, "out of range"},
		{"uint64 above int64", arrow.PrimitiveTypes.Uint64, -1, false, expiry{}, "above the int64 maximum"},
		{"duration ns rounds up", &arrow.DurationType{Unit: arrow.Nanosecond}, 1, false, expiry{expireIn, 1}, ""},
		{"duration us", &arrow.DurationType{Unit: arrow.Microsecond}, 2_000_001, false, expiry{expireIn, 2001}, ""},
		{"duration s", &arrow.DurationType{Unit: arrow.Second}, 5, false, expiry{expireIn, 5000}, ""},
		{"duration negative", &arrow.DurationType{Unit: arrow.Millisecond}, -5, false, expiry{}, "not a positive TTL"},
		{"timestamp ms", ts(arrow.Millisecond), now + 1, false, expiry{expireAt, now + 1}, ""},
		{"timestamp us rounds down", ts(arrow.Microsecond), (now+5)*1000 + 999, false, expiry{expireAt, now + 5}, ""},
		{"timestamp ns", ts(arrow.Nanosecond), (now + 7) * 1_000_000, false, expiry{expireAt, now + 7}, ""},
		{"timestamp s", ts(arrow.Second), now/1000 + 60, false, expiry{expireAt, (now/1000 + 60) * 1000}, ""},
		{"timestamp now", ts(arrow.Millisecond), now, false, expiry{}, "not in the future"},
		{"timestamp past", ts(arrow.Microsecond), -1, false, expiry{}, "1969-12-31"},
		{"timestamp s overflow", ts(arrow.Second), math.MaxInt64, false, expiry{}, "out of range"},
		{"date", arrow.FixedWidthTypes.Date32, 20000, false, expiry{expireAt, 20000 * 86_400_000}, ""},
		{"date64", arrow.FixedWidthTypes.Date64, now + 86_400_000, false, expiry{expireAt, now + 86_400_000}, ""},
		{"date past", arrow.FixedWidthTypes.Date32, 19000, false, expiry{}, "2022-01-08"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := oneCell(t, tt.typ, tt.raw, tt.null)
			defer col.Release()
			rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "exp", Type: tt.typ, Nullable: true}}, nil), []arrow.Array{col}, 1)
			defer rec.Release()
			r, err := newTTLReader(rec.Schema().Field(0), 0)
			if err != nil {
				t.Fatal(err)
			}
			r.bind(rec)
			got, reason := r.at(0, now)
			if tt.reject != "" {
				if !strings.Contains(reason, tt.reject) || !strings.Contains(reason, `"exp"`) {
					t.Fatalf("at = %+v, %q; want a rejection naming the column and containing %q", got, reason, tt.reject)
				}
				return
			}
			if reason != "" || got != tt.want {
				t.Fatalf("at = %+v, %q; want %+v", got, reason, tt.want)
			}
		})
	}
}

func oneCell(t *testing.T, dt arrow.DataType, v int64, null bool) arrow.Array {
	t.Helper()
	b := array.NewBuilder(memory.DefaultAllocator, dt)
	defer b.Release()
	if null {
		b.AppendNull()
		return b.NewArray()
	}
	switch bb := b.(type) {
	case *array.Int8Builder:
		bb.Append(int8(v))
	case *array.Int32Builder:
		bb.Append(int32(v))
	case *array.Int64Builder:
		bb.Append(v)
	case *array.Uint64Builder:
		bb.Append(uint64(v))
	case *array.DurationBuilder:
		bb.Append(arrow.Duration(v))
	case *array.TimestampBuilder:
		bb.Append(arrow.Timestamp(v))
	case *array.Date32Builder:
		bb.Append(arrow.Date32(v))
	case *array.Date64Builder:
		bb.Append(arrow.Date64(v))
	default:
		t.Fatalf("no case for %T", b)
	}
	return b.NewArray()
}

// FuzzTTLSpan: a span in any unit becomes the smallest whole number of
// milliseconds not shorter than it; a time becomes the last millisecond
// not after it.
func FuzzTTLSpan(f *testing.F) {
	for _, v := range []int64{0, 1, -1, 999, 1000, 1001, math.MaxInt64, math.MinInt64} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v int64) {
		for _, u := range []arrow.TimeUnit{arrow.Microsecond, arrow.Nanosecond} {
			div := int64(1000)
			if u == arrow.Nanosecond {
				div = 1_000_000
			}
			span, _ := ttlUnitToMS(u, true)(v)
			at, _ := ttlUnitToMS(u, false)(v)
			bv, bd := big.NewInt(v), big.NewInt(div)
			lo := new(big.Int).Mul(big.NewInt(at), bd)       // at·div ≤ v
			hi := new(big.Int).Mul(big.NewInt(at+1), bd)     // v < (at+1)·div
			up := new(big.Int).Mul(big.NewInt(span), bd)     // span·div ≥ v
			down := new(big.Int).Mul(big.NewInt(span-1), bd) // (span-1)·div < v
			if lo.Cmp(bv) > 0 || hi.Cmp(bv) <= 0 {
				t.Fatalf("time %d %v → %d ms", v, u, at)
			}
			if v > 0 && (up.Cmp(bv) < 0 || down.Cmp(bv) >= 0) {
				t.Fatalf("span %d %v → %d ms", v, u, span)
			}
		}
	})
}

// FuzzWriteKey: keys are the prefix and the key values joined with ":",
// and a null or empty key value rejects the row, naming the column.
func FuzzWriteKey(f *testing.F) {
	f.Add("user:", "42", "x", false, false)
	f.Add("", "", "y", false, false)
	f.Add("p", "a:b", "", false, false)
	f.Add("p", "a", "b", true, false)
	f.Add("ü", "é", "\x00", false, true)
	f.Fuzz(func(t *testing.T, prefix, a, b string, nullA, nullB bool) {
		schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "b", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
		bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		defer bld.Release()
		for i, v := range []struct {
			s    string
			null bool
		}{{a, nullA}, {b, nullB}} {
			if v.null {
				bld.Field(i).AppendNull()
			} else {
				bld.Field(i).(*array.StringBuilder).Append(v.s)
			}
		}
		rec := bld.NewRecordBatch()
		defer rec.Release()
		rw, err := newRowWriter(schema, WriteOptions{Prefix: prefix, KeyColumns: []string{"a", "b"}}.withDefaults())
		if err != nil {
			t.Fatal(err)
		}
		key, reason := rw.key(rec, 0)
		switch {
		case nullA || (!nullA && a == "") || nullB || b == "":
			col := "a"
			if !nullA && a != "" {
				col = "b"
			}
			if key != "" || !strings.Contains(reason, `"`+col+`"`) {
				t.Fatalf("key %q reason %q; want a rejection naming column %s", key, reason, col)
			}
		case reason != "" || key != prefix+a+":"+b:
			t.Fatalf("key %q reason %q; want %q", key, reason, prefix+a+":"+b)
		}
	})
}
