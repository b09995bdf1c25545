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
	invalid []int64
	rows    int
	nonUTF8 int64 // keys that were not valid UTF-8

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
	if b.opts.Strict {
		if err := b.check(key, values, present); err != nil {
			return err
		}
	}
	if b.key != nil {
		b.appendKey(key)
	}
	for i := range b.cols {
		col := &b.cols[i]
		if present != nil && !present[i] {
			col.appendNull()
			continue
		}
		v := values[i]
		if v == "" {
			if col.typ == Utf8 {
				col.str.Append("")
			} else {
				col.appendNull()
			}
			continue
		}
		if !col.appendValue(v) {
			b.invalid[i]++
			col.appendNull()
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

// appendKey appends key in the form Meta.KeyEncoding asks for (the key
// column is utf8, so bytes that are not UTF-8 are always escaped).
func (b *RecordBuilder) appendKey(key string) {
	valid := utf8.ValidString(key)
	if !valid {
		b.nonUTF8++
	}
	if valid && b.opts.Meta.KeyEncoding != KeyEscape {
		b.key.Append(key)
		return
	}
	b.key.Append(EscapeBytes(key))
}

// NonUTF8Keys returns how many keys appended since the builder was created
// were not valid UTF-8 (and so are escaped in the key column).
func (b *RecordBuilder) NonUTF8Keys() int64 { return b.nonUTF8 }

// check returns a *ParseError for the first present, non-empty value that
// does not parse (Strict mode), counting it in Invalid.
func (b *RecordBuilder) check(key string, values []string, present []bool) error {
	for i := range b.cols {
		if (present != nil && !present[i]) || values[i] == "" {
			continue
		}
		if t := b.cols[i].typ; !valid(t, values[i]) {
			b.invalid[i]++
			return &ParseError{Key: key, Field: b.schema.Fields[i].Name, Value: values[i], Want: t}
		}
	}
	return nil
}

// valid reports whether v parses as type t.
func valid(t Type, v string) (ok bool) {
	switch t {
	case Utf8:
		ok = utf8.ValidString(v)
	case Int64:
		_, ok = ParseInt64(v)
	case Float64:
		_, ok = ParseFloat64(v)
	case Bool:
		_, ok = ParseBool(v)
	case Date:
		_, ok = ParseDate(v)
	case Datetime:
		_, ok = ParseDatetime(v)
	}
	return ok
}

// appendValue parses v and appends it; it appends nothing and returns
// false if v does not parse.
func (c *column) appendValue(v string) bool {
	switch c.typ {
	case Utf8:
		if !utf8.ValidString(v) { // Arrow strings must be UTF-8
			return false
		}
		c.str.Append(v)
	case Int64:
		n, ok := ParseInt64(v)
		if !ok {
			return false
		}
		c.i64.Append(n)
	case Float64:
		f, ok := ParseFloat64(v)
		if !ok {
			return false
		}
		c.f64.Append(f)
	case Bool:
		bv, ok := ParseBool(v)
		if !ok {
			return false
		}
		c.b.Append(bv)
	case Date:
		d, ok := ParseDate(v)
		if !ok {
			return false
		}
		c.d32.Append(arrow.Date32(d))
	case Datetime:
		us, ok := ParseDatetime(v)
		if !ok {
			return false
		}
		c.ts.Append(arrow.Timestamp(us))
	}
	return true
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

// Reserve makes room for n more rows in every column, so that appending
// them does not grow buffers row by row.
func (b *RecordBuilder) Reserve(n int) { b.rb.Reserve(n) }

// Len returns the number of rows appended since the last NewRecordBatch.
func (b *RecordBuilder) Len() int { return b.rows }

// NewRecordBatch returns the rows appended so far as a record batch and
// resets the builder. The caller must Release the batch.
func (b *RecordBuilder) NewRecordBatch() arrow.RecordBatch {
	b.rows = 0
	return b.rb.NewRecordBatch()
}

// Invalid returns, per field name (a name that is not valid UTF-8 in the
// escaped form, as in column names), how many present values did not parse
// under the field's type since the builder was created (NewRecordBatch does
// not reset it). Fields without invalid values are omitted.
func (b *RecordBuilder) Invalid() map[string]int64 {
	out := make(map[string]int64)
	for i, n := range b.invalid {
		if n > 0 {
			out[EscapeInvalid(b.schema.Fields[i].Name)] = n
		}
	}
	return out
}

// Release frees the builder's buffers (rows not yet taken by
// NewRecordBatch are discarded).
func (b *RecordBuilder) Release() { b.rb.Release() }
