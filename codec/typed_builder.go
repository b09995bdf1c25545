package codec

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// typedBuilder appends text values, parsed by the codec rules, to an Arrow
// builder of one of the six codec types.
type typedBuilder struct {
	typ Type
	b   array.Builder
	s   *array.StringBuilder
	i   *array.Int64Builder
	f   *array.Float64Builder
	bo  *array.BooleanBuilder
	d   *array.Date32Builder
	ts  *array.TimestampBuilder
}

func newTypedBuilder(t Type, b array.Builder) typedBuilder {
	tb := typedBuilder{typ: t, b: b}
	switch t {
	case Utf8:
		tb.s = b.(*array.StringBuilder)
	case Int64:
		tb.i = b.(*array.Int64Builder)
	case Float64:
		tb.f = b.(*array.Float64Builder)
	case Bool:
		tb.bo = b.(*array.BooleanBuilder)
	case Date:
		tb.d = b.(*array.Date32Builder)
	case Datetime:
		tb.ts = b.(*array.TimestampBuilder)
	}
	return tb
}

// append parses v and appends it; false if v does not parse (nothing is
// appended). v is not retained.
func (t *typedBuilder) append(v string) bool {
	switch t.typ {
	case Utf8:
		t.s.Append(v)
	case Int64:
		x, ok := ParseInt64(v)
		if !ok {
			return false
		}
		t.i.Append(x)
	case Float64:
		x, ok := ParseFloat64(v)
		if !ok {
			return false
		}
		t.f.Append(x)
	case Bool:
		x, ok := ParseBool(v)
		if !ok {
			return false
		}
		t.bo.Append(x)
	case Date:
		x, ok := ParseDate(v)
		if !ok {
			return false
		}
		t.d.Append(arrow.Date32(x))
	case Datetime:
		x, ok := ParseDatetime(v)
		if !ok {
			return false
		}
		t.ts.Append(arrow.Timestamp(x))
	default:
		return false
	}
	return true
}
