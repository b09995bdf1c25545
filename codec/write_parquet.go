package codec

import (
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// parquetWriter writes zstd-compressed Parquet with the Arrow schema stored
// in the file metadata, so readers get back the exact Arrow types (time
// zones, date32). Batches are buffered into row groups of RowGroupRows rows.
type parquetWriter struct {
	fw *pqarrow.FileWriter
}

func newParquetWriter(w io.Writer, s *arrow.Schema, opts WriteOptions) (*parquetWriter, error) {
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithMaxRowGroupLength(int64(opts.RowGroupRows)),
		parquet.WithAllocator(opts.Allocator),
		parquet.WithCreatedBy("redstage"),
	)
	arrProps := pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(opts.Allocator))
	fw, err := pqarrow.NewFileWriter(s, w, props, arrProps)
	if err != nil {
		return nil, err
	}
	return &parquetWriter{fw: fw}, nil
}

func (p *parquetWriter) write(rec arrow.RecordBatch) error {
	if rec.NumRows() == 0 {
		return nil
	}
	return p.fw.WriteBuffered(rec)
}

func (p *parquetWriter) close() error { return p.fw.Close() }
