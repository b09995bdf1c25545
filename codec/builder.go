package codec

import (
	"fmt"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BuilderOptions configures a RecordBuilder.
type BuilderOptions struct {
	Meta   MetaColumns // metadata columns to produce; zero value = none
	Strict bool        // an unparsable value is an error instead of a counted null
}

// RecordBuilder turns Redis hash values (strings) into Arrow record batches
// of a Schema (the scan side). It is not safe for concurrent use.
//
// For every schema field: an absent field is null; an empty string is the
// empty utf8 value, and null for the other types; any other value that does
// not parse under the field's type (for utf8: bytes that are not valid
// UTF-8) is null and counted in Invalid (or, in Strict mode, rejected with
// a *ParseError and the row not appended).
type RecordBuilder struct {
	schema  *Schema
	arrow   *arrow.Schema
	opts    BuilderOptions
	rb      *array.RecordBuilder
	key     *array.StringBuilder
	ttl     *array.Int64Builder
	index   *array.Uint64Builder
	cols    []column
	cells   []cell
	invalid []int64
	rows    int

	// scratch for AppendMap
	vals []string
	pres []bool
}

type column struct {
	typ Type
	str *array.StringBuilder
	i64 *array.Int64Builder
	f64 *array.Float64Builder
	b   *array.BooleanBuilder
	d32 *array.Date32Builder
	ts  *array.TimestampBuilder
}

// cell holds one parsed value between validation and appending.
type cell struct {
	ok bool // false = null
	i  int64
	f  float64
}

// NewRecordBuilder returns a builder for schema s; see Schema.ArrowSchema for
// the column layout. mem is the allocator for the Arrow buffers.
func NewRecordBuilder(mem memory.Allocator, s *Schema, opts BuilderOptions) (*RecordBuilder, error) {
	as, err := s.ArrowSchema(opts.Meta)
	if err != nil {
		return nil, err
	}
	b := &RecordBuilder{
		schema:  s,
		arrow:   as,
		opts:    opts,
		rb:      array.NewRecordBuilder(mem, as),
		cols:    make([]column, len(s.Fields)),
		cells:   make([]cell, len(s.Fields)),
		invalid: make([]int64, len(s.Fields)),
		vals:    make([]string, len(s.Fields)),
		pres:    make([]bool, len(s.Fields)),
	}
	i := 0
	if opts.Meta.Key != "" {
		b.key = b.rb.Field(i).(*array.StringBuilder)
		i++
	}
	for j, f := range s.Fields {
		c := column{typ: f.Type}
		switch fb := b.rb.Field(i + j).(type) {
		case *array.StringBuilder:
			c.str = fb
		case *array.Int64Builder:
			c.i64 = fb
		case *array.Float64Builder:
			c.f64 = fb
		case *array.BooleanBuilder:
			c.b = fb
		case *array.Date32Builder:
			c.d32 = fb
		case *array.TimestampBuilder:
			c.ts = fb
		}
		b.cols[j] = c
	}
	i += len(s.Fields)
	if opts.Meta.TTL != "" {
		b.ttl = b.rb.Field(i).(*array.Int64Builder)
		i++
	}
	if opts.Meta.Index != "" {
		b.index = b.rb.Field(i).(*array.Uint64Builder)
	}
	return b, nil
}

// ArrowSchema returns the schema of the record batches built.
func (b *RecordBuilder) ArrowSchema() *arrow.Schema { return b.arrow }

// Schema returns the codec schema the builder was made for.
func (b *RecordBuilder) Schema() *Schema { return b.schema }

// Append adds one hash as a row. values[i] is the raw value of schema
// field i and present[i] reports whether the hash has that field (a nil
// present means every field is present). ttl is used only when Meta.TTL is
// set, index only when Meta.Index is set. In Strict mode the first
// unparsable value returns a *ParseError and nothing is appended.
func (b *RecordBuilder) Append(key string, values []string, present []bool, ttl int64, index uint64) error {
	if len(values) != len(b.cols) || (present != nil && len(present) != len(b.cols)) {
		return fmt.Errorf("appending key %q: %w: %d values and %d presence flags for %d schema fields",
			key, ErrSchemaMismatch, len(values), len(present), len(b.cols))
	}
	for i := range b.cols {
		c := &b.cells[i]
		c.ok = false
		if present != nil && !present[i] {
			continue
		}
		v := values[i]
		t := b.cols[i].typ
		if v == "" {
			c.ok = t == Utf8 // the empty string; null for other types
			continue
		}
		if !parseCell(t, v, c) {
			b.invalid[i]++
			if b.opts.Strict {
				return &ParseError{Key: key, Field: b.schema.Fields[i].Name, Value: v, Want: t}
			}
		}
	}
	if b.key != nil {
		b.key.Append(key)
	}
	for i := range b.cols {
		col, c := &b.cols[i], &b.cells[i]
		if !c.ok {
			col.appendNull()
			continue
		}
		switch col.typ {
		case Utf8:
			col.str.Append(values[i])
		case Int64:
			col.i64.Append(c.i)
		case Float64:
			col.f64.Append(c.f)
		case Bool:
			col.b.Append(c.i != 0)
		case Date:
			col.d32.Append(arrow.Date32(c.i))
		case Datetime:
			col.ts.Append(arrow.Timestamp(c.i))
		}
	}
	if b.ttl != nil {
		b.ttl.Append(ttl)
	}
	if b.index != nil {
		b.index.Append(index)
	}
	b.rows++
	return nil
}

// parseCell parses v as type t into c and reports success.
func parseCell(t Type, v string, c *cell) bool {
	switch t {
	case Utf8:
		c.ok = utf8.ValidString(v) // Arrow strings must be UTF-8
	case Int64:
		c.i, c.ok = ParseInt64(v)
	case Float64:
		c.f, c.ok = ParseFloat64(v)
	case Bool:
		var bv bool
		bv, c.ok = ParseBool(v)
		c.i = 0
		if bv {
			c.i = 1
		}
	case Date:
		var d int32
		d, c.ok = ParseDate(v)
		c.i = int64(d)
	case Datetime:
		c.i, c.ok = ParseDatetime(v)
	}
	return c.ok
}

func (c *column) appendNull() {
	switch c.typ {
	case Utf8:
		c.str.AppendNull()
	case Int64:
		c.i64.AppendNull()
	case Float64:
		c.f64.AppendNull()
	case Bool:
		c.b.AppendNull()
	case Date:
		c.d32.AppendNull()
	case Datetime:
		c.ts.AppendNull()
	}
}

// AppendMap adds one hash given as a field → value map (as HGETALL returns
// it). Schema fields missing from m are null; other entries of m are
// ignored.
func (b *RecordBuilder) AppendMap(key string, m map[string]string, ttl int64, index uint64) error {
	for i, f := range b.schema.Fields {
		b.vals[i], b.pres[i] = m[f.Name]
	}
	return b.Append(key, b.vals, b.pres, ttl, index)
}

// Len returns the number of rows appended since the last NewRecordBatch.
func (b *RecordBuilder) Len() int { return b.rows }

// NewRecordBatch returns the rows appended so far as a record batch and
// resets the builder. The caller must Release the batch.
func (b *RecordBuilder) NewRecordBatch() arrow.RecordBatch {
	b.rows = 0
	return b.rb.NewRecordBatch()
}

// Invalid returns, per field name, how many present values did not parse
// under the field's type since the builder was created (NewRecordBatch does
// not reset it). Fields without invalid values are omitted.
func (b *RecordBuilder) Invalid() map[string]int64 {
	out := make(map[string]int64)
	for i, n := range b.invalid {
		if n > 0 {
			out[b.schema.Fields[i].Name] = n
		}
	}
	return out
}

// Release frees the builder's buffers (rows not yet taken by
// NewRecordBatch are discarded).
func (b *RecordBuilder) Release() { b.rb.Release() }
