package codec

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// maxNDJSONLineBytes bounds one NDJSON line.
const maxNDJSONLineBytes = 64 << 20

// JSON value kinds.
type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonNested // object or array
)

// jsonValue is one member value of a line's object.
type jsonValue struct {
	kind jsonKind
	raw  []byte // the JSON text, valid until the next line
}

// ndjsonLine is a sampled line, kept for replay after inference.
type ndjsonLine struct {
	line int
	text []byte
}

// ndjsonReader reads NDJSON (one object per line) into record batches of
// the six codec types. See the file formats section of the package doc.
type ndjsonReader struct {
	path     string
	src      *streamSource
	opts     ReadOptions
	inferred bool
	// inferredSchema is what inference chose (nil with a schema).
	inferredSchema *Schema

	lineNo   int // line of the value being read (for errors)
	fileLine int // lines consumed from the file
	lineBuf  []byte

	fields []Field
	index  map[string]int // field name → index
	schema *arrow.Schema

	sample    []ndjsonLine
	sampleIdx int

	vals   []jsonValue // per field, for the current line
	set    []bool
	text   []byte // scratch for unescaped strings and compacted JSON
	rb     *array.RecordBuilder
	cols   []typedBuilder
	err    error
	closed bool
}

func newNDJSONReader(path string, src *streamSource, opts ReadOptions) (_ *ndjsonReader, err error) {
	r := &ndjsonReader{path: path, src: src, opts: opts}
	if opts.Schema != nil {
		r.fields = opts.Schema.Fields
	} else if err := r.infer(); err != nil {
		return nil, err
	}
	r.index = make(map[string]int, len(r.fields))
	for i, f := range r.fields {
		r.index[f.Name] = i
	}
	if r.schema, err = (&Schema{Fields: r.fields}).ArrowSchema(MetaColumns{}); err != nil {
		return nil, fileErr(path, err)
	}
	r.vals = make([]jsonValue, len(r.fields))
	r.set = make([]bool, len(r.fields))
	r.rb = array.NewRecordBuilder(opts.Allocator, r.schema)
	r.cols = make([]typedBuilder, len(r.fields))
	for i, f := range r.fields {
		r.cols[i] = newTypedBuilder(f.Type, r.rb.Field(i))
	}
	return r, nil
}

// readLine returns the next non-blank line without its line end, or io.EOF.
func (r *ndjsonReader) readLine() ([]byte, error) {
	for {
		line, err := r.src.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			r.lineBuf = append(r.lineBuf[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				if len(r.lineBuf) > maxNDJSONLineBytes {
					return nil, lineErr(r.path, r.fileLine+1, "", fmt.Errorf("%w: line is longer than %d MiB", ErrMalformedFile, maxNDJSONLineBytes>>20))
				}
				line, err = r.src.ReadSlice('\n')
				r.lineBuf = append(r.lineBuf, line...)
			}
			line = r.lineBuf
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, fileErr(r.path, err)
		}
		r.fileLine++
		r.lineNo = r.fileLine
		if r.fileLine == 1 {
			line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			return t, nil
		}
	}
}

// infer samples up to SampleRows lines and derives the columns and types.
func (r *ndjsonReader) infer() error {
	r.inferred = true
	stats := map[string]*jsonStats{}
	var order []string
	for len(r.sample) < r.opts.SampleRows {
		line, err := r.readLine()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		err = r.scanLine(line, func(key []byte, v jsonValue) error {
			st := stats[string(key)]
			if st == nil {
				st = &jsonStats{}
				stats[string(key)] = st
				order = append(order, string(key))
			}
			st.add(v)
			return nil
		})
		if err != nil {
			return err
		}
		r.sample = append(r.sample, ndjsonLine{line: r.lineNo, text: append([]byte(nil), line...)})
	}
	if len(order) == 0 {
		if len(r.sample) == 0 {
			return fileErr(r.path, fmt.Errorf("%w: the file has no JSON lines; give a schema to read an empty file", ErrMalformedFile))
		}
		return fileErr(r.path, fmt.Errorf("%w: the sampled lines are all empty objects; give a schema", ErrMalformedFile))
	}
	for _, k := range order {
		r.fields = append(r.fields, Field{Name: k, Type: stats[k].choose()})
	}
	if err := (&Schema{Fields: r.fields}).Validate(); err != nil {
		return fileErr(r.path, err)
	}
	r.fields, r.inferredSchema = textFields(r.fields, r.opts)
	return nil
}

// jsonStats counts the kinds of one key's sampled values.
type jsonStats struct {
	nonNull, bools, ints, floats, nonFinite, strings, dates, datetimes int
}

func (s *jsonStats) add(v jsonValue) {
	switch v.kind {
	case jsonNull:
		return
	case jsonBool:
		s.bools++
	case jsonNumber:
		if _, ok := ParseInt64(string(v.raw)); ok {
			s.ints++
		} else {
			s.floats++
		}
	case jsonString:
		str, _, _ := jsonStringValue(v.raw, nil)
		if len(str) == 0 {
			return // an empty string counts as a null, as in the inferrer
		}
		s.strings++
		txt := string(str)
		if f, ok := ParseFloat64(txt); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			s.nonFinite++
		}
		if _, ok := ParseDate(txt); ok {
			s.dates++
		}
		if _, ok := ParseDatetime(txt); ok {
			if _, isInt := ParseInt64(txt); !isInt {
				s.datetimes++
			}
		}
	case jsonNested:
		// counts only towards nonNull: a nested value makes the column utf8
	}
	s.nonNull++
}

func (s *jsonStats) choose() Type {
	numbers := s.ints + s.floats
	switch {
	case s.nonNull == 0:
		return Utf8
	case s.bools == s.nonNull:
		return Bool
	case numbers > 0 && numbers+s.nonFinite == s.nonNull:
		if s.floats+s.nonFinite == 0 {
			return Int64
		}
		return Float64
	case s.strings == s.nonNull && s.dates == s.nonNull:
		return Date
	case s.strings == s.nonNull && s.datetimes == s.nonNull:
		return Datetime
	}
	return Utf8
}

// scanLine validates line as one JSON object and calls fn for each member.
func (r *ndjsonReader) scanLine(line []byte, fn func(key []byte, v jsonValue) error) error {
	if !json.Valid(line) {
		var x any
		err := json.Unmarshal(line, &x)
		hint := ""
		switch line[0] {
		case '[':
			hint = "; the file looks like a JSON array spread over lines, but each line must be one whole JSON object (convert with: jq -c '.[]' FILE > FILE.ndjson)"
		case '{':
			hint = "; each line must be one whole JSON object, and this one does not end on its line (pretty-printed JSON? convert with: jq -c . FILE > FILE.ndjson)"
		}
		return lineErr(r.path, r.lineNo, "", fmt.Errorf("%w: not valid JSON: %v%s", ErrMalformedFile, err, hint))
	}
	if line[0] != '{' {
		hint := "each line must be one JSON object"
		if line[0] == '[' {
			hint = "each line must be one JSON object; this looks like a JSON array (convert with: jq -c '.[]')"
		}
		return lineErr(r.path, r.lineNo, "", fmt.Errorf("%w: %s", ErrMalformedFile, hint))
	}
	return scanObject(line, func(key []byte, v jsonValue) error {
		if bytes.IndexByte(key, '\\') >= 0 {
			var err error
			if key, _, err = jsonStringValue(append(append([]byte{'"'}, key...), '"'), nil); err != nil {
				return lineErr(r.path, r.lineNo, "", fmt.Errorf("%w: %v", ErrMalformedFile, err))
			}
		}
		return fn(key, v)
	})
}

// scanObject walks the members of a JSON object that json.Valid accepted,
// passing each key (raw, without quotes) and value.
func scanObject(b []byte, fn func(key []byte, v jsonValue) error) error {
	i := skipJSONSpace(b, 0) + 1 // past '{'
	i = skipJSONSpace(b, i)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for i < len(b) {
		kEnd := endJSONString(b, i)
		key := b[i+1 : kEnd-1]
		i = skipJSONSpace(b, kEnd) + 1 // past ':'
		i = skipJSONSpace(b, i)
		vEnd := endJSONValue(b, i)
		v := jsonValue{raw: b[i:vEnd]}
		switch b[i] {
		case 'n':
			v.kind = jsonNull
		case 't', 'f':
			v.kind = jsonBool
		case '"':
			v.kind = jsonString
		case '{', '[':
			v.kind = jsonNested
		default:
			v.kind = jsonNumber
		}
		if err := fn(key, v); err != nil {
			return err
		}
		i = skipJSONSpace(b, vEnd)
		if i >= len(b) || b[i] == '}' {
			return nil
		}
		i = skipJSONSpace(b, i+1) // past ','
	}
	return nil
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// endJSONString returns the index just past the string starting at b[i].
func endJSONString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// endJSONValue returns the index just past the value starting at b[i].
func endJSONValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return endJSONString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = endJSONString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\r' && b[j] != '\n' {
		j++
	}
	return j
}

// jsonStringValue returns the content of the JSON string raw (with quotes),
// unescaped: a subslice of raw if it has no escapes, else the result
// appended to scratch[:0] (usedScratch).
func jsonStringValue(raw, scratch []byte) (_ []byte, usedScratch bool, _ error) {
	if len(raw) < 2 {
		return nil, false, errors.New("bad JSON string")
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner, false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, false, err
	}
	return append(scratch[:0], s...), true, nil
}

// valueText returns the codec text of v: a string's content, a number's
// literal, true/false, or compact JSON for nested values.
func (r *ndjsonReader) valueText(v jsonValue) ([]byte, error) {
	switch v.kind {
	case jsonString:
		t, scratch, err := jsonStringValue(v.raw, r.text)
		if scratch {
			r.text = t[:0]
		}
		return t, err
	case jsonNested:
		var buf bytes.Buffer
		if err := json.Compact(&buf, v.raw); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	return v.raw, nil
}

// nextLine returns the next line: sampled ones first, then new ones.
func (r *ndjsonReader) nextLine() ([]byte, error) {
	if r.sample != nil {
		if r.sampleIdx < len(r.sample) {
			l := &r.sample[r.sampleIdx]
			r.sampleIdx++
			r.lineNo = l.line
			return l.text, nil
		}
		r.sample = nil
	}
	return r.readLine()
}

func (r *ndjsonReader) Schema() *arrow.Schema { return r.schema }

func (r *ndjsonReader) Next() (arrow.RecordBatch, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.closed {
		return nil, fileErr(r.path, errors.New("reader is closed"))
	}
	rows, err := fillBatch(r.opts.BatchSize, func() error {
		line, err := r.nextLine()
		if err != nil {
			return err
		}
		return r.appendLine(line)
	})
	if err != nil {
		r.err = err
		return nil, err
	}
	if rows == 0 {
		r.err = io.EOF
		return nil, io.EOF
	}
	return r.rb.NewRecordBatch(), nil
}

func (r *ndjsonReader) appendLine(line []byte) error {
	for i := range r.set {
		r.set[i] = false
	}
	err := r.scanLine(line, func(key []byte, v jsonValue) error {
		j, ok := r.index[string(key)]
		if !ok {
			if r.inferred {
				return lineErr(r.path, r.lineNo, string(key), fmt.Errorf("%w: key %q is not among the columns inferred from the first %d lines; give a schema, or sample more lines (redstage load --sample-rows)", ErrUnknownField, clip(string(key), 64), r.opts.SampleRows))
			}
			return nil // not in the given schema: not read
		}
		r.vals[j], r.set[j] = v, true
		return nil
	})
	if err != nil {
		return err
	}
	for j := range r.cols {
		col := &r.cols[j]
		v := r.vals[j]
		if !r.set[j] || v.kind == jsonNull {
			col.b.AppendNull()
			continue
		}
		text, err := r.valueText(v)
		if err != nil {
			return lineErr(r.path, r.lineNo, r.fields[j].Name, fmt.Errorf("%w: %v", ErrMalformedFile, err))
		}
		if len(text) == 0 && col.typ != Utf8 {
			col.b.AppendNull()
			continue
		}
		if !col.append(bytesString(text)) {
			hint := "fix the value, or give the column another type in the schema"
			if r.inferred {
				hint = fmt.Sprintf("the type was inferred from the first %d lines; give the column's type in a schema (e.g. utf8), or sample more lines (redstage load --sample-rows)", r.opts.SampleRows)
			}
			return lineErr(r.path, r.lineNo, r.fields[j].Name, fmt.Errorf("%w: %s is not a valid %s (%s)", ErrInvalidValue, clip(string(v.raw), 64), col.typ, hint))
		}
	}
	return nil
}

func (r *ndjsonReader) Close() error {
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
