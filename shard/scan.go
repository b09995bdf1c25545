package shard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/redstage/redstage/codec"
)

// ScanOptions configure ScanPartition.
type ScanOptions struct {
	Pattern   string            // MATCH pattern; "" = every key
	Schema    *codec.Schema     // fields to produce
	Meta      codec.MetaColumns // Meta.Index is ignored (the merger numbers rows)
	Strict    bool              // an unparsable value fails the scan (codec.ParseError)
	BatchSize int               // rows per record batch; 0 = 8192
	Count     int               // SCAN COUNT hint; 0 = 1000
	FetchAll  bool              // HGETALL (else HMGET of the schema fields)

	// Additions beyond the contract.
	DedupWindow int              // keys kept for in-partition de-dup; 0 = 65536, < 0 = unbounded
	Allocator   memory.Allocator // nil = memory.DefaultAllocator
}

// DefaultScanOptions returns options with the defaults filled in.
func DefaultScanOptions(s *codec.Schema) ScanOptions {
	return ScanOptions{Schema: s, Meta: codec.MetaColumns{Key: "_key"}, BatchSize: 8192, Count: 1000}
}

// Validate checks the options.
func (o ScanOptions) Validate() error {
	if o.Schema == nil || len(o.Schema.Fields) == 0 {
		return fmt.Errorf("%w: scan needs a schema with at least one field", ErrInvalidOptions)
	}
	if o.BatchSize < 0 || o.Count < 0 {
		return fmt.Errorf("%w: negative batch size %d or count %d", ErrInvalidOptions, o.BatchSize, o.Count)
	}
	return nil
}

func (o *ScanOptions) fill() {
	if o.BatchSize == 0 {
		o.BatchSize = 8192
	}
	if o.Count == 0 {
		o.Count = 1000
	}
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
}

// ScanStats count what a scan task saw.
type ScanStats struct {
	Rows       int64            `json:"rows"`        // rows emitted
	Scanned    int64            `json:"scanned"`     // keys the server returned for the partition
	OtherTypes int64            `json:"other_types"` // keys that were not hashes when fetched
	Vanished   int64            `json:"vanished"`    // keys gone between listing and fetch
	Duplicates int64            `json:"duplicates"`  // repeated keys dropped
	Restarts   int              `json:"restarts"`    // always 0: a restart is reported as ErrServerRestarted
	Invalid    map[string]int64 `json:"invalid,omitempty"`
	Calls      int64            `json:"calls"`    // SCAN / slot listing calls
	Retries    int64            `json:"retries"`  // SCAN calls discarded at the partition end
	Followed   int64            `json:"followed"` // slots listed again on other nodes because they moved

	NonUTF8Keys int64 `json:"non_utf8_keys,omitempty"` // keys not valid UTF-8, escaped in the key column
}

// ScanPartition scans one partition and emits its hashes as Arrow record
// batches of opts.BatchSize rows (the last may be shorter). emit must not
// keep the batch after it returns unless it calls Retain; ScanPartition
// releases it. Every key of the job appears in exactly one partition's
// output, exactly once, under the conditions stated in the package doc.
//
// Errors wrapping ErrServerRestarted, ErrStaleTopology or ErrTableShrank
// mean the rows already emitted by this call must be discarded and the task
// rerun (for ErrServerRestarted on a cursor partition: every cursor
// partition of the node, re-planned).
func ScanPartition(ctx context.Context, c *Client, p Partition, opts ScanOptions, emit func(arrow.RecordBatch) error) (stats ScanStats, err error) {
	defer func() { err = accessError(err, p.Node) }()
	if err := opts.Validate(); err != nil {
		return stats, err
	}
	opts.fill()
	meta := opts.Meta
	meta.Index = ""
	b, err := codec.NewRecordBuilder(opts.Allocator, opts.Schema, codec.BuilderOptions{Meta: meta, Strict: opts.Strict})
	if err != nil {
		return stats, fmt.Errorf("partition %s: %w", p, err)
	}
	defer b.Release()

	var st sourceStats
	defer func() {
		stats.Scanned, stats.Duplicates, stats.Calls, stats.Retries = st.scanned, st.duplicates, st.calls, st.retries
		stats.Followed = st.followed
		stats.Invalid, stats.NonUTF8Keys = b.Invalid(), b.NonUTF8Keys()
	}()
	src, err := openSource(ctx, c, p, sourceOptions{pattern: opts.Pattern, count: opts.Count, window: opts.DedupWindow, allTypes: true}, &st)
	if err != nil {
		return stats, err
	}
	f := &fetcher{rdb: c.Redis(), ttl: meta.TTL != ""}
	if !opts.FetchAll {
		f.fields = opts.Schema.Names()
	}
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		rec := b.NewRecordBatch()
		defer rec.Release()
		stats.Rows += rec.NumRows()
		return emit(rec)
	}
	appendRow := func(r *row) error {
		var err error
		if r.m != nil {
			err = b.AppendMap(r.key, r.m, r.ttl, 0)
		} else {
			err = b.Append(r.key, r.values, r.present, r.ttl, 0)
		}
		if err != nil {
			return fmt.Errorf("partition %s: %w", p, err)
		}
		if b.Len() >= opts.BatchSize {
			return flush()
		}
		return nil
	}

	// Three stages overlap their round trips: the source lists keys, two
	// fetchers read hashes (each chunk one pipeline), and this goroutine
	// builds and emits batches. Channels are short, so memory stays bounded.
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	keysCh := make(chan []string, 2)
	rowsCh := make(chan fetched, fetchers)
	var producer, workers sync.WaitGroup
	producer.Add(1)
	go func() {
		defer producer.Done()
		defer close(keysCh)
		for {
			keys, err := src.next(sctx)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				cancel(err)
				return
			}
			for len(keys) > 0 {
				n := min(len(keys), fetchChunk)
				select {
				case keysCh <- keys[:n]:
				case <-sctx.Done():
					return
				}
				keys = keys[n:]
			}
		}
	}()
	for range fetchers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			raw := newRawFetcher(c, p.Node, f.fields, opts.Schema.Names(), f.ttl, f)
			defer raw.close()
			for keys := range keysCh {
				rows, fc, err := raw.fetch(sctx, keys)
				if err != nil {
					cancel(fmt.Errorf("partition %s: %w", p, err))
					return
				}
				select {
				case rowsCh <- fetched{rows, fc}:
				case <-sctx.Done():
					return
				}
			}
		}()
	}
	go func() { workers.Wait(); close(rowsCh) }()
	for fr := range rowsCh {
		if sctx.Err() != nil {
			continue // drain after a failure
		}
		stats.OtherTypes += fr.fc.otherTypes
		stats.Vanished += fr.fc.vanished
		for i := range fr.rows {
			if err := appendRow(&fr.rows[i]); err != nil {
				cancel(err)
				break
			}
		}
	}
	producer.Wait()
	if err := context.Cause(sctx); err != nil {
		return stats, err
	}
	if err := src.finish(ctx); err != nil {
		return stats, err
	}
	if err := flush(); err != nil {
		return stats, err
	}
	return stats, nil
}

// fetched is one fetched chunk on its way to the builder.
type fetched struct {
	rows []row
	fc   fetchCounts
}

// fetchers is the number of concurrent fetch pipelines of one scan task.
const fetchers = 2

// fetchChunk is the number of keys fetched per pipeline.
const fetchChunk = 1024
