package shard

import (
	"fmt"
	"math"
	"time"

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
	seconds  bool // an integer column: -1 means no expiry
	// ms converts a raw value to milliseconds (rounding spans up, times
	// down); ok=false when it does not fit.
	ms    func(v int64) (int64, bool)
	value func(row int) (int64, bool) // raw value; ok=false when out of int64
	col   arrow.Array
}

func newTTLReader(f arrow.Field, index int) (ttlReader, error) {
	if err := CheckTTLColumn(f); err != nil {
		return nil, err
	}
	if isTextType(f.Type) {
		return &ttlText{name: f.Name, index: index}, nil
	}
	t := &ttlColumn{name: f.Name, index: index}
	switch dt := f.Type.(type) {
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type,
		*arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type, *arrow.Uint64Type:
		t.ms, t.seconds = ttlScale(1000), true
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
	}
	return t, nil
}

func isTextType(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return true
	}
	return false
}

// CheckTTLColumn reports whether f can be a TTL column: integers (seconds
// from now), durations, timestamps, dates, or text (see ParseTTLText).
// Callers check input columns with it before writing anything.
func CheckTTLColumn(f arrow.Field) error {
	switch f.Type.(type) {
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type,
		*arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type, *arrow.Uint64Type,
		*arrow.DurationType, *arrow.TimestampType, *arrow.Date32Type, *arrow.Date64Type:
		return nil
	}
	if isTextType(f.Type) {
		return nil
	}
	return fmt.Errorf("%w: TTL column %q has type %s; want integer seconds from now, a duration, a timestamp, a date, or text holding one of them (90, 90s, 1h30m, 2030-01-01T00:00:00Z)", ErrInvalidOptions, f.Name, f.Type)
}

// ParseTTLText reads a text TTL value: integer seconds from now ("3600"),
// a duration ("90s", "1h30m", "250ms"; Go syntax: h, m, s, ms, us, ns), or
// an absolute datetime or date (codec.ParseDatetime: "2030-01-01",
// "2030-01-01T12:00:00Z"). "" and "-1" mean no expiry (ok with zero
// values). It checks the form only: whether the span is positive or the
// time in the future is decided at write time.
func ParseTTLText(s string) (span time.Duration, at int64, ok bool) {
	if s == "" || s == "-1" {
		return 0, 0, true
	}
	if n, isInt := codec.ParseInt64(s); isInt {
		if n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second) {
			return 0, 0, false
		}
		if n == 0 {
			return 0, 0, false
		}
		return time.Duration(n) * time.Second, 0, true
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d == 0 {
			return 0, 0, false
		}
		return d, 0, true
	}
	if us, isTime := codec.ParseDatetime(s); isTime {
		return 0, us, true
	}
	return 0, 0, false
}

// ttlText reads a text column with ParseTTLText.
type ttlText struct {
	name  string
	index int
	col   interface {
		IsNull(int) bool
		ValueStr(int) string
	}
}

func (t *ttlText) bind(rec arrow.RecordBatch) {
	t.col = rec.Column(t.index)
}

func (t *ttlText) at(row int, nowMS int64) (expiry, string) {
	if t.col.IsNull(row) {
		return expiry{}, ""
	}
	s := t.col.ValueStr(row)
	span, atUS, ok := ParseTTLText(s)
	switch {
	case !ok:
		return expiry{}, fmt.Sprintf("TTL column %q: %q is not a TTL (want seconds, a duration like 90s or 1h30m, or a datetime like 2030-01-01T00:00:00Z)", t.name, clipKey(s))
	case span < 0:
		return expiry{}, fmt.Sprintf("TTL column %q: %q is not a positive TTL", t.name, s)
	case span > 0:
		return expiry{kind: expireIn, ms: max(span.Milliseconds(), 1)}, ""
	case atUS != 0 || s != "" && s != "-1":
		ms := atUS / 1000
		if atUS%1000 < 0 {
			ms--
		}
		if ms <= nowMS {
			return expiry{}, fmt.Sprintf("TTL column %q: expiry %s is not in the future", t.name, s)
		}
		return expiry{kind: expireAt, ms: ms}, ""
	}
	return expiry{}, ""
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
	if raw == -1 && t.seconds {
		return expiry{}, "" // -1: no expiry, as scan's _ttl writes it
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
