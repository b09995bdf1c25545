package codec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Defaults of ReadOptions.
const (
	DefaultBatchSize  = 65536 // rows per record batch
	DefaultSampleRows = 10000 // CSV/NDJSON rows sampled for inference
)

// ReadOptions configure OpenReader. The zero value reads with the defaults.
type ReadOptions struct {
	Format Format // "" = from the file extension
	// Schema, if set, gives column names and types: for CSV and NDJSON it
	// replaces inference; for Parquet and IPC it selects columns (see the
	// file formats section of the package doc).
	Schema     *Schema
	BatchSize  int  // rows per record batch; 0 = DefaultBatchSize
	Delimiter  rune // CSV field separator; 0 = ',' ('\t' for .tsv/.tab)
	NullValues []string
	// NullValues are the CSV null markers (unquoted fields only); nil = {""}.
	// A non-nil empty slice has no markers: an unquoted empty field is then
	// an empty string in a utf8 column (still null in other columns).
	SampleRows int // CSV/NDJSON rows sampled for inference; 0 = DefaultSampleRows
	// Text keeps the text of CSV and NDJSON values when no Schema is given:
	// every column is utf8 holding each value exactly as the file has it
	// (a CSV field's text, a JSON string's content, a JSON number's literal,
	// true/false, nested values as compact JSON), so "007" stays "007" and
	// 1e3 stays "1e3". Inference still runs over the sample and its types
	// are reported by InferredSchema. Ignored for Parquet and Arrow and
	// when Schema is set.
	Text     bool
	NoHeader bool // CSV: the first line is data; columns are column_1, ...
	// Allocator for Arrow memory; nil = memory.DefaultAllocator.
	Allocator memory.Allocator
}

// DefaultReadOptions returns the defaults spelled out.
func DefaultReadOptions() ReadOptions {
	return ReadOptions{
		BatchSize:  DefaultBatchSize,
		Delimiter:  ',',
		NullValues: []string{""},
		SampleRows: DefaultSampleRows,
		Allocator:  memory.DefaultAllocator,
	}
}

// Validate checks the options and fills zero values with defaults for path
// (which decides the format and, for .tsv, the delimiter).
func (o *ReadOptions) Validate(path string) error {
	f, err := resolveFormat(o.Format, path)
	if err != nil {
		return err
	}
	o.Format = f
	if o.BatchSize < 0 {
		return fmt.Errorf("%w: batch size %d must not be negative", ErrInvalidOptions, o.BatchSize)
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.SampleRows < 0 {
		return fmt.Errorf("%w: sample rows %d must not be negative", ErrInvalidOptions, o.SampleRows)
	}
	if o.SampleRows == 0 {
		o.SampleRows = DefaultSampleRows
	}
	if o.Delimiter == 0 {
		o.Delimiter = ','
		if isTSV(path) {
			o.Delimiter = '\t'
		}
	}
	if err := checkDelimiter(o.Delimiter); err != nil {
		return err
	}
	if o.NullValues == nil {
		o.NullValues = []string{""}
	}
	if o.Schema != nil {
		if err := o.Schema.Validate(); err != nil {
			return err
		}
	}
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	return nil
}

func checkDelimiter(d rune) error {
	if d >= utf8.RuneSelf || d == '"' || d == '\r' || d == '\n' || d == 0 {
		return fmt.Errorf("%w: delimiter %q must be a single ASCII character other than a quote or line break", ErrInvalidOptions, d)
	}
	return nil
}

// RecordReader streams record batches from a file.
type RecordReader interface {
	// Schema is the Arrow schema of every batch.
	Schema() *arrow.Schema
	// Next returns the next non-empty batch, which the caller releases, or
	// io.EOF at the end. After an error other than io.EOF, Next keeps
	// returning that error.
	Next() (arrow.RecordBatch, error)
	// Close releases the reader's resources and closes the file. It is safe
	// to call more than once.
	Close() error
}

// InferredSchema returns the column types that inference chose for a CSV
// or NDJSON reader opened without a schema (also in Text mode, where the
// columns themselves are utf8), or nil for other readers.
func InferredSchema(r RecordReader) *Schema {
	switch x := r.(type) {
	case *csvReader:
		return x.inferredSchema
	case *ndjsonReader:
		return x.inferredSchema
	}
	return nil
}

// textFields returns the inferred fields as utf8 fields when opts.Text is
// set, remembering the inferred types.
func textFields(fields []Field, opts ReadOptions) (out []Field, inferred *Schema) {
	inferred = &Schema{Fields: append([]Field(nil), fields...)}
	if !opts.Text {
		return fields, inferred
	}
	out = make([]Field, len(fields))
	for i, f := range fields {
		out[i] = Field{Name: f.Name, Type: Utf8}
	}
	return out, inferred
}

// OpenReader opens path for streaming reads. "-" reads stdin for the
// formats that allow it (csv, ndjson, arrows; the format must then be given).
// Errors are *FileError values.
func OpenReader(path string, opts ReadOptions) (RecordReader, error) {
	if err := opts.Validate(path); err != nil {
		return nil, fileErr(path, err)
	}
	switch opts.Format {
	case FormatParquet:
		return openParquet(path, nil, opts)
	case FormatArrow:
		return openIPCFile(path, opts)
	}
	src, err := openStream(path, opts.Format)
	if err != nil {
		return nil, err
	}
	var r RecordReader
	switch opts.Format {
	case FormatCSV:
		r, err = newCSVReader(path, src, opts)
	case FormatNDJSON:
		r, err = newNDJSONReader(path, src, opts)
	case FormatArrows:
		r, err = newIPCStreamReader(path, src, opts)
	default:
		err = fileErr(path, fmt.Errorf("%w %q", ErrUnknownFormat, opts.Format))
	}
	if err != nil {
		src.Close()
		return nil, err
	}
	return r, nil
}

// readBufferSize is the size of the buffered reader over streamed input.
const readBufferSize = 1 << 20

// streamSource is buffered sequential input: a file or stdin, decompressed
// if it starts with the gzip or zstd magic number.
type streamSource struct {
	*bufio.Reader
	c   io.Closer // nil for stdin (not ours to close)
	dec func()    // releases a decompressor; nil = none
}

func (s *streamSource) Close() error {
	if s.dec != nil {
		s.dec()
		s.dec = nil
	}
	if s.c == nil {
		return nil
	}
	c := s.c
	s.c = nil
	return c.Close()
}

// Magic numbers of the compressed inputs read transparently.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompress wraps s's reader in a decompressor when its first bytes are
// the gzip or zstd magic number (neither can start a CSV, JSON or Arrow
// stream). The file extension (.gz, .zst) is not needed: stdin works too.
func (s *streamSource) decompress(path string) error {
	head, _ := s.Peek(4)
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(s.Reader)
		if err != nil {
			return fileErr(path, fmt.Errorf("%w: reading gzip input: %v", ErrMalformedFile, err))
		}
		s.Reader = bufio.NewReaderSize(&decompressErr{r: zr, what: "gzip"}, readBufferSize)
		s.dec = func() { _ = zr.Close() }
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(s.Reader, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return fileErr(path, fmt.Errorf("%w: reading zstd input: %v", ErrMalformedFile, err))
		}
		s.Reader = bufio.NewReaderSize(&decompressErr{r: zr, what: "zstd"}, readBufferSize)
		s.dec = zr.Close
	}
	return nil
}

// decompressErr marks decompression errors as a malformed file.
type decompressErr struct {
	r    io.Reader
	what string
}

func (d *decompressErr) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: decompressing %s input: %v", ErrMalformedFile, d.what, err)
	}
	return n, err
}

// openStream opens path, or stdin for "-", for sequential reading.
func openStream(path string, f Format) (*streamSource, error) {
	if path == "-" {
		if !f.Streamable() {
			return nil, fileErr(path, fmt.Errorf("%w: %s cannot be read from stdin; write it to a file and read that", ErrNotSeekable, f))
		}
		src := &streamSource{Reader: bufio.NewReaderSize(os.Stdin, readBufferSize)}
		return src, src.decompress(path)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fileErr(path, err)
	}
	src := &streamSource{Reader: bufio.NewReaderSize(fh, readBufferSize), c: fh}
	if err := src.decompress(path); err != nil {
		src.Close()
		return nil, err
	}
	return src, nil
}

// openSeekable opens path for formats that need random access.
func openSeekable(path string, f Format) (*os.File, error) {
	if path == "-" {
		return nil, fileErr(path, fmt.Errorf("%w: %s cannot be read from stdin; write it to a file and read that", ErrNotSeekable, f))
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fileErr(path, err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fileErr(path, err)
	}
	if !st.Mode().IsRegular() {
		fh.Close()
		return nil, fileErr(path, fmt.Errorf("%w: %s is not a regular file (a pipe?); %s needs a seekable file", ErrNotSeekable, path, f))
	}
	return fh, nil
}

// fillBatch calls step until it has appended max rows or step returns
// io.EOF, and says how many rows were appended. It is the batching loop of
// the row-at-a-time readers (CSV, NDJSON).
func fillBatch(max int, step func() error) (int, error) {
	rows := 0
	for rows < max {
		err := step()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rows, err
		}
		rows++
	}
	return rows, nil
}
