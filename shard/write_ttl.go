package shard

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/redstage/redstage/codec"
)

// ttlReader reads the expiry of each row from a TTL column.
type ttlReader interface {
	bind(rec arrow.RecordBatch)
	// at returns the row's expiry, or why the row must be rejected.
	at(row int, nowMS int64) (expiry, string)
}

// ttlColumn reads integer seconds, durations (relative), timestamps and
// dates (absolute) as milliseconds.
type ttlColumn struct {
	name     string
	index    int
	absolute bool
	// ms converts a raw value to milliseconds (rounding spans up, times
	// down); ok=false when it does not fit.
	ms    func(v int64) (int64, bool)
	value func(row int) (int64, bool) // raw value; ok=false when out of int64
	col   arrow.Array
}

func newTTLReader(f arrow.Field, index int) (ttlReader, error) {
	t := &ttlColumn{name: f.Name, index: index}
	switch dt := f.Type.(type) {
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type,
		*arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type, *arrow.Uint64Type:
		t.ms = ttlScale(1000)
	case *arrow.DurationType:
		t.ms = ttlUnitToMS(dt.Unit, true)
	case *arrow.TimestampType:
		t.absolute = true
		t.ms = ttlUnitToMS(dt.Unit, false)
	case *arrow.Date32Type:
		t.absolute = true
		t.ms = ttlScale(86_400_000)
	case *arrow.Date64Type:
		t.absolute = true
		t.ms = ttlScale(1)
	default:
		return nil, fmt.Errorf("%w: TTL column %q has type %s; want integer seconds from now, a duration, a timestamp or a date (cast the column)", ErrInvalidOptions, f.Name, f.Type)
	}
	return t, nil
}

func ttlScale(mul int64) func(int64) (int64, bool) {
	return func(v int64) (int64, bool) {
		if v > math.MaxInt64/mul || v < math.MinInt64/mul {
			return 0, false
		}
		return v * mul, true
	}
}

// ttlUnitToMS converts a time unit to ms; spans round up (a 1µs TTL is 1ms,
// never 0), times round down.
func ttlUnitToMS(u arrow.TimeUnit, span bool) func(int64) (int64, bool) {
	var div int64
	switch u {
	case arrow.Second:
		return ttlScale(1000)
	case arrow.Millisecond:
		return ttlScale(1)
	case arrow.Microsecond:
		div = 1000
	default:
		div = 1_000_000
	}
	return func(v int64) (int64, bool) {
		q := v / div
		if r := v % div; r != 0 {
			if span && v > 0 {
				q++
			} else if !span && v < 0 {
				q--
			}
		}
		return q, true
	}
}

func (t *ttlColumn) bind(rec arrow.RecordBatch) {
	t.col = rec.Column(t.index)
	switch a := t.col.(type) {
	case *array.Int8:
		t.value = func(r int) (int64, bool) { return int64(a.Value(r)), true }
	case *array.Int16:
		t.value = func(r int) (int64, bool) { return int64(a.Value(r)), true }
	case *array.Int32:
		t.value = func(r int) (int64, bool) { return int64(a.Value(r)), true }
	case *array.Int64:
		t.value = func(r int) (int64, bool) { return a.Value(r), true }
	case *array.Uint8:
		t.value = func(r int) (int64, bool) { return int64(a.Value(r)), true }
	case *array.Uint16:
		t.value = func(r int) (int64, bool) { return int64(a.Value(r)), true }
	case *array.Uint32:
		t.value = func(r int) (int64, bool) { return int64(a.Value(r)), true }
	case *array.Uint64:
		t.value = func(r int) (int64, bool) { v := a.Value(r); return int64(v), v <= math.MaxInt64 }
	case *array.Duration:
		t.value = func(r int) (int64, bool) { return int64(a.Value(r)), true }
	case *array.Timestamp:
		t.value = func(r int) (int64, bool) { return int64(a.Value(r)), true }
	case *array.Date32:
		t.value = func(r int) (int64, bool) { return int64(a.Value(r)), true }
	case *array.Date64:
		t.value = func(r int) (int64, bool) { return int64(a.Value(r)), true }
	default: // newTTLReader accepted the type, so this is not reached
		t.value = func(int) (int64, bool) { return 0, false }
	}
}

func (t *ttlColumn) at(row int, nowMS int64) (expiry, string) {
	if t.col.IsNull(row) {
		return expiry{}, ""
	}
	raw, ok := t.value(row)
	if !ok {
		return expiry{}, fmt.Sprintf("TTL column %q: value is above the int64 maximum", t.name)
	}
	ms, ok := t.ms(raw)
	if !ok {
		return expiry{}, fmt.Sprintf("TTL column %q: value %d is out of range", t.name, raw)
	}
	if t.absolute {
		if ms <= nowMS {
			return expiry{}, fmt.Sprintf("TTL column %q: expiry %s is not in the future", t.name, ttlFormatMS(ms))
		}
		return expiry{kind: expireAt, ms: ms}, ""
	}
	if ms <= 0 {
		return expiry{}, fmt.Sprintf("TTL column %q: %d is not a positive TTL (the column gives the time to live from now)", t.name, raw)
	}
	return expiry{kind: expireIn, ms: ms}, ""
}

// ttlFormatMS formats Unix milliseconds as a UTC datetime for messages.
func ttlFormatMS(ms int64) string {
	if ms > math.MaxInt64/1000 || ms < math.MinInt64/1000 {
		return fmt.Sprintf("%d ms after 1970", ms)
	}
	return codec.FormatDatetime(ms * 1000)
}
