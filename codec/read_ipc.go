package codec

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ipcReader streams the record batches of an Arrow IPC file or stream,
// optionally projected onto a schema's fields.
type ipcReader struct {
	path   string
	next   func() (arrow.RecordBatch, error) // batch owned by the source until the next call
	closer func() error
	schema *arrow.Schema
	cols   []int // projection: file column of each output column; nil = all
	err    error
	closed bool
	batch  int // 0-based index of the batch being read, for errors
}

func openIPCFile(path string, opts ReadOptions) (_ RecordReader, err error) {
	fh, err := openSeekable(path, FormatArrow)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			fh.Close()
		}
	}()
	fr, err := ipc.NewFileReader(fh, ipc.WithAllocator(opts.Allocator))
	if err != nil {
		return nil, fileErr(path, fmt.Errorf("%w: not a readable Arrow IPC file: %v (an Arrow IPC stream needs format arrows)", ErrMalformedFile, err))
	}
	r := &ipcReader{path: path, next: fr.Read, closer: func() error {
		err := fr.Close()
		if cerr := fh.Close(); err == nil && !errors.Is(cerr, os.ErrClosed) {
			err = cerr
		}
		return err
	}}
	if err := r.project(fr.Schema(), opts.Schema); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// ipcFileMagic starts (and ends) an Arrow IPC file.
const ipcFileMagic = "ARROW1\x00\x00"

// newIPCStreamReader reads an Arrow IPC stream. An IPC file is a stream
// wrapped in a magic string and a footer, so it is accepted too (for example
// an .arrow file piped through stdin): the leading magic is skipped and the
// footer after the stream's end marker is never read.
func newIPCStreamReader(path string, src *streamSource, opts ReadOptions) (RecordReader, error) {
	if b, err := src.Peek(len(ipcFileMagic)); err == nil && string(b) == ipcFileMagic {
		src.Discard(len(ipcFileMagic))
	}
	sr, err := newIPCStream(src, opts.Allocator, ipcStreamMetaLimit, ipcStreamBodyLimit)
	if err != nil {
		return nil, fileErr(path, fmt.Errorf("%w: not a readable Arrow IPC stream: %v (an Arrow IPC file needs format arrow)", ErrMalformedFile, err))
	}
	r := &ipcReader{path: path, next: sr.Read, closer: func() error {
		sr.Release()
		return src.Close()
	}}
	if err := r.project(sr.Schema(), opts.Schema); err != nil {
		sr.Release()
		return nil, err
	}
	return r, nil
}

// Size limits for messages of IPC streams read from files or stdin, so a
// corrupt length cannot make the reader allocate without bound.
const (
	ipcStreamMetaLimit = 64 << 20
	ipcStreamBodyLimit = 4 << 30
)

// newIPCStream opens an IPC stream reader whose messages are size-limited
// and checked before arrow-go decodes them (see guardedMessageReader; also,
// ipc.NewReader does not pass its size-limit options on in v18.8.0).
func newIPCStream(r io.Reader, mem memory.Allocator, maxMeta, maxBody int64) (*ipc.Reader, error) {
	return ipc.NewReaderFromMessageReader(newGuardedMessageReader(r, mem, maxMeta, maxBody), ipc.WithAllocator(mem))
}

func (r *ipcReader) project(fileSchema *arrow.Schema, want *Schema) error {
	r.schema = fileSchema
	if want == nil {
		return nil
	}
	sc, err := projectArrowSchema(fileSchema, want)
	if err != nil {
		return fileErr(r.path, err)
	}
	r.schema = sc
	for _, f := range want.Fields {
		r.cols = append(r.cols, fileSchema.FieldIndices(f.Name)[0])
	}
	return nil
}

func (r *ipcReader) Schema() *arrow.Schema { return r.schema }

func (r *ipcReader) Next() (arrow.RecordBatch, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.closed {
		return nil, fileErr(r.path, errors.New("reader is closed"))
	}
	for {
		rec, err := r.next()
		if errors.Is(err, io.EOF) {
			r.err = io.EOF
			return nil, r.err
		}
		if err != nil {
			r.err = fileErr(r.path, fmt.Errorf("%w: record batch %d: %v (the file is damaged or truncated)", ErrMalformedFile, r.batch, err))
			return nil, r.err
		}
		r.batch++
		if rec.NumRows() == 0 {
			continue
		}
		if r.cols == nil {
			rec.Retain()
			return rec, nil
		}
		cols := make([]arrow.Array, len(r.cols))
		for i, c := range r.cols {
			cols[i] = rec.Column(c)
		}
		return array.NewRecordBatch(r.schema, cols, rec.NumRows()), nil
	}
}

func (r *ipcReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if err := r.closer(); err != nil {
		return fileErr(r.path, err)
	}
	return nil
}
