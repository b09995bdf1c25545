package shard

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/internal/redistest"
)

// Run: go test ./shard -run '^$' -bench 'BenchmarkScan' -benchtime=1x -timeout 30m
// (docs/benchmarks-shard-scan.md has figures and the exact command).
var (
	benchScanKeys  = flag.Int("scan.keys", 1_000_000, "hashes (10 fields) loaded for BenchmarkScanVsPeers")
	benchScanSmall = flag.Int("scan.small", 250_000, "hashes of the smaller data set of BenchmarkScanMemory")
)

// benchKey is the key name redis-benchmark -r uses for __rand_int__.
func benchKey(i int) string { return fmt.Sprintf("key:%012d", i) }

// loadBench loads n hashes of 10 fields f1..f10 (values of 10-12 bytes, like
// the redis-benchmark HSET below) into db of srv.
func loadBench(b *testing.B, srv *redistest.Server, db, n int) {
	b.Helper()
	gen := func(i int) []string {
		args := make([]string, 0, 22)
		args = append(args, "HSET", benchKey(i))
		for f := 1; f <= 10; f++ {
			args = append(args, "f"+strconv.Itoa(f), fmt.Sprintf("value-%05d", (i+f)%100000))
		}
		return args
	}
	if db != 0 {
		// The raw loader writes to db 0; move the keys afterwards.
		srv.Load(n, gen)
		if err := srv.Client().Do(context.Background(), "SWAPDB", 0, db).Err(); err != nil {
			b.Fatal(err)
		}
		return
	}
	srv.Load(n, gen)
}

func benchSchema(b *testing.B) *codec.Schema {
	var spec []string
	for f := 1; f <= 10; f++ {
		spec = append(spec, "f"+strconv.Itoa(f)+":utf8")
	}
	s, err := codec.ParseSchemaSpec(strings.Join(spec, ","))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// serverCPUSeconds is the CPU time of redis-server's main thread.
func serverCPUSeconds(b *testing.B, srv *redistest.Server) float64 {
	info, err := srv.Client().Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	user, _ := strconv.ParseFloat(redistest.InfoField(info, "used_cpu_user_main_thread"), 64)
	sys, _ := strconv.ParseFloat(redistest.InfoField(info, "used_cpu_sys_main_thread"), 64)
	return user + sys
}

// redisBenchmark runs redis-benchmark -P 64 and returns its requests/s.
func redisBenchmark(b *testing.B, srv *redistest.Server, n int, args ...string) float64 {
	b.Helper()
	all := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(srv.Port()), "-P", "64", "-n", strconv.Itoa(n),
		"-r", strconv.Itoa(n), "--csv"}, args...)
	out, err := exec.Command("redis-benchmark", all...).Output()
	if err != nil {
		b.Fatalf("redis-benchmark %v: %v: %s", args, err, out)
	}
	recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil || len(recs) < 2 || len(recs[1]) < 2 {
		b.Fatalf("redis-benchmark output: %v: %q", err, out)
	}
	rate, err := strconv.ParseFloat(recs[1][1], 64)
	if err != nil {
		b.Fatalf("redis-benchmark rps %q: %v", recs[1][1], err)
	}
	return rate
}

// scanAll scans every partition of a plan for `tasks` partitions, all at
// once, and returns the rows.
func scanAll(b *testing.B, c *Client, tasks int, opts ScanOptions) int64 {
	b.Helper()
	ctx := context.Background()
	parts, err := PlanScan(ctx, c, PlanOptions{Tasks: tasks})
	if err != nil {
		b.Fatal(err)
	}
	if len(parts) != tasks {
		b.Fatalf("planned %d partitions, want %d", len(parts), tasks)
	}
	var rows atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(parts))
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := ScanPartition(ctx, c, p, opts, func(rec arrow.RecordBatch) error {
				rows.Add(rec.NumRows())
				return nil
			})
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return rows.Load()
}

// BenchmarkScanVsPeers scans 1M hashes × 10 fields of one redis-server into
// Arrow record batches with 1 and 4 tasks, next to redis-benchmark -P 64
// HGETALL and HSET (10 fields) on the same keys, in the same process. Run
// with -benchtime=1x: the x-hgetall ratio compares with the HGETALL run of
// the same invocation. Metrics: rows/s (requests/s for redis-benchmark),
// x-hgetall (scan rows/s / redis-benchmark HGETALL requests/s).
func BenchmarkScanVsPeers(b *testing.B) {
	srv := redistest.StartServer(b)
	n := *benchScanKeys
	loadBench(b, srv, 0, n)
	c := dial(b, srv.URL())
	var hgetall float64
	b.Run("redis-benchmark-P64-hgetall", func(b *testing.B) {
		for range b.N {
			cpu := serverCPUSeconds(b, srv)
			hgetall = redisBenchmark(b, srv, n, "hgetall", "key:__rand_int__")
			b.ReportMetric(hgetall, "rows/s")
			b.ReportMetric((serverCPUSeconds(b, srv)-cpu)/float64(n)*1e6, "srv-us/row")
		}
	})
	b.Run("redis-benchmark-P64-hset10", func(b *testing.B) {
		args := []string{"hset", "key:__rand_int__"}
		for f := 1; f <= 10; f++ {
			args = append(args, "f"+strconv.Itoa(f), fmt.Sprintf("value-%05d", f))
		}
		for range b.N {
			cpu := serverCPUSeconds(b, srv)
			b.ReportMetric(redisBenchmark(b, srv, n, args...), "rows/s")
			b.ReportMetric((serverCPUSeconds(b, srv)-cpu)/float64(n)*1e6, "srv-us/row")
		}
	})
	for _, fetchAll := range []bool{false, true} {
		for _, tasks := range []int{1, 4} {
			name := fmt.Sprintf("ScanPartition-hmget-%dtask", tasks)
			if fetchAll {
				name = fmt.Sprintf("ScanPartition-hgetall-%dtask", tasks)
			}
			b.Run(name, func(b *testing.B) {
				opts := DefaultScanOptions(benchSchema(b))
				opts.FetchAll = fetchAll
				for range b.N {
					cpu := serverCPUSeconds(b, srv)
					var ru0, ru1 syscall.Rusage
					_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
					start := time.Now()
					rows := scanAll(b, c, tasks, opts)
					rate := float64(rows) / time.Since(start).Seconds()
					_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
					cli := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
					b.ReportMetric((serverCPUSeconds(b, srv)-cpu)/float64(n)*1e6, "srv-us/row")
					b.ReportMetric(cli.Seconds()/float64(n)*1e6, "cli-us/row")
					if rows != int64(n) {
						b.Fatalf("scanned %d rows of %d", rows, n)
					}
					b.ReportMetric(rate, "rows/s")
					if hgetall > 0 {
						b.ReportMetric(rate/hgetall, "x-hgetall")
					}
				}
			})
		}
	}
}

// BenchmarkScanMemory reports the heap high-water mark of one scan task
// (runtime.ReadMemStats sampled every 2 ms) over a small and a large data
// set with the same batch size: bounded by the batch size, not by the keys.
func BenchmarkScanMemory(b *testing.B) {
	srv := redistest.StartServer(b)
	loadBench(b, srv, 1, *benchScanSmall)
	loadBench(b, srv, 0, *benchScanKeys)
	for _, db := range []int{1, 0} {
		for _, batch := range []int{8192, 65536} {
			c := dial(b, fmt.Sprintf("%s/%d", srv.URL(), db))
			keys := c.Node("").DBSize(context.Background()).Val()
			b.Run(fmt.Sprintf("keys=%d/batch=%d", keys, batch), func(b *testing.B) {
				opts := DefaultScanOptions(benchSchema(b))
				opts.BatchSize = batch
				for range b.N {
					runtime.GC()
					var base runtime.MemStats
					runtime.ReadMemStats(&base)
					peak := sampleHeap(func() { scanAll(b, c, 1, opts) })
					b.ReportMetric(float64(peak-base.HeapAlloc)/(1<<20), "peak-heap-MiB")
				}
			})
		}
	}
}

// sampleHeap runs fn while sampling HeapAlloc and returns the maximum.
func sampleHeap(fn func()) uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		var ms runtime.MemStats
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(done)
	<-stopped
	return peak.Load()
}
