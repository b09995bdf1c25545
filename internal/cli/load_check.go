package cli

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/shard"
)

// metaColumnNames are scan's metadata columns (_key, _ttl, _index): load
// never writes them as fields (they may serve as key or TTL column).
func metaColumnNames() []string {
	m := codec.DefaultMetaColumns()
	return []string{m.Key, m.TTL, m.Index}
}

// checkDelimiter refuses a CSV whose header is one column that holds
// another likely delimiter (a ;-separated file read with ','), unless the
// delimiter was given.
func (o *LoadOptions) checkDelimiter(path string, format codec.Format, s *arrow.Schema) error {
	if format != codec.FormatCSV || o.Delimiter != 0 || o.NoHeader || s.NumFields() != 1 {
		return nil
	}
	name := s.Field(0).Name
	for _, d := range []string{";", "\t", "|"} {
		if strings.Contains(name, d) {
			flag := fmt.Sprintf("--delimiter '%s'", d)
			if d == "\t" {
				flag = `--delimiter '\t'`
			}
			return exitErr(ExitInput, fmt.Sprintf("pass %s (or --delimiter ',' if the one column is right)", flag),
				fmt.Errorf("%s: the header is one column %q, which looks %q-separated; nothing was written", displayName(path), clipText(name, 60), d))
		}
	}
	return nil
}

// checkTypes refuses, before anything is written, columns that cannot be
// written (nested Parquet/Arrow columns) and a TTL column of a type that
// cannot give an expiry. Metadata columns not used as key or TTL column are
// returned: they are not written.
func (o *LoadOptions) checkTypes(path string, s *arrow.Schema) (ignored []string, err error) {
	used := map[string]bool{o.TTLColumn: true}
	for _, k := range o.KeyColumns {
		used[k] = true
	}
	meta := map[string]bool{}
	for _, m := range metaColumnNames() {
		meta[m] = true
	}
	var bad, flat []string
	for _, f := range s.Fields() {
		if meta[f.Name] {
			if !used[f.Name] {
				ignored = append(ignored, f.Name)
			}
			continue
		}
		if f.Name == o.TTLColumn {
			continue
		}
		t, err := codec.MapArrowType(f.Type)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s (%s)", f.Name, f.Type))
			continue
		}
		flat = append(flat, f.Name+":"+t.String())
	}
	if len(bad) > 0 {
		return nil, exitErr(ExitInput,
			fmt.Sprintf("load the other columns only: --schema '%s' (or flatten the nested columns first)", clipText(strings.Join(flat, ","), 400)),
			fmt.Errorf("%s: nested columns cannot be written as hash fields: %s; nothing was written", displayName(path), strings.Join(clipStrings(bad, 10), ", ")))
	}
	if o.TTLColumn != "" {
		if i := s.FieldIndices(o.TTLColumn); len(i) > 0 {
			if err := shard.CheckTTLColumn(s.Field(i[0])); err != nil {
				return nil, exitErr(ExitInput, "cast the column, or give its type with --schema (e.g. ttl:int64 or ttl:utf8)",
					fmt.Errorf("%s: %w; nothing was written", displayName(path), err))
			}
		}
	}
	return ignored, nil
}

// checkTTLValues checks, while prechecking, that every value of a text TTL
// column reads as a TTL, so a bad value stops the load before any write.
// first is the input's row index of rec's first row.
func (o *LoadOptions) checkTTLValues(path string, rec arrow.RecordBatch, first int64) error {
	if o.TTLColumn == "" {
		return nil
	}
	idx := rec.Schema().FieldIndices(o.TTLColumn)
	if len(idx) == 0 {
		return nil
	}
	col, ok := rec.Column(idx[0]).(*array.String)
	if !ok {
		return nil
	}
	for i := 0; i < col.Len(); i++ {
		if col.IsNull(i) {
			continue
		}
		if span, _, ok := shard.ParseTTLText(col.Value(i)); !ok || span < 0 {
			return exitErr(ExitInput, "fix the value: a TTL is seconds (3600), a duration (90s, 1h30m) or a datetime (2030-01-01T00:00:00Z); nothing was written",
				fmt.Errorf("%s: data row %d: TTL column %q: %q is not a TTL", displayName(path), first+int64(i)+1, o.TTLColumn, clipText(col.Value(i), 60)))
		}
	}
	return nil
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
