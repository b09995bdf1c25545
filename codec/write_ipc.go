package codec

import (
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// ipcWriter writes an Arrow IPC file (format arrow) or stream (arrows).
type ipcWriter struct {
	w interface {
		Write(arrow.RecordBatch) error
		Close() error
	}
}

func newIPCWriter(w io.Writer, s *arrow.Schema, opts WriteOptions) (*ipcWriter, error) {
	ipcOpts, err := opts.Compression.ipcOptions()
	if err != nil {
		return nil, err
	}
	ipcOpts = append(ipcOpts, ipc.WithSchema(s), ipc.WithAllocator(opts.Allocator))
	if opts.Format == FormatArrows {
		return &ipcWriter{w: ipc.NewWriter(w, ipcOpts...)}, nil
	}
	fw, err := ipc.NewFileWriter(w, ipcOpts...)
	if err != nil {
		return nil, err
	}
	return &ipcWriter{w: fw}, nil
}

func (i *ipcWriter) write(rec arrow.RecordBatch) error {
	if rec.NumRows() == 0 {
		return nil
	}
	return i.w.Write(rec)
}

func (i *ipcWriter) close() error { return i.w.Close() }
