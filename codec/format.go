package codec

// File formats
//
// The file side of codec reads and writes five formats. Readers stream:
// memory is bounded by the batch size (and, for CSV and NDJSON, the
// inference sample), never by the file size.
//
//	format   extensions                 read "-" (stdin)   write "-" (stdout)
//	csv      .csv .tsv .tab (tab)       yes                yes
//	ndjson   .ndjson .jsonl .json       yes                yes
//	parquet  .parquet .pq               no (needs seek)    yes
//	arrow    .arrow .feather .ipc       no (needs seek)    yes
//	arrows   .arrows                    yes                yes
//
// CSV. The first line is the header unless NoHeader (then columns are named
// column_1, column_2, ...; an empty header name also becomes column_N).
// Fields are separated by Delimiter (',' by default, tab for .tsv/.tab; any
// ASCII character but a quote or line break) and may be quoted with '"': a
// doubled quote is a literal quote, and quoted fields may contain the
// delimiter and line breaks. A quote inside an unquoted field is literal
// text; text after a closing quote is an error. A UTF-8 byte-order mark is
// skipped; CRLF line ends are accepted. Blank lines are skipped, except in a
// one-column file, where a blank line is a null. Null markers (NullValues,
// default: the empty string) apply to unquoted fields only: a quoted field is
// always its literal text, so `,,` is a null and `,"",` an empty string. In a
// non-utf8 column an empty field, quoted or not, is null.
//
// Without a schema, each column's type is inferred over the first
// SampleRows data rows (default 10000) by the codec inference rules at
// threshold 1.0, so a column only gets a type that every sampled value
// parses as (int64, then bool, float64, date, datetime; else utf8; all-null
// columns are utf8). Every value is then parsed with the rules used for
// Redis values (ParseInt64, ...). A value that does not parse as its
// column's type is an error naming file, line and column: a load never
// drops data silently. Give the column's type in a schema (ReadOptions.Schema)
// or sample more rows. A row with a different number of fields than the
// header is an error naming its line. With a schema and a header, columns
// are matched by name (header columns not in the schema are not read; a
// schema field missing from the header is an error); without a header the
// schema names the columns in order.
//
// NDJSON. One JSON object per line; blank lines are skipped. Without a
// schema, the columns are the keys of the first SampleRows lines in order of
// first appearance, typed by their JSON kinds: all booleans → bool; all
// numbers → int64 if every one is an integer that fits, else float64 (the
// strings "nan", "inf", "-inf" count as numbers, since JSON has no literal
// for them); all strings → date if every one is YYYY-MM-DD, datetime if every
// one is a datetime (a bare integer string is not), else utf8; mixed kinds,
// and nested objects or arrays (kept as compact JSON text) → utf8. So JSON
// strings stay strings ("00123" is not turned into 123). A key first seen
// after the sample is an error (give a schema, or sample more lines). With a
// schema, keys not in it are not read, and each value's text (a string's
// content, a number's literal, true/false) is parsed by the codec rules, so
// "42" loads into an int64 column. null, a missing key, and "" in a non-utf8
// column are null. A value that does not parse is an error naming the line.
//
// Parquet and Arrow IPC carry their own types: columns are read as stored
// (MapArrowType maps the other Arrow types onto the six when they are
// written to Redis). With a schema, only its fields are read, in schema
// order, and a column whose stored type maps to another codec type than the
// schema says is an error. Parquet is read row group by row group
// (ParquetRowGroups, OpenParquetRowGroups), so independent workers can each
// take some groups. The arrows reader also accepts an IPC file (it skips
// the leading magic), e.g. one piped to stdin.
//
// Writers. CSV writes a header line and each value in the codec text form
// (int64 decimal, float64 shortest round-trip form with nan/inf/-inf, bool
// true/false, date YYYY-MM-DD, datetime RFC 3339 UTC); a null is an empty
// unquoted field and an empty string is written "", so files read back
// identically. NDJSON writes int64, float64 and bool values as JSON literals
// (non-finite floats as the strings "nan", "inf", "-inf"), every other value
// as a JSON string in the codec text form, and nulls as null. Other Arrow
// types are written by the same rules as to Redis (FormatCell). Parquet is
// zstd-compressed, with the Arrow schema stored (time zones survive), in row
// groups of RowGroupRows rows (default 256Ki). Arrow IPC file and stream are
// uncompressed by default (readable everywhere); WriteOptions.Compression
// selects zstd or lz4. A file is complete only when Close returns nil.
//
// Errors are *FileError values naming the file and the line (CSV, NDJSON)
// or row group (Parquet), and the column for a bad value; they wrap
// ErrMalformedFile, ErrInvalidValue, ErrUnknownField, ErrSchemaMismatch,
// ErrNotSeekable, ErrUnknownFormat or ErrInvalidOptions.

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Format names a file format.
type Format string

// The supported formats.
const (
	FormatCSV     Format = "csv"
	FormatParquet Format = "parquet"
	FormatNDJSON  Format = "ndjson"
	FormatArrow   Format = "arrow"  // Arrow IPC file (random access; also called Feather v2)
	FormatArrows  Format = "arrows" // Arrow IPC stream
)

// Formats lists every supported format.
var Formats = []Format{FormatCSV, FormatParquet, FormatNDJSON, FormatArrow, FormatArrows}

var formatAliases = map[string]Format{
	"csv": FormatCSV, "tsv": FormatCSV,
	"parquet": FormatParquet, "pq": FormatParquet,
	"ndjson": FormatNDJSON, "jsonl": FormatNDJSON, "json": FormatNDJSON, "jsonlines": FormatNDJSON,
	"arrow": FormatArrow, "ipc": FormatArrow, "feather": FormatArrow, "arrow-file": FormatArrow,
	"arrows": FormatArrows, "arrow-stream": FormatArrows, "stream": FormatArrows,
}

var extFormats = map[string]Format{
	".csv": FormatCSV, ".tsv": FormatCSV, ".tab": FormatCSV,
	".parquet": FormatParquet, ".pq": FormatParquet,
	".ndjson": FormatNDJSON, ".jsonl": FormatNDJSON, ".json": FormatNDJSON,
	".arrow": FormatArrow, ".feather": FormatArrow, ".ipc": FormatArrow,
	".arrows": FormatArrows,
}

// ParseFormat parses a format name, case-insensitively: csv (tsv),
// parquet (pq), ndjson (jsonl, json, jsonlines), arrow (ipc, feather,
// arrow-file), arrows (arrow-stream, stream).
func ParseFormat(s string) (Format, error) {
	if f, ok := formatAliases[strings.ToLower(strings.TrimSpace(s))]; ok {
		return f, nil
	}
	return "", fmt.Errorf("%w %q (want one of csv, parquet, ndjson, arrow, arrows)", ErrUnknownFormat, clip(s, 40))
}

// FormatFromPath returns the format implied by the file name extension
// (case-insensitive): .csv .tsv .tab → csv; .parquet .pq → parquet;
// .ndjson .jsonl .json → ndjson; .arrow .feather .ipc → arrow (IPC file);
// .arrows → arrows (IPC stream). "-" (stdin/stdout) has no extension: give
// the format explicitly.
func FormatFromPath(path string) (Format, error) {
	if path == "-" {
		return "", fmt.Errorf("%w: cannot tell the format of stdin/stdout (\"-\"): give the format explicitly (csv, ndjson, arrows, ...)", ErrUnknownFormat)
	}
	ext := strings.ToLower(filepath.Ext(path))
	if f, ok := extFormats[ext]; ok {
		return f, nil
	}
	if ext == "" {
		return "", fmt.Errorf("%w: %s has no file extension: give the format explicitly (csv, parquet, ndjson, arrow, arrows)", ErrUnknownFormat, path)
	}
	return "", fmt.Errorf("%w: extension %q of %s is not one of .csv .tsv .parquet .pq .ndjson .jsonl .json .arrow .feather .ipc .arrows: give the format explicitly", ErrUnknownFormat, ext, path)
}

// String returns the format name.
func (f Format) String() string { return string(f) }

// Valid reports whether f is one of the supported formats.
func (f Format) Valid() bool {
	switch f {
	case FormatCSV, FormatParquet, FormatNDJSON, FormatArrow, FormatArrows:
		return true
	}
	return false
}

// Streamable reports whether the format can be read from a pipe (stdin):
// csv, ndjson and arrows can; parquet and arrow (IPC file) need a seekable
// file because their metadata is at the end. Every format can be written
// to a pipe.
func (f Format) Streamable() bool {
	return f == FormatCSV || f == FormatNDJSON || f == FormatArrows
}

// resolveFormat returns f if set, else the format implied by path.
func resolveFormat(f Format, path string) (Format, error) {
	if f == "" {
		return FormatFromPath(path)
	}
	if !f.Valid() {
		return ParseFormat(string(f))
	}
	return f, nil
}

// isTSV reports whether path names a tab-separated file.
func isTSV(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".tsv" || ext == ".tab"
}
