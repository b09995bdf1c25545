package codec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// DefaultRowGroupRows is the default number of rows per Parquet row group:
// small enough that a large file cuts into many independent chunks, large
// enough for good compression.
const DefaultRowGroupRows = 256 * 1024

// WriteOptions configure NewRecordWriter and CreateRecordWriter. The zero
// value writes with the defaults.
type WriteOptions struct {
	Format    Format // "" = from the file extension (CreateRecordWriter only)
	Delimiter rune   // CSV field separator; 0 = ',' ('\t' for .tsv/.tab)
	// Compression of Arrow IPC output ("" = none, zstd, lz4). Parquet is
	// always zstd.
	Compression Compression
	// RowGroupRows is the Parquet row group size in rows; 0 = DefaultRowGroupRows.
	RowGroupRows int
	// Allocator for Arrow memory used while writing; nil = memory.DefaultAllocator.
	Allocator memory.Allocator
}

// Validate checks the options and fills zero values with defaults for path
// ("" when writing to an io.Writer).
func (o *WriteOptions) Validate(path string) error {
	if o.Format == "" && path == "" {
		return fmt.Errorf("%w: no format given", ErrUnknownFormat)
	}
	f, err := resolveFormat(o.Format, path)
	if err != nil {
		return err
	}
	o.Format = f
	if o.Delimiter == 0 {
		o.Delimiter = ','
		if isTSV(path) {
			o.Delimiter = '\t'
		}
	}
	if err := checkDelimiter(o.Delimiter); err != nil {
		return err
	}
	if _, err := o.Compression.ipcOptions(); err != nil {
		return err
	}
	if o.RowGroupRows < 0 {
		return fmt.Errorf("%w: row group size %d must not be negative", ErrInvalidOptions, o.RowGroupRows)
	}
	if o.RowGroupRows == 0 {
		o.RowGroupRows = DefaultRowGroupRows
	}
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	return nil
}

// RecordWriter writes record batches to a file.
type RecordWriter interface {
	// Write appends the rows of rec, whose schema must equal the writer's.
	// It does not keep rec after returning.
	Write(arrow.RecordBatch) error
	// Close flushes buffered data, writes the format's footer (Parquet, IPC
	// file) and closes the file it opened. It is safe to call more than
	// once; the file is complete only if Close returns nil.
	Close() error
}

// NewRecordWriter writes s-shaped record batches in opts.Format to w. It
// does not close w.
func NewRecordWriter(w io.Writer, s *arrow.Schema, opts WriteOptions) (RecordWriter, error) {
	if err := opts.Validate(""); err != nil {
		return nil, err
	}
	return newWriter("", w, nil, s, opts)
}

// CreateRecordWriter creates (or truncates) path and writes s-shaped record
// batches to it in opts.Format (default: from the extension). "-" writes to
// stdout (the format must then be given). Errors are *FileError values.
func CreateRecordWriter(path string, s *arrow.Schema, opts WriteOptions) (RecordWriter, error) {
	if err := opts.Validate(path); err != nil {
		return nil, fileErr(path, err)
	}
	if path == "-" {
		return newWriter(path, os.Stdout, nil, s, opts)
	}
	fh, err := os.Create(path)
	if err != nil {
		return nil, fileErr(path, err)
	}
	w, err := newWriter(path, fh, fh, s, opts)
	if err != nil {
		fh.Close()
		return nil, err
	}
	return w, nil
}

// newWriter builds the format writer over a buffered w; c (if not nil) is
// closed by Close.
func newWriter(path string, w io.Writer, c io.Closer, s *arrow.Schema, opts WriteOptions) (RecordWriter, error) {
	out := &outFile{path: path, bw: bufio.NewWriterSize(w, 1<<20), c: c}
	var (
		fw  formatWriter
		err error
	)
	switch opts.Format {
	case FormatCSV:
		fw, err = newCSVWriter(out.bw, s, opts)
	case FormatNDJSON:
		fw, err = newNDJSONWriter(out.bw, s, opts)
	case FormatParquet:
		fw, err = newParquetWriter(out.bw, s, opts)
	case FormatArrow, FormatArrows:
		fw, err = newIPCWriter(out.bw, s, opts)
	default:
		err = fmt.Errorf("%w %q", ErrUnknownFormat, opts.Format)
	}
	if err != nil {
		return nil, fileErr(path, err)
	}
	out.fw = fw
	out.schema = s
	return out, nil
}

// formatWriter is one format's encoder; outFile adds buffering, schema
// checks, error context and closing.
type formatWriter interface {
	write(rec arrow.RecordBatch) error
	close() error // writes any footer; does not close the output
}

type outFile struct {
	path   string
	bw     *bufio.Writer
	c      io.Closer
	fw     formatWriter
	schema *arrow.Schema
	err    error
	closed bool
}

func (o *outFile) Write(rec arrow.RecordBatch) error {
	if o.closed {
		return fileErr(o.path, errors.New("writer is closed"))
	}
	if o.err != nil {
		return o.err
	}
	if !rec.Schema().Equal(o.schema) {
		return fileErr(o.path, fmt.Errorf("%w: record batch schema %s differs from the writer's %s", ErrSchemaMismatch, rec.Schema(), o.schema))
	}
	if err := o.fw.write(rec); err != nil {
		o.err = fileErr(o.path, err)
		return o.err
	}
	return nil
}

func (o *outFile) Close() error {
	if o.closed {
		return o.err
	}
	o.closed = true
	err := o.fw.close()
	if ferr := o.bw.Flush(); err == nil {
		err = ferr
	}
	if o.c != nil {
		if cerr := o.c.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil && o.err == nil {
		o.err = fileErr(o.path, err)
	}
	return o.err
}
