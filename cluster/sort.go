package cluster

import (
	"bufio"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// sortSource sorts its source by a utf8 key column in bounded memory: it
// collects runs of at most runBytes, sorts each, spills them to temporary
// Arrow IPC stream files (unless everything fit in one run) and k-way
// merges the runs.
type sortSource struct {
	src       batchSource
	schema    *arrow.Schema
	keyCol    int
	runBytes  int64
	batchRows int
	tmpDir    string
	mem       memory.Allocator

	started bool
	mem1    arrow.RecordBatch // the single in-memory run
	off     int64
	files   []string
	merger  *merger
}

func newSortSource(src batchSource, schema *arrow.Schema, keyCol int, opts ResultOptions, tmpDir string) *sortSource {
	return &sortSource{src: src, schema: schema, keyCol: keyCol, runBytes: opts.SortRunBytes,
		batchRows: opts.BatchRows, tmpDir: tmpDir, mem: opts.Allocator}
}

func (s *sortSource) next() (arrow.RecordBatch, error) {
	if !s.started {
		s.started = true
		if err := s.collect(); err != nil {
			return nil, err
		}
	}
	if s.merger != nil {
		return s.merger.next()
	}
	if s.mem1 == nil || s.off >= s.mem1.NumRows() {
		return nil, io.EOF
	}
	end := min(s.off+int64(s.batchRows), s.mem1.NumRows())
	rec := s.mem1.NewSlice(s.off, end)
	s.off = end
	return rec, nil
}

// collect reads the whole source into sorted runs.
func (s *sortSource) collect() error {
	var run []arrow.RecordBatch
	var size int64
	release := func() {
		for _, r := range run {
			r.Release()
		}
		run, size = nil, 0
	}
	defer release()
	for {
		rec, err := s.src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		run = append(run, rec)
		size += recordBytes(rec)
		if size >= s.runBytes {
			if err := s.spill(run); err != nil {
				return err
			}
			release()
		}
	}
	if len(s.files) == 0 { // everything fit in one run: no files
		sorted, err := sortRun(s.mem, s.schema, run, s.keyCol)
		if err != nil {
			return err
		}
		s.mem1 = sorted
		return nil
	}
	if len(run) > 0 {
		if err := s.spill(run); err != nil {
			return err
		}
	}
	m, err := newMerger(s.files, s.schema, s.keyCol, s.batchRows, s.mem)
	if err != nil {
		return err
	}
	s.merger = m
	return nil
}

// spill sorts a run and writes it to a temporary IPC stream file.
func (s *sortSource) spill(run []arrow.RecordBatch) error {
	sorted, err := sortRun(s.mem, s.schema, run, s.keyCol)
	if err != nil {
		return err
	}
	defer sorted.Release()
	f, err := os.CreateTemp(s.tmpDir, "redstage-sort-*.arrows")
	if err != nil {
		return fmt.Errorf("sorting results: creating a run file: %w (set a temp dir with room)", err)
	}
	s.files = append(s.files, f.Name())
	bw := bufio.NewWriterSize(f, 1<<20)
	w := ipc.NewWriter(bw, ipc.WithSchema(s.schema), ipc.WithAllocator(s.mem))
	for off := int64(0); off < sorted.NumRows(); off += int64(s.batchRows) {
		part := sorted.NewSlice(off, min(off+int64(s.batchRows), sorted.NumRows()))
		err = w.Write(part)
		part.Release()
		if err != nil {
			break
		}
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sorting results: writing run %s: %w", f.Name(), err)
	}
	return nil
}

func (s *sortSource) close() {
	s.src.close()
	if s.mem1 != nil {
		s.mem1.Release()
		s.mem1 = nil
	}
	if s.merger != nil {
		s.merger.close()
		s.merger = nil
	}
	for _, f := range s.files {
		_ = os.Remove(f)
	}
	s.files = nil
}

// sortRun concatenates batches and returns them sorted by the key column.
func sortRun(mem memory.Allocator, schema *arrow.Schema, run []arrow.RecordBatch, keyCol int) (arrow.RecordBatch, error) {
	var n int64
	for _, r := range run {
		n += r.NumRows()
	}
	// Order rows by key with stable (batch, row) tie-breaking.
	type ref struct {
		b   int32
		row int32
	}
	refs := make([]ref, 0, n)
	keys := make([]*array.String, len(run))
	for bi, r := range run {
		k, ok := r.Column(keyCol).(*array.String)
		if !ok {
			return nil, fmt.Errorf("sorting results: key column is %s, want utf8", r.Column(keyCol).DataType())
		}
		keys[bi] = k
		for i := 0; i < int(r.NumRows()); i++ {
			refs = append(refs, ref{int32(bi), int32(i)})
		}
	}
	sort.SliceStable(refs, func(a, b int) bool {
		return keys[refs[a].b].Value(int(refs[a].row)) < keys[refs[b].b].Value(int(refs[b].row))
	})
	bld := array.NewRecordBuilder(mem, schema)
	defer bld.Release()
	bld.Reserve(int(n))
	for _, rf := range refs {
		if err := appendRow(bld, run[rf.b], int(rf.row)); err != nil {
			return nil, err
		}
	}
	return bld.NewRecordBatch(), nil
}

// appendRow copies row i of rec into the builder's columns.
func appendRow(b *array.RecordBuilder, rec arrow.RecordBatch, i int) error {
	for c := 0; c < int(rec.NumCols()); c++ {
		if err := appendValue(b.Field(c), rec.Column(c), i); err != nil {
			return fmt.Errorf("column %s: %w", rec.ColumnName(c), err)
		}
	}
	return nil
}

func appendValue(b array.Builder, a arrow.Array, i int) error {
	if a.IsNull(i) {
		b.AppendNull()
		return nil
	}
	switch a := a.(type) {
	case *array.String:
		b.(*array.StringBuilder).Append(a.Value(i))
	case *array.LargeString:
		b.(*array.LargeStringBuilder).Append(a.Value(i))
	case *array.Binary:
		b.(*array.BinaryBuilder).Append(a.Value(i))
	case *array.Int64:
		b.(*array.Int64Builder).Append(a.Value(i))
	case *array.Int32:
		b.(*array.Int32Builder).Append(a.Value(i))
	case *array.Uint64:
		b.(*array.Uint64Builder).Append(a.Value(i))
	case *array.Float64:
		b.(*array.Float64Builder).Append(a.Value(i))
	case *array.Boolean:
		b.(*array.BooleanBuilder).Append(a.Value(i))
	case *array.Date32:
		b.(*array.Date32Builder).Append(a.Value(i))
	case *array.Timestamp:
		b.(*array.TimestampBuilder).Append(a.Value(i))
	default:
		return fmt.Errorf("sorting results: unsupported column type %s", a.DataType())
	}
	return nil
}

// runCursor reads one sorted run file batch by batch.
type runCursor struct {
	idx int // run order
	f   *os.File
	rd  *ipc.Reader
	rec arrow.RecordBatch
	key *array.String
	row int
}

func (c *runCursor) advance(keyCol int) (bool, error) {
	c.row++
	if c.rec != nil && c.row < int(c.rec.NumRows()) {
		return true, nil
	}
	for c.rd.Next() {
		c.rec = c.rd.RecordBatch()
		if c.rec.NumRows() == 0 {
			continue
		}
		c.key = c.rec.Column(keyCol).(*array.String)
		c.row = 0
		return true, nil
	}
	c.rec = nil
	if err := c.rd.Err(); err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return false, nil
}

func (c *runCursor) keyValue() string { return c.key.Value(c.row) }

// merger k-way merges sorted run files.
type merger struct {
	cursors   []*runCursor
	h         cursorHeap
	schema    *arrow.Schema
	keyCol    int
	batchRows int
	mem       memory.Allocator
}

func newMerger(files []string, schema *arrow.Schema, keyCol, batchRows int, mem memory.Allocator) (*merger, error) {
	m := &merger{schema: schema, keyCol: keyCol, batchRows: batchRows, mem: mem}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			m.close()
			return nil, fmt.Errorf("sorting results: %w", err)
		}
		rd, err := ipc.NewReader(bufio.NewReaderSize(f, 1<<20), ipc.WithAllocator(mem))
		if err != nil {
			f.Close()
			m.close()
			return nil, fmt.Errorf("sorting results: reading run %s: %w", name, err)
		}
		c := &runCursor{idx: len(m.cursors), f: f, rd: rd, row: -1}
		m.cursors = append(m.cursors, c)
		ok, err := c.advance(keyCol)
		if err != nil {
			m.close()
			return nil, fmt.Errorf("sorting results: reading run %s: %w", name, err)
		}
		if ok {
			m.h = append(m.h, c)
		}
	}
	heap.Init(&m.h)
	return m, nil
}

func (m *merger) next() (arrow.RecordBatch, error) {
	if len(m.h) == 0 {
		return nil, io.EOF
	}
	b := array.NewRecordBuilder(m.mem, m.schema)
	defer b.Release()
	for n := 0; n < m.batchRows && len(m.h) > 0; n++ {
		c := m.h[0]
		if err := appendRow(b, c.rec, c.row); err != nil {
			return nil, err
		}
		ok, err := c.advance(m.keyCol)
		if err != nil {
			return nil, fmt.Errorf("sorting results: reading a run: %w", err)
		}
		if ok {
			heap.Fix(&m.h, 0)
		} else {
			heap.Pop(&m.h)
		}
	}
	return b.NewRecordBatch(), nil
}

func (m *merger) close() {
	for _, c := range m.cursors {
		c.rd.Release()
		c.f.Close()
	}
	m.cursors, m.h = nil, nil
}

// cursorHeap orders cursors by their current key (ties: run order, so the
// merge is stable).
type cursorHeap []*runCursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(a, b int) bool {
	ka, kb := h[a].keyValue(), h[b].keyValue()
	if ka != kb {
		return ka < kb
	}
	return h[a].idx < h[b].idx
}
func (h cursorHeap) Swap(a, b int) { h[a], h[b] = h[b], h[a] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*runCursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// recordBytes is the size of a batch's buffers.
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, col := range rec.Columns() {
		n += dataBytes(col.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	return n
}
