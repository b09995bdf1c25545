package codec

import (
	"fmt"
	"strings"
)

// FileError reports a problem reading or writing a file, naming the file and
// where in it: a 1-based line for CSV and NDJSON, a 0-based row group for
// Parquet. Err says what is wrong and what to do; it wraps a sentinel of this
// package (ErrMalformedFile, ErrInvalidValue, ...) or an I/O error.
type FileError struct {
	Path     string // file path; "-" is stdin or stdout
	Line     int    // 1-based line (CSV, NDJSON); 0 if not known or not applicable
	RowGroup int    // 0-based Parquet row group; -1 if not applicable
	Column   string // column name, if the error is about one value
	Err      error
}

func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(displayPath(e.Path))
	if e.Line > 0 {
		fmt.Fprintf(&b, " line %d", e.Line)
	}
	if e.RowGroup >= 0 {
		fmt.Fprintf(&b, " row group %d", e.RowGroup)
	}
	if e.Column != "" {
		fmt.Fprintf(&b, " column %q", e.Column)
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("unknown error")
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *FileError) Unwrap() error { return e.Err }

func displayPath(p string) string {
	if p == "-" {
		return "stdin/stdout (-)"
	}
	if p == "" {
		return "input"
	}
	return p
}

// fileErr returns a FileError about the whole file.
func fileErr(path string, err error) *FileError {
	return &FileError{Path: path, RowGroup: -1, Err: err}
}

// lineErr returns a FileError about one line (and optionally one column).
func lineErr(path string, line int, column string, err error) *FileError {
	return &FileError{Path: path, Line: line, RowGroup: -1, Column: column, Err: err}
}

// rowGroupErr returns a FileError about one Parquet row group.
func rowGroupErr(path string, rg int, err error) *FileError {
	return &FileError{Path: path, RowGroup: rg, Err: err}
}
