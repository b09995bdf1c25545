package codec

import (
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// csvReader reads CSV into record batches of the six codec types. See the
// file formats section of the package doc for the rules.
type csvReader struct {
	path     string
	src      *streamSource
	sc       *csvScanner
	opts     ReadOptions
	inferred bool // column types come from inference (changes error hints)
	// inferredSchema is what inference chose (nil with a schema).
	inferredSchema *Schema

	ncols    int   // fields per record
	colField []int // file column → output field index, -1 = skipped
	fields   []Field
	schema   *arrow.Schema

	sample    []csvRecord // records read ahead for inference, replayed first
	sampleIdx int

	rb     *array.RecordBuilder
	cols   []typedBuilder
	err    error
	closed bool
}

func newCSVReader(path string, src *streamSource, opts ReadOptions) (_ *csvReader, err error) {
	r := &csvReader{path: path, src: src, opts: opts, sc: newCSVScanner(src.Reader, byte(opts.Delimiter))}
	if err := r.readHeader(); err != nil {
		return nil, err
	}
	if opts.Schema == nil {
		if err := r.infer(); err != nil {
			return nil, err
		}
	}
	if r.schema, err = (&Schema{Fields: r.fields}).ArrowSchema(MetaColumns{}); err != nil {
		return nil, fileErr(path, err)
	}
	r.rb = array.NewRecordBuilder(opts.Allocator, r.schema)
	r.cols = make([]typedBuilder, len(r.fields))
	for i, f := range r.fields {
		r.cols[i] = newTypedBuilder(f.Type, r.rb.Field(i))
	}
	return r, nil
}

// scanErr converts a scanner error into a FileError.
func (r *csvReader) scanErr(err error) error {
	var se *csvSyntaxError
	if errors.As(err, &se) {
		return lineErr(r.path, se.line, "", fmt.Errorf("%w: %s", ErrMalformedFile, se.msg))
	}
	return fileErr(r.path, err)
}

// readHeader reads the header line (or, with NoHeader, the first record)
// and decides the columns.
func (r *csvReader) readHeader() error {
	s := r.opts.Schema
	err := r.sc.next()
	if errors.Is(err, io.EOF) {
		if s == nil {
			return fileErr(r.path, fmt.Errorf("%w: the file is empty (no header line); give a schema to read an empty file", ErrMalformedFile))
		}
		r.ncols = len(s.Fields)
		r.fields = s.Fields
		r.colField = identity(len(s.Fields))
		return nil
	}
	if err != nil {
		return r.scanErr(err)
	}
	first := &r.sc.rec
	if r.opts.NoHeader {
		r.sample = append(r.sample, first.clone())
		r.ncols = first.numFields()
		if s != nil {
			r.fields = s.Fields
			r.colField = identity(len(s.Fields))
			if r.ncols != len(s.Fields) {
				return lineErr(r.path, first.line, "", fmt.Errorf("%w: the first row has %d fields but the schema has %d", ErrSchemaMismatch, r.ncols, len(s.Fields)))
			}
		} else {
			for i := 0; i < r.ncols; i++ {
				r.fields = append(r.fields, Field{Name: fmt.Sprintf("column_%d", i+1), Type: Utf8})
			}
			r.colField = identity(r.ncols)
		}
		r.sc.keepBlank = r.ncols == 1
		return nil
	}
	r.ncols = first.numFields()
	r.sc.keepBlank = r.ncols == 1
	names := make([]string, r.ncols)
	seen := make(map[string]int, r.ncols)
	for i := range names {
		name := string(first.field(i))
		if name == "" {
			name = fmt.Sprintf("column_%d", i+1)
		}
		if j, dup := seen[name]; dup {
			return lineErr(r.path, first.line, "", fmt.Errorf("%w: header names column %q twice (columns %d and %d); rename one, or read with NoHeader and a schema", ErrMalformedFile, name, j+1, i+1))
		}
		seen[name] = i
		names[i] = name
	}
	r.colField = make([]int, r.ncols)
	if s == nil {
		for i, n := range names {
			r.fields = append(r.fields, Field{Name: n, Type: Utf8})
			r.colField[i] = i
		}
		return nil
	}
	for i := range r.colField {
		r.colField[i] = -1
	}
	r.fields = s.Fields
	for j, f := range s.Fields {
		i, ok := seen[f.Name]
		if !ok {
			return lineErr(r.path, first.line, "", fmt.Errorf("%w: schema field %q is not in the header (columns: %v)", ErrUnknownField, f.Name, names))
		}
		r.colField[i] = j
	}
	return nil
}

func identity(n int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i
	}
	return ids
}

// infer reads up to SampleRows records ahead and sets each column's type to
// the one the codec inference rules choose at threshold 1.0.
func (r *csvReader) infer() error {
	r.inferred = true
	for len(r.sample) < r.opts.SampleRows {
		err := r.sc.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return r.scanErr(err)
		}
		if err := r.checkWidth(&r.sc.rec); err != nil {
			return err
		}
		r.sample = append(r.sample, r.sc.rec.clone())
	}
	// Threshold 1: choose only a type every sampled value fits, since a value
	// that does not fit is an error when the column is read.
	in := NewInferrer(InferOptions{Threshold: 1})
	names := make([]string, len(r.fields))
	for c, f := range r.fields {
		names[c] = f.Name
	}
	values := make([]string, r.ncols)
	for i := range r.sample {
		rec := &r.sample[i]
		for c := range values {
			v := rec.field(c)
			values[c] = bytesString(v)
			if !rec.quoted[c] && r.isNullMarker(v) {
				values[c] = "" // the inferrer counts an empty value as a null
			}
		}
		in.AddRow(names, values)
	}
	res := in.Result().Schema
	for c := range r.fields {
		if j := res.Index(r.fields[c].Name); j >= 0 {
			r.fields[c].Type = res.Fields[j].Type
		}
	}
	r.fields, r.inferredSchema = textFields(r.fields, r.opts)
	return nil
}

// checkWidth rejects a record whose field count differs from the header's.
func (r *csvReader) checkWidth(rec *csvRecord) error {
	if rec.numFields() == r.ncols {
		return nil
	}
	what := "the header has"
	if r.opts.NoHeader {
		what = "the first row has"
	}
	return lineErr(r.path, rec.line, "", fmt.Errorf("%w: row has %d fields but %s %d; quote values that contain the delimiter %q",
		ErrMalformedFile, rec.numFields(), what, r.ncols, r.opts.Delimiter))
}

func (r *csvReader) isNullMarker(v []byte) bool {
	for _, m := range r.opts.NullValues {
		if string(v) == m {
			return true
		}
	}
	return false
}

// bytesString views b as a string without copying. The string must not be
// kept beyond the next change of b.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// nextRecord returns the next record: sampled ones first, then new ones.
func (r *csvReader) nextRecord() (*csvRecord, error) {
	if r.sample != nil {
		if r.sampleIdx < len(r.sample) {
			r.sampleIdx++
			return &r.sample[r.sampleIdx-1], nil
		}
		r.sample = nil // replayed; the caller is done with the last one
	}
	if err := r.sc.next(); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, r.scanErr(err)
	}
	return &r.sc.rec, nil
}

func (r *csvReader) Schema() *arrow.Schema { return r.schema }

func (r *csvReader) Next() (arrow.RecordBatch, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.closed {
		return nil, fileErr(r.path, errors.New("reader is closed"))
	}
	r.rb.Reserve(min(r.opts.BatchSize, 4096))
	rows, err := fillBatch(r.opts.BatchSize, func() error {
		rec, err := r.nextRecord()
		if err != nil {
			return err
		}
		return r.appendRecord(rec)
	})
	if err != nil {
		r.err = err
		return nil, err
	}
	if rows == 0 {
		r.err = io.EOF
		return nil, io.EOF
	}
	return r.newBatch(), nil
}

// newBatch returns the built batch and reserves string data for the next
// one at this one's size, avoiding repeated buffer growth.
func (r *csvReader) newBatch() arrow.RecordBatch {
	hints := make([]int, len(r.cols))
	for i := range r.cols {
		if r.cols[i].s != nil {
			hints[i] = r.cols[i].s.DataLen()
		}
	}
	rec := r.rb.NewRecordBatch()
	for i, h := range hints {
		if h > 0 {
			r.cols[i].s.ReserveData(h)
		}
	}
	return rec
}

// appendRecord appends one record's values to the column builders.
func (r *csvReader) appendRecord(rec *csvRecord) error {
	if err := r.checkWidth(rec); err != nil {
		return err
	}
	start := 0
	for c := 0; c < r.ncols; c++ {
		end := rec.ends[c]
		v := rec.buf[start:end]
		start = end
		j := r.colField[c]
		if j < 0 {
			continue
		}
		col := &r.cols[j]
		if (len(v) == 0 && col.typ != Utf8) || (!rec.quoted[c] && r.isNullMarker(v)) {
			col.b.AppendNull()
			continue
		}
		if !col.append(bytesString(v)) {
			return lineErr(r.path, rec.line, r.fields[j].Name, r.valueErr(v, col.typ))
		}
	}
	return nil
}

func (r *csvReader) valueErr(v []byte, t Type) error {
	hint := "fix the value, or give the column another type in the schema"
	if r.inferred {
		hint = fmt.Sprintf("the type was inferred from the first %d rows; give the column's type in a schema (e.g. utf8), or sample more rows (redstage load --sample-rows)", r.opts.SampleRows)
	}
	return fmt.Errorf("%w: %q is not a valid %s (%s)", ErrInvalidValue, clip(string(v), 64), t, hint)
}

func (r *csvReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.rb != nil {
		r.rb.Release()
	}
	r.sample = nil
	if err := r.src.Close(); err != nil {
		return fileErr(r.path, err)
	}
	return nil
}
