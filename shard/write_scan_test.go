package shard_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/shard"
)

// testWriteScanRoundTrip writes rows of every codec type (edge values,
// nulls) and reads them back through PlanScan + ScanPartition: every key
// once, every value exactly as written, nulls as nulls.
func testWriteScanRoundTrip(t *testing.T, w *writeTarget, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	utc := time.UTC
	const n = 1200 // edge rows, then ordinary rows
	ids := make([]any, n)
	s, i64, f64, bl, dt, ts := make([]any, n), make([]any, n), make([]any, n), make([]any, n), make([]any, n), make([]any, n)
	edgeS := []any{"", "plain", "with space", "a:b:c", "ünïcødé ✓", "line\nbreak", "tab\tand \"quotes\"", nil}
	edgeI := []any{int64(0), int64(-1), int64(math.MaxInt64), int64(math.MinInt64), int64(42), nil}
	edgeF := []any{0.0, -1.5, 0.1, 1e300, 5e-324, math.MaxFloat64, -0.000123, 1.0 / 3, nil}
	edgeB := []any{true, false, nil}
	edgeD := []any{time.Date(1970, 1, 1, 0, 0, 0, 0, utc), time.Date(1969, 12, 31, 0, 0, 0, 0, utc), time.Date(2024, 2, 29, 0, 0, 0, 0, utc), time.Date(9999, 12, 31, 0, 0, 0, 0, utc), time.Date(1, 1, 1, 0, 0, 0, 0, utc), nil}
	edgeT := []any{time.Date(1970, 1, 1, 0, 0, 0, 0, utc), time.Date(1969, 12, 31, 23, 59, 59, 999999000, utc), time.Date(2024, 6, 1, 12, 30, 45, 123456000, utc), time.Date(2262, 4, 11, 0, 0, 0, 1000, utc), nil}
	pick := func(edge []any, i int) any { return edge[i%len(edge)] }
	for i := range n {
		ids[i] = fmt.Sprintf("r%04d", i)
		if i < 100 {
			s[i], i64[i], f64[i], bl[i], dt[i], ts[i] = pick(edgeS, i), pick(edgeI, i), pick(edgeF, i), pick(edgeB, i), pick(edgeD, i), pick(edgeT, i)
			continue
		}
		s[i] = fmt.Sprintf("name %d", i)
		i64[i] = int64(i) * 1_000_003
		f64[i] = float64(i) / 7
		bl[i] = i%2 == 0
		dt[i] = time.Date(2000, 1, 1, 0, 0, 0, 0, utc).AddDate(0, 0, i)
		ts[i] = time.Date(2020, 1, 1, 0, 0, 0, 0, utc).Add(time.Duration(i) * 1_234_567 * time.Microsecond)
	}
	rec := wrecord(t,
		wcol{"id", arrow.BinaryTypes.String, ids},
		wcol{"s", arrow.BinaryTypes.String, s},
		wcol{"i", arrow.PrimitiveTypes.Int64, i64},
		wcol{"f", arrow.PrimitiveTypes.Float64, f64},
		wcol{"b", arrow.FixedWidthTypes.Boolean, bl},
		wcol{"d", arrow.FixedWidthTypes.Date32, dt},
		wcol{"t", codec.DatetimeType, ts},
	)
	st := write(t, w, rec, shard.WriteOptions{Prefix: prefix, KeyColumns: []string{"id"}, Pipeline: 100})
	wantCounts(t, st, n, 0, 0, 0)

	enc, err := codec.NewRowEncoder(rec.Schema(), codec.EncoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	parts, err := shard.PlanScan(ctx, w.client, shard.PlanOptions{Tasks: 4, Pattern: prefix + "*"})
	if err != nil {
		t.Fatalf("PlanScan: %v", err)
	}
	// key → column name → value (arrow's ValueStr, "<null>" for null)
	got := map[string]map[string]string{}
	var mu sync.Mutex
	for _, p := range parts {
		opts := shard.DefaultScanOptions(enc.Schema())
		opts.Pattern = prefix + "*"
		opts.Meta = codec.MetaColumns{Key: "_key"}
		_, err := shard.ScanPartition(ctx, w.client, p, opts, func(b arrow.RecordBatch) error {
			mu.Lock()
			defer mu.Unlock()
			keys := b.Column(0).(*array.String)
			for r := range int(b.NumRows()) {
				k := keys.Value(r)
				if _, dup := got[k]; dup {
					return fmt.Errorf("key %s scanned twice", k)
				}
				row := map[string]string{}
				for c := 1; c < int(b.NumCols()); c++ {
					row[b.ColumnName(c)] = b.Column(c).ValueStr(r)
				}
				got[k] = row
			}
			return nil
		})
		if err != nil {
			t.Fatalf("ScanPartition %+v: %v", p, err)
		}
	}
	if len(got) != n {
		t.Fatalf("scanned %d keys; want %d", len(got), n)
	}
	for r := range n {
		key := prefix + ids[r].(string)
		row, ok := got[key]
		if !ok {
			t.Fatalf("key %s not scanned", key)
		}
		for c := range int(rec.NumCols()) {
			name := rec.ColumnName(c)
			if want := rec.Column(c).ValueStr(r); row[name] != want {
				t.Errorf("%s field %s: scanned %q; wrote %q", key, name, row[name], want)
			}
		}
	}
}
