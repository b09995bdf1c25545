package cluster

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/redis/go-redis/v9"
	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/internal/redistest"
	"github.com/redstage/redstage/shard"
)

// Run: go test ./cluster -run '^$' -bench BenchmarkProtocolOverhead -benchtime=1x -timeout 60m
// (docs/benchmarks-cluster.md has figures and the exact command).
var (
	benchRows   = flag.Int("cluster.rows", 1_000_000, "rows loaded and scanned by BenchmarkProtocolOverhead")
	benchRounds = flag.Int("cluster.rounds", 5, "alternating direct/embedded rounds per sub-benchmark")
)

const benchChunk = 65536

var benchSchemaSpec = "name:utf8,email:utf8,city:utf8,age:int64,visits:int64,score:float64,balance:float64,active:bool,born:date,seen:datetime"

// benchBatches returns rows of 10 columns (matching benchSchemaSpec) in
// batches of benchChunk rows.
func benchBatches(rows int) []arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "name", Type: arrow.BinaryTypes.String}, {Name: "email", Type: arrow.BinaryTypes.String},
		{Name: "city", Type: arrow.BinaryTypes.String}, {Name: "age", Type: arrow.PrimitiveTypes.Int64},
		{Name: "visits", Type: arrow.PrimitiveTypes.Int64}, {Name: "score", Type: arrow.PrimitiveTypes.Float64},
		{Name: "balance", Type: arrow.PrimitiveTypes.Float64}, {Name: "active", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "born", Type: arrow.FixedWidthTypes.Date32}, {Name: "seen", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	}, nil)
	cities := []string{"Lisbon", "Oslo", "Lyon", "Austin", "Osaka", "Quito"}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	var out []arrow.RecordBatch
	for i := 0; i < rows; i++ {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("name %d", i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("user%d@example.com", i))
		b.Field(2).(*array.StringBuilder).Append(cities[i%len(cities)])
		b.Field(3).(*array.Int64Builder).Append(int64(18 + i%70))
		b.Field(4).(*array.Int64Builder).Append(int64(i * 7 % 10007))
		b.Field(5).(*array.Float64Builder).Append(float64(i%1000) / 8)
		b.Field(6).(*array.Float64Builder).Append(float64(i) * 1.25)
		b.Field(7).(*array.BooleanBuilder).Append(i%3 == 0)
		b.Field(8).(*array.Date32Builder).Append(arrow.Date32(10000 + i%5000))
		b.Field(9).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000_000_000 + int64(i)*1_000_000))
		if b.Field(0).Len() == benchChunk {
			out = append(out, b.NewRecordBatch())
		}
	}
	if b.Field(0).Len() > 0 {
		out = append(out, b.NewRecordBatch())
	}
	return out
}

// BenchmarkProtocolOverhead compares, on one redis-server and in one
// process, loading and scanning N rows × 10 fields (a) by calling shard's
// executors directly with one goroutine per CPU and (b) through the
// embedded default (in-process NATS with JetStream, coordinator, one worker
// per CPU, client upload / result merge). The two run alternately; metrics
// are medians: rows/s, CPU µs per row (this process + redis-server), and
// the overheads wall-overhead-% = 1 - embedded/direct rate and
// cpu-overhead-% = embedded/direct CPU per row - 1.
func BenchmarkProtocolOverhead(b *testing.B) {
	rows := *benchRows
	rs := redistest.StartServer(b)
	ctx := context.Background()
	recs := benchBatches(rows)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	schema, err := codec.ParseSchemaSpec(benchSchemaSpec)
	if err != nil {
		b.Fatal(err)
	}
	loadSpec := JobSpec{Kind: KindLoad, Redis: rs.URL(), Load: &LoadSpec{Prefix: "bench:", Mode: "replace"}}
	scanSpec := JobSpec{Kind: KindScan, Redis: rs.URL(), Scan: &ScanSpec{Pattern: "bench:*", Schema: schema,
		Meta: codec.MetaColumns{Key: "_key", Index: "_index"}}}
	cfg := DefaultEmbeddedConfig()
	e, err := StartEmbedded(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	sc, err := shard.Dial(ctx, rs.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer sc.Close()
	rdb := rs.Client()
	type sample struct{ rate, cli, srv float64 }
	// measure runs fn once and returns rows/s (wall) and CPU per row of
	// this process (client, NATS, coordinator, workers) and of
	// redis-server; CPU per row does not depend on what else runs on the
	// machine, the wall rate does.
	measure := func(b *testing.B, fn func() error) sample {
		w0, c0, s0 := time.Now(), selfCPU(b), redisCPU(b, rdb)
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		n := float64(rows)
		return sample{n / time.Since(w0).Seconds(), (selfCPU(b) - c0) / n * 1e6, (redisCPU(b, rdb) - s0) / n * 1e6}
	}
	// compare runs direct and embedded alternately, rounds times, and
	// reports medians and the median per-round overhead, so that load
	// drifting on a shared machine hits both sides alike.
	compare := func(b *testing.B, prepare func(b *testing.B), direct, embedded func() error) {
		var d, em []sample
		var wallOver, cpuOver []float64
		for range *benchRounds {
			prepare(b)
			d = append(d, measure(b, direct))
			prepare(b)
			em = append(em, measure(b, embedded))
			dl, el := d[len(d)-1], em[len(em)-1]
			wallOver = append(wallOver, 100*(1-el.rate/dl.rate))
			cpuOver = append(cpuOver, 100*((el.cli+el.srv)/(dl.cli+dl.srv)-1))
		}
		med := func(f func(sample) float64, xs []sample) float64 {
			v := make([]float64, len(xs))
			for i, x := range xs {
				v[i] = f(x)
			}
			return median(v)
		}
		rate := func(x sample) float64 { return x.rate }
		cpu := func(x sample) float64 { return x.cli + x.srv }
		cli := func(x sample) float64 { return x.cli }
		b.ReportMetric(med(rate, d), "direct-rows/s")
		b.ReportMetric(med(rate, em), "embedded-rows/s")
		b.ReportMetric(median(wallOver), "wall-overhead-%")
		b.ReportMetric(med(cpu, d), "direct-cpu-us/row")
		b.ReportMetric(med(cpu, em), "embedded-cpu-us/row")
		b.ReportMetric(med(cli, d), "direct-cli-us/row")
		b.ReportMetric(med(cli, em), "embedded-cli-us/row")
		b.ReportMetric(median(cpuOver), "cpu-overhead-%")
		for i := range d {
			b.Logf("round %d: direct %.0f rows/s %.2f+%.2f us/row; embedded %.0f rows/s %.2f+%.2f us/row",
				i+1, d[i].rate, d[i].cli, d[i].srv, em[i].rate, em[i].cli, em[i].srv)
		}
	}
	noop := func(*testing.B) {}
	flushAll := func(b *testing.B) {
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			b.Fatal(err)
		}
	}
	ensureLoaded := func(b *testing.B) {
		if n, _ := rdb.DBSize(ctx).Result(); n == int64(rows) {
			return
		}
		flushAll(b)
		if err := directLoad(ctx, sc, loadSpec, recs); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("load", func(b *testing.B) {
		for range b.N {
			compare(b, flushAll, func() error {
				return directLoad(ctx, sc, loadSpec, recs)
			}, func() error {
				for _, r := range recs {
					r.Retain() // the load releases what it reads
				}
				defer func() {
					for _, r := range recs {
						r.Release()
					}
				}()
				job, err := e.Client().Load(ctx, loadSpec, []LoadInput{{Name: "bench", Source: &sliceSource{recs: recs}}})
				if err != nil {
					return err
				}
				defer job.Close()
				res, err := job.Wait(ctx)
				if err == nil && res.Written != int64(rows) {
					err = fmt.Errorf("written %d, want %d", res.Written, rows)
				}
				return err
			})
		}
	})
	b.Run("scan", func(b *testing.B) {
		ensureLoaded(b)
		for range b.N {
			compare(b, noop, func() error {
				n, err := directScan(ctx, sc, scanSpec)
				if err == nil && n != int64(rows) {
					err = fmt.Errorf("scanned %d, want %d", n, rows)
				}
				return err
			}, func() error {
				n, err := embeddedScan(ctx, e.Client(), scanSpec)
				if err == nil && n != int64(rows) {
					err = fmt.Errorf("scanned %d, want %d", n, rows)
				}
				return err
			})
		}
	})
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// directLoad writes the batches with shard.WriteBatch, one goroutine per CPU.
func directLoad(ctx context.Context, c *shard.Client, spec JobSpec, recs []arrow.RecordBatch) error {
	offsets := make([]uint64, len(recs))
	var off uint64
	for i, r := range recs {
		offsets[i] = off
		off += uint64(r.NumRows())
	}
	return parallel(len(recs), func(i int) error {
		_, err := shard.WriteBatch(ctx, c, recs[i], writeOptions(&spec, offsets[i]))
		return err
	})
}

// directScan plans like the coordinator and scans the partitions with one
// goroutine per CPU, counting rows.
func directScan(ctx context.Context, c *shard.Client, spec JobSpec) (int64, error) {
	parts, err := shard.PlanScan(ctx, c, shard.PlanOptions{Pattern: spec.Scan.Pattern})
	if err != nil {
		return 0, err
	}
	var mu sync.Mutex
	var n int64
	err = parallel(len(parts), func(i int) error {
		sc := spec.Scan
		st, err := shard.ScanPartition(ctx, c, parts[i], shard.ScanOptions{Pattern: sc.Pattern, Schema: sc.Schema, Meta: sc.Meta},
			func(rec arrow.RecordBatch) error { return nil })
		mu.Lock()
		n += st.Rows
		mu.Unlock()
		return err
	})
	return n, err
}

func embeddedScan(ctx context.Context, c *Client, spec JobSpec) (int64, error) {
	job, err := c.Submit(ctx, spec)
	if err != nil {
		return 0, err
	}
	defer job.Close()
	return drainScan(ctx, job)
}

// parallel runs fn(0..n-1) on one goroutine per CPU; first error wins.
func parallel(n int, fn func(i int) error) error {
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// selfCPU is this process's user+system CPU time in seconds.
func selfCPU(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// redisCPU is redis-server's user+system CPU time in seconds (INFO cpu).
func redisCPU(b *testing.B, rdb *redis.Client) float64 {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var t float64
	for _, line := range strings.Split(info, "\n") {
		name, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (name == "used_cpu_sys" || name == "used_cpu_user") {
			v, _ := strconv.ParseFloat(val, 64)
			t += v
		}
	}
	return t
}
