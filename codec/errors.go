package codec

import (
	"errors"
	"fmt"
)

// Sentinel errors of package codec. Errors returned by the package wrap one
// of these (test with errors.Is) and add context naming the input.
var (
	// ErrUnknownType: a type name that is not one of the six codec types or
	// their documented aliases.
	ErrUnknownType = errors.New("unknown type")

	// ErrInvalidSchema: a schema spec, schema file or field list that is
	// malformed (empty, duplicate or empty names, bad JSON, ...).
	ErrInvalidSchema = errors.New("invalid schema")

	// ErrColumnCollision: a schema field (or Arrow column) has the same name
	// as a metadata column (_key, _ttl, _index or their configured names),
	// or two metadata columns share a name.
	ErrColumnCollision = errors.New("column name collision")

	// ErrUnknownField: a field name that the schema or inference does not have.
	ErrUnknownField = errors.New("unknown field")

	// ErrInvalidValue: a present value that does not parse under its field's
	// type (Strict mode), see ParseError.
	ErrInvalidValue = errors.New("invalid value")

	// ErrUnsupportedType: an Arrow column type that has no mapping to a codec
	// type (lists, structs, maps, unions, ...).
	ErrUnsupportedType = errors.New("unsupported column type")

	// ErrOutOfRange: a value that cannot be represented in its codec type
	// (for example a uint64 above math.MaxInt64, or a timestamp in seconds
	// beyond the microsecond range of int64).
	ErrOutOfRange = errors.New("value out of range")

	// ErrInvalidUTF8: a binary cell that is not valid UTF-8 and so cannot be
	// written as a utf8 value.
	ErrInvalidUTF8 = errors.New("invalid UTF-8")

	// ErrInvalidEscape: text in the escaped form (EscapeBytes) with a
	// backslash that starts neither \\ nor \xHH.
	ErrInvalidEscape = errors.New("invalid escape")

	// ErrSchemaMismatch: a record batch whose columns do not match the
	// schema a RowEncoder or RecordBuilder was built for.
	ErrSchemaMismatch = errors.New("schema mismatch")

	// ErrInvalidState: a serialized Inferrer state that cannot be restored
	// (malformed JSON or inconsistent counts).
	ErrInvalidState = errors.New("invalid inferrer state")
)

// ParseError reports a present hash field value that does not parse under
// the field's type. RecordBuilder returns it in Strict mode.
type ParseError struct {
	Key   string // Redis key of the hash
	Field string // field (column) name
	Value string // the raw value
	Want  Type   // the type the schema asks for
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("key %q field %q: value %q is not a valid %s", e.Key, e.Field, clip(e.Value, 64), e.Want)
}

// Unwrap returns ErrInvalidValue.
func (e *ParseError) Unwrap() error { return ErrInvalidValue }

// SpecError reports a problem in a schema spec ("name:utf8,age:int64") or a
// schema file, naming the entry (1-based), its byte offset in the spec and
// the offending text.
type SpecError struct {
	Source string // "schema spec" or the schema file path
	Entry  int    // 1-based entry (field) number; 0 if not about one entry
	Offset int    // byte offset of the entry in the spec; -1 if unknown
	Text   string // the offending entry text
	Msg    string // what is wrong and how to fix it
	Err    error  // sentinel (ErrInvalidSchema, ErrUnknownType, ...)
}

func (e *SpecError) Error() string {
	src := e.Source
	if src == "" {
		src = "schema spec"
	}
	switch {
	case e.Entry > 0 && e.Offset >= 0:
		return fmt.Sprintf("%s: entry %d %q (byte %d): %s", src, e.Entry, clip(e.Text, 64), e.Offset, e.Msg)
	case e.Entry > 0:
		return fmt.Sprintf("%s: field %d %q: %s", src, e.Entry, clip(e.Text, 64), e.Msg)
	default:
		return fmt.Sprintf("%s: %s", src, e.Msg)
	}
}

// Unwrap returns the sentinel error.
func (e *SpecError) Unwrap() error { return e.Err }

// clip shortens s for error messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Do not cut in the middle of a UTF-8 sequence.
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}

// Sentinel errors of the file side (format.go, read_*.go, write_*.go, frame.go).
var (
	// ErrUnknownFormat: a file format name or extension that is not one of
	// csv, parquet, ndjson, arrow, arrows.
	ErrUnknownFormat = errors.New("unknown file format")

	// ErrMalformedFile: a file that is not valid in its format (bad CSV
	// quoting, a ragged row, a line that is not a JSON object, a corrupt
	// Parquet or IPC file).
	ErrMalformedFile = errors.New("malformed file")

	// ErrNotSeekable: a format that needs random access (parquet, arrow IPC
	// file) was asked to read from stdin or a pipe.
	ErrNotSeekable = errors.New("format needs a seekable file")

	// ErrInvalidOptions: read or write options that cannot be used (a
	// delimiter that is a quote or newline, a bad row group index, ...).
	ErrInvalidOptions = errors.New("invalid options")

	// ErrRowTooLarge: a single row whose IPC frame exceeds the frame size
	// limit, so it cannot be sent in one message.
	ErrRowTooLarge = errors.New("row too large for frame limit")
)
