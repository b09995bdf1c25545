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
	"csv": FormatCSV, "tsv": FormatCSV, "tab": FormatCSV,
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

// ParseFormat parses a format name, case-insensitively: csv (tsv, tab:
// see FormatDelimiter),
// parquet (pq), ndjson (jsonl, json, jsonlines), arrow (ipc, feather,
// arrow-file), arrows (arrow-stream, stream).
func ParseFormat(s string) (Format, error) {
	if f, ok := formatAliases[strings.ToLower(strings.TrimSpace(s))]; ok {
		return f, nil
	}
	return "", fmt.Errorf("%w %q (want one of csv, parquet, ndjson, arrow, arrows)", ErrUnknownFormat, clip(s, 40))
}

// compressionExts are the extensions of compressed input: a file named
// x.csv.gz is gzip-compressed CSV.
var compressionExts = map[string]string{".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}

// splitCompression returns path's extension (lower case) under any
// compression extension, and the compression it names ("" = none).
func splitCompression(path string) (ext, compression string) {
	ext = strings.ToLower(filepath.Ext(path))
	if c, ok := compressionExts[ext]; ok {
		return strings.ToLower(filepath.Ext(strings.TrimSuffix(path, filepath.Ext(path)))), c
	}
	return ext, ""
}

// FormatFromPath returns the format implied by the file name extension
// (case-insensitive): .csv .tsv .tab → csv; .parquet .pq → parquet;
// .ndjson .jsonl .json → ndjson; .arrow .feather .ipc → arrow (IPC file);
// .arrows → arrows (IPC stream). A trailing .gz, .gzip, .zst or .zstd
// names a compressed file of the streamed formats (x.csv.gz, x.ndjson.zst);
// Parquet and Arrow files compress internally and are refused compressed.
// "-" (stdin/stdout) has no extension: give the format explicitly.
func FormatFromPath(path string) (Format, error) {
	if path == "-" {
		return "", fmt.Errorf("%w: cannot tell the format of stdin/stdout (\"-\"): give the format explicitly (csv, ndjson, arrows, ...)", ErrUnknownFormat)
	}
	ext, comp := splitCompression(path)
	if f, ok := extFormats[ext]; ok {
		if comp != "" && !f.Streamable() {
			return "", fmt.Errorf("%w: %s is %s-compressed %s; only csv, ndjson and arrows files are read compressed (decompress it first; %s compresses internally)", ErrUnknownFormat, path, comp, f, f)
		}
		return f, nil
	}
	if comp != "" {
		return "", fmt.Errorf("%w: %s is %s-compressed but its inner extension %q is not one of .csv .tsv .ndjson .jsonl .json .arrows: give the format explicitly", ErrUnknownFormat, path, comp, ext)
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

// isTSV reports whether path names a tab-separated file (x.tsv, x.tab,
// also compressed: x.tsv.gz).
func isTSV(path string) bool {
	ext, _ := splitCompression(path)
	return ext == ".tsv" || ext == ".tab"
}

// IsTSV reports whether path names a tab-separated file by its extension
// (.tsv or .tab, also under .gz/.zst).
func IsTSV(path string) bool { return isTSV(path) }

// FormatDelimiter returns the CSV delimiter a format name implies: tab for
// "tsv" and "tab", 0 (the default) for every other name. ParseFormat maps
// "tsv" to csv; callers pass the delimiter with it.
func FormatDelimiter(name string) rune {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "tsv", "tab":
		return '\t'
	}
	return 0
}
