package codec

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
