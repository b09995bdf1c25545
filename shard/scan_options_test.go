package shard

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/internal/redistest"
)

// TestScanOptions covers the fetch variants on a password-protected server
// and a non-zero database: HMGET and HGETALL, TTL column, missing fields,
// unparsable values (counted, or an error in strict mode), other types.
func TestScanOptions(t *testing.T) {
	srv := redistest.StartServerWith(t, redistest.ServerOptions{Password: "pw"})
	ctx := context.Background()
	c := dial(t, "redis://:pw@"+srv.Addr()+"/2")
	rdb := c.Redis()
	const n = 3000
	pipe := rdb.Pipeline()
	for i := range n {
		k := "r:" + strconv.Itoa(i)
		switch {
		case i%100 == 7:
			pipe.HSet(ctx, k, "name", "n"+strconv.Itoa(i), "age", "not-a-number", "extra", "x")
		case i%100 == 8:
			pipe.HSet(ctx, k, "extra", "only")
		default:
			pipe.HSet(ctx, k, "name", "n"+strconv.Itoa(i), "age", strconv.Itoa(i), "extra", "x")
		}
		if i%10 == 0 {
			pipe.Expire(ctx, k, 1_000_000*time.Second)
		}
	}
	pipe.Set(ctx, "r:string", "s", 0)
	pipe.RPush(ctx, "r:list", "a")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if srv.Client().DBSize(ctx).Val() != 0 {
		t.Fatal("keys landed in db 0")
	}
	schema, err := codec.ParseSchemaSpec("name:utf8,age:int64")
	if err != nil {
		t.Fatal(err)
	}
	parts, err := PlanScan(ctx, c, PlanOptions{Tasks: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, fetchAll := range []bool{false, true} {
		t.Run("fetchAll="+strconv.FormatBool(fetchAll), func(t *testing.T) {
			opts := ScanOptions{Schema: schema, Meta: codec.MetaColumns{Key: "_key", TTL: "_ttl", Index: "_index"},
				BatchSize: 500, FetchAll: fetchAll, Pattern: "r:*"}
			rows := 0
			var total ScanStats
			for _, p := range parts {
				st, err := ScanPartition(ctx, c, p, opts, func(rec arrow.RecordBatch) error {
					if rec.NumCols() != 4 || rec.Schema().Field(3).Name != "_ttl" {
						t.Fatalf("columns %v", rec.Schema())
					}
					keys := rec.Column(0).(*array.String)
					names := rec.Column(1).(*array.String)
					ages := rec.Column(2).(*array.Int64)
					ttls := rec.Column(3).(*array.Int64)
					for r := 0; r < int(rec.NumRows()); r++ {
						rows++
						i, _ := strconv.Atoi(keys.Value(r)[2:])
						switch i % 100 {
						case 7:
							if !ages.IsNull(r) || names.Value(r) != "n"+strconv.Itoa(i) {
								t.Errorf("row %d: bad age should be null", i)
							}
						case 8:
							if !names.IsNull(r) || !ages.IsNull(r) {
								t.Errorf("row %d: missing fields should be null", i)
							}
						default:
							if names.Value(r) != "n"+strconv.Itoa(i) || ages.Value(r) != int64(i) {
								t.Errorf("row %d: %q %d", i, names.Value(r), ages.Value(r))
							}
						}
						wantTTL := i%10 == 0
						if ttl := ttls.Value(r); (wantTTL && ttl < 999_000) || (!wantTTL && ttl != -1) {
							t.Errorf("row %d: ttl %d", i, ttl)
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				total.OtherTypes += st.OtherTypes
				total.Rows += st.Rows
				if st.Invalid["age"] > 0 {
					total.Invalid = map[string]int64{"age": total.Invalid["age"] + st.Invalid["age"]}
				}
			}
			if rows != n || total.Rows != n || total.Invalid["age"] != n/100 {
				t.Fatalf("rows %d (stats %d), invalid %v", rows, total.Rows, total.Invalid)
			}
		})
	}
	t.Run("strict", func(t *testing.T) {
		opts := ScanOptions{Schema: schema, Meta: codec.MetaColumns{Key: "_key"}, Strict: true}
		var perr *codec.ParseError
		failed := 0
		for _, p := range parts {
			_, err := ScanPartition(ctx, c, p, opts, func(arrow.RecordBatch) error { return nil })
			if err != nil {
				if !errors.As(err, &perr) || perr.Field != "age" || perr.Value != "not-a-number" {
					t.Fatalf("strict error %v", err)
				}
				failed++
			}
		}
		if failed == 0 {
			t.Fatal("strict mode accepted unparsable values")
		}
	})
	t.Run("emit-error", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := ScanPartition(ctx, c, parts[0], ScanOptions{Schema: schema, BatchSize: 10}, func(arrow.RecordBatch) error { return boom })
		if !errors.Is(err, boom) {
			t.Fatalf("emit error: %v", err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := ScanPartition(cctx, c, parts[0], ScanOptions{Schema: schema}, func(arrow.RecordBatch) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled scan: %v", err)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		if _, err := ScanPartition(ctx, c, parts[0], ScanOptions{}, nil); !errors.Is(err, ErrInvalidOptions) {
			t.Fatalf("no schema: %v", err)
		}
		if _, err := ScanPartition(ctx, c, Partition{Kind: "x", Node: "a"}, ScanOptions{Schema: schema}, nil); !errors.Is(err, ErrInvalidPartition) {
			t.Fatalf("bad partition: %v", err)
		}
	})
}
