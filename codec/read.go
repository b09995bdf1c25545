package codec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
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
	SampleRows int  // CSV/NDJSON rows sampled for inference; 0 = DefaultSampleRows
	NoHeader   bool // CSV: the first line is data; columns are column_1, ...
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

// streamSource is buffered sequential input: a file or stdin.
type streamSource struct {
	*bufio.Reader
	c io.Closer // nil for stdin (not ours to close)
}

func (s *streamSource) Close() error {
	if s.c == nil {
		return nil
	}
	c := s.c
	s.c = nil
	return c.Close()
}

// openStream opens path, or stdin for "-", for sequential reading.
func openStream(path string, f Format) (*streamSource, error) {
	if path == "-" {
		if !f.Streamable() {
			return nil, fileErr(path, fmt.Errorf("%w: %s cannot be read from stdin; write it to a file and read that", ErrNotSeekable, f))
		}
		return &streamSource{Reader: bufio.NewReaderSize(os.Stdin, readBufferSize)}, nil
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fileErr(path, err)
	}
	return &streamSource{Reader: bufio.NewReaderSize(fh, readBufferSize), c: fh}, nil
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
