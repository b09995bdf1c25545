package codec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// ParquetRowGroups returns the number of row groups of a Parquet file, so a
// reader can be cut into independent chunks (OpenParquetRowGroups).
func ParquetRowGroups(path string) (int, error) {
	fh, err := openSeekable(path, FormatParquet)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	pf, err := file.NewParquetReader(fh)
	if err != nil {
		return 0, fileErr(path, fmt.Errorf("%w: not a readable Parquet file: %v", ErrMalformedFile, err))
	}
	defer pf.Close()
	return pf.NumRowGroups(), nil
}

// OpenParquetRowGroups reads only the given row groups (0-based, in the
// order given) of a Parquet file. groups must not be empty; use OpenReader
// for the whole file. opts.Format is ignored.
func OpenParquetRowGroups(path string, groups []int, opts ReadOptions) (RecordReader, error) {
	if len(groups) == 0 {
		return nil, fileErr(path, fmt.Errorf("%w: no row groups selected (use OpenReader to read the whole file)", ErrInvalidOptions))
	}
	opts.Format = FormatParquet
	if err := opts.Validate(path); err != nil {
		return nil, fileErr(path, err)
	}
	return openParquet(path, groups, opts)
}

// parquetReader streams record batches of selected row groups.
type parquetReader struct {
	path    string
	fh      *os.File
	pf      *file.Reader
	rr      pqarrow.RecordReader
	schema  *arrow.Schema
	groups  []int   // selected row groups, in read order
	ends    []int64 // cumulative row count at the end of each selected group
	read    int64   // rows returned so far
	err     error
	closed  bool
	project []int // leaf column indices, nil = all
}

func openParquet(path string, groups []int, opts ReadOptions) (_ RecordReader, err error) {
	fh, err := openSeekable(path, FormatParquet)
	if err != nil {
		return nil, err
	}
	r := &parquetReader{path: path, fh: fh}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	// The file reader pools page buffers and frees them by finalizer, so it
	// gets the Go allocator; record batches come from opts.Allocator.
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	props.BufferedStreamEnabled = true // read pages as needed, not whole column chunks
	r.pf, err = file.NewParquetReader(fh, file.WithReadProps(props))
	if err != nil {
		return nil, fileErr(path, fmt.Errorf("%w: not a readable Parquet file: %v", ErrMalformedFile, err))
	}
	n := r.pf.NumRowGroups()
	if groups == nil {
		groups = make([]int, n)
		for i := range groups {
			groups[i] = i
		}
	}
	var total int64
	for _, g := range groups {
		if g < 0 || g >= n {
			return nil, rowGroupErr(path, g, fmt.Errorf("%w: row group %d does not exist (the file has %d, numbered from 0)", ErrInvalidOptions, g, n))
		}
		total += r.pf.MetaData().RowGroup(g).NumRows()
		r.ends = append(r.ends, total)
	}
	r.groups = groups
	fr, err := pqarrow.NewFileReader(r.pf, pqarrow.ArrowReadProperties{BatchSize: int64(opts.BatchSize)}, opts.Allocator)
	if err != nil {
		return nil, fileErr(path, fmt.Errorf("%w: %v", ErrMalformedFile, err))
	}
	var fileSchema *arrow.Schema
	if fileSchema, err = fr.Schema(); err != nil {
		return nil, fileErr(path, fmt.Errorf("%w: reading the Arrow schema: %v", ErrMalformedFile, err))
	}
	if opts.Schema != nil {
		if r.project, err = parquetProjection(fr, fileSchema, opts.Schema); err != nil {
			return nil, fileErr(path, err)
		}
	}
	if len(groups) == 0 {
		// A file without row groups has no rows; GetRecordReader would read
		// all groups for a nil list, which is the same nothing.
		sc := fileSchema
		if r.project != nil {
			if sc, err = projectArrowSchema(fileSchema, opts.Schema); err != nil {
				return nil, fileErr(path, err)
			}
		}
		r.schema = sc
		return r, nil
	}
	r.rr, err = fr.GetRecordReader(context.Background(), r.project, groups)
	if err != nil {
		return nil, fileErr(path, fmt.Errorf("%w: %v", ErrMalformedFile, err))
	}
	r.schema = r.rr.Schema()
	return r, nil
}

// parquetProjection returns the leaf column indices of the schema's fields,
// in schema order, checking that each stored type maps to the wanted type.
func parquetProjection(fr *pqarrow.FileReader, fileSchema *arrow.Schema, want *Schema) ([]int, error) {
	if _, err := projectArrowSchema(fileSchema, want); err != nil {
		return nil, err
	}
	var leaves []int
	for _, f := range want.Fields {
		idx := fileSchema.FieldIndices(f.Name)
		var collect func(sf pqarrow.SchemaField)
		collect = func(sf pqarrow.SchemaField) {
			if sf.IsLeaf() {
				leaves = append(leaves, sf.ColIndex)
			}
			for _, c := range sf.Children {
				collect(c)
			}
		}
		collect(fr.Manifest.Fields[idx[0]])
	}
	return leaves, nil
}

// projectArrowSchema selects want's fields from a typed file's schema, in
// want's order. A missing field, a name that appears twice, or a column
// whose type maps to another codec type than want says is an error.
func projectArrowSchema(fileSchema *arrow.Schema, want *Schema) (*arrow.Schema, error) {
	fields := make([]arrow.Field, 0, len(want.Fields))
	for _, f := range want.Fields {
		idx := fileSchema.FieldIndices(f.Name)
		switch len(idx) {
		case 0:
			return nil, fmt.Errorf("%w: schema field %q is not a column of the file (columns: %v)", ErrUnknownField, f.Name, columnNames(fileSchema))
		case 1:
		default:
			return nil, fmt.Errorf("%w: column %q appears %d times in the file; cannot select it by name", ErrMalformedFile, f.Name, len(idx))
		}
		af := fileSchema.Field(idx[0])
		if err := checkStoredType(af, f.Type); err != nil {
			return nil, err
		}
		fields = append(fields, af)
	}
	md := fileSchema.Metadata()
	return arrow.NewSchema(fields, &md), nil
}

func columnNames(s *arrow.Schema) []string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return names
}

// checkStoredType checks that a stored Arrow column maps to codec type t.
func checkStoredType(af arrow.Field, t Type) error {
	got, err := MapArrowType(af.Type)
	if err != nil {
		return fmt.Errorf("column %q: %w", af.Name, err)
	}
	if got != t {
		return fmt.Errorf("%w: column %q is stored as %s (codec type %s) but the schema says %s; drop the field from the schema or give it type %s",
			ErrSchemaMismatch, af.Name, af.Type, got, t, got)
	}
	return nil
}

func (r *parquetReader) Schema() *arrow.Schema { return r.schema }

// group returns the row group that row (0-based, within the selection) is in.
func (r *parquetReader) group(row int64) int {
	for i, end := range r.ends {
		if row < end {
			return r.groups[i]
		}
	}
	if len(r.groups) > 0 {
		return r.groups[len(r.groups)-1]
	}
	return -1
}

func (r *parquetReader) Next() (arrow.RecordBatch, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.closed {
		return nil, fileErr(r.path, errors.New("reader is closed"))
	}
	if r.rr == nil {
		r.err = io.EOF
		return nil, r.err
	}
	for r.rr.Next() {
		rec := r.rr.RecordBatch()
		if rec.NumRows() == 0 {
			continue
		}
		rec.Retain()
		r.read += rec.NumRows()
		return rec, nil
	}
	if err := r.rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		r.err = rowGroupErr(r.path, r.group(r.read), fmt.Errorf("%w: %v (the file is damaged or truncated)", ErrMalformedFile, err))
		return nil, r.err
	}
	r.err = io.EOF
	return nil, r.err
}

func (r *parquetReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.rr != nil {
		r.rr.Release()
	}
	var err error
	if r.pf != nil {
		err = r.pf.Close() // closes the file too
	} else if r.fh != nil {
		err = r.fh.Close()
	}
	if err != nil && !errors.Is(err, os.ErrClosed) {
		return fileErr(r.path, err)
	}
	return nil
}
