package shard_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// Run: go test ./shard -run '^$' -bench BenchmarkWriteVsPeers -benchtime=1x -timeout 60m
// (docs/benchmarks-shard-write.md has figures and the exact command).
var (
	benchWriteRows  = flag.Int("write.rows", 1_000_000, "rows written by BenchmarkWriteVsPeers")
	benchWriteChunk = flag.Int("write.chunk", 65536, "rows per record batch (one WriteBatch call)")
)

// BenchmarkWriteVsPeers writes the same 1M rows × 10 fields into one
// redis-server with redis-benchmark (-P 64 HSET with 10 fields, the
// pipelined ceiling), redis-cli --pipe (the same HSET commands WriteBatch
// sends in append mode, as raw RESP) and WriteBatch (1 task, 4 concurrent
// tasks; each mode). Run the sub-benchmarks in one process with
// -benchtime=1x: the ratios compare with the redis-benchmark run of the
// same process. Metrics: rows/s, x-redis-benchmark (rate / redis-benchmark
// rate), srv-us/row (redis-server main thread CPU per row), cli-us/row
// (client CPU per row: this process, or the peer's process).
func BenchmarkWriteVsPeers(b *testing.B) {
	srv := redistest.StartServer(b)
	ctx := context.Background()
	c, err := shard.Dial(ctx, srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	rdb := srv.Client()
	chunks := benchWriteChunks(b, *benchWriteRows, *benchWriteChunk)
	rows := *benchWriteRows
	var baseline float64 // redis-benchmark rows/s of this run
	report := func(b *testing.B, rate, srvUS, cliUS float64) {
		b.ReportMetric(rate, "rows/s")
		b.ReportMetric(srvUS, "srv-us/row")
		b.ReportMetric(cliUS, "cli-us/row")
		if baseline > 0 {
			b.ReportMetric(rate/baseline, "x-redis-benchmark")
		}
	}
	flush := func(b *testing.B) {
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("redis-benchmark-P64", func(b *testing.B) {
		args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(srv.Port()), "-P", "64", "-n", strconv.Itoa(rows),
			"-r", strconv.Itoa(rows), "--csv", "hset", "key:__rand_int__"}
		for i := 1; i <= 10; i++ {
			args = append(args, fmt.Sprintf("f%d", i), fmt.Sprintf("v%d", i))
		}
		for range b.N {
			flush(b)
			cpu0 := serverCPU(b, rdb)
			cmd := exec.Command("redis-benchmark", args...)
			out, err := cmd.Output()
			if err != nil {
				b.Fatalf("redis-benchmark: %v: %s", err, out)
			}
			rate := parseBenchmarkCSV(b, out)
			baseline = rate
			report(b, rate, (serverCPU(b, rdb)-cpu0)/float64(rows)*1e6, procCPU(cmd.ProcessState)/float64(rows)*1e6)
		}
	})

	b.Run("redis-cli-pipe", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "hset.resp")
		writeRESP(b, path, chunks)
		for range b.N {
			flush(b)
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			cpu0 := serverCPU(b, rdb)
			cmd := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(srv.Port()), "--pipe")
			cmd.Stdin = f
			start := time.Now()
			out, err := cmd.CombinedOutput()
			elapsed := time.Since(start)
			f.Close()
			if err != nil || !strings.Contains(string(out), "errors: 0,") {
				b.Fatalf("redis-cli --pipe: %v: %s", err, out)
			}
			report(b, float64(rows)/elapsed.Seconds(), (serverCPU(b, rdb)-cpu0)/float64(rows)*1e6, procCPU(cmd.ProcessState)/float64(rows)*1e6)
			checkKeys(b, rdb, int64(rows))
		}
	})

	cases := []struct {
		name     string
		mode     shard.WriteMode
		tasks    int
		existing bool // the keys exist already (written before the timed run)
		restore  bool // new keys written with RESTORE (default)
	}{
		{"append-1task", shard.ModeAppend, 1, false, true},
		{"append-4task", shard.ModeAppend, 4, false, true},
		{"replace-1task", shard.ModeReplace, 1, false, true},
		{"replace-4task", shard.ModeReplace, 4, false, true},
		{"skip-1task", shard.ModeSkip, 1, false, true},
		{"replace-no-restore-1task", shard.ModeReplace, 1, false, false},
		{"append-no-restore-1task", shard.ModeAppend, 1, false, false},
		{"replace-existing-1task", shard.ModeReplace, 1, true, true},
		{"replace-existing-4task", shard.ModeReplace, 4, true, true},
		{"skip-existing-1task", shard.ModeSkip, 1, true, true},
		{"append-existing-1task", shard.ModeAppend, 1, true, true},
	}
	for _, tc := range cases {
		b.Run("WriteBatch-"+tc.name, func(b *testing.B) {
			defer shard.SetWriteRestore(tc.restore)()
			opts := shard.WriteOptions{Prefix: "key:", Mode: tc.mode}
			for range b.N {
				flush(b)
				if tc.existing {
					writeChunks(b, c, chunks, 4, opts)
				}
				cpu0 := serverCPU(b, rdb)
				var ru0 syscall.Rusage
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
				b.ResetTimer()
				start := time.Now()
				writeChunks(b, c, chunks, tc.tasks, opts)
				elapsed := time.Since(start)
				b.StopTimer()
				var ru1 syscall.Rusage
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
				cli := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
				report(b, float64(rows)/elapsed.Seconds(), (serverCPU(b, rdb)-cpu0)/float64(rows)*1e6, cli.Seconds()/float64(rows)*1e6)
				checkKeys(b, rdb, int64(rows))
			}
		})
	}
}

// writeChunks writes the chunks with tasks concurrent "tasks" (goroutines
// taking every tasks-th chunk, as workers of one job would).
func writeChunks(b *testing.B, c *shard.Client, chunks []arrow.RecordBatch, tasks int, opts shard.WriteOptions) {
	var wg sync.WaitGroup
	errs := make([]error, tasks)
	for t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			offset := uint64(0)
			for i, rec := range chunks {
				o := opts
				o.IndexOffset = offset
				offset += uint64(rec.NumRows())
				if i%tasks != t {
					continue
				}
				st, err := shard.WriteBatch(context.Background(), c, rec, o)
				if err == nil && st.Written+st.Skipped != rec.NumRows() {
					err = fmt.Errorf("chunk %d: %+v", i, st)
				}
				if err != nil {
					errs[t] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

func checkKeys(b *testing.B, rdb *redis.Client, want int64) {
	b.Helper()
	n, err := rdb.DBSize(context.Background()).Result()
	if err != nil || n != want {
		b.Fatalf("DBSIZE = %d, %v; want %d", n, err, want)
	}
}

// benchWriteChunks builds rows × 10 fields of mixed types, short values
// like redis-benchmark's: ints, floats, short strings, bools, dates,
// timestamps.
func benchWriteChunks(b *testing.B, rows, chunk int) []arrow.RecordBatch {
	b.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "f1", Type: arrow.PrimitiveTypes.Int64},
		{Name: "f2", Type: arrow.BinaryTypes.String},
		{Name: "f3", Type: arrow.PrimitiveTypes.Float64},
		{Name: "f4", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "f5", Type: arrow.BinaryTypes.String},
		{Name: "f6", Type: arrow.PrimitiveTypes.Int64},
		{Name: "f7", Type: arrow.FixedWidthTypes.Date32},
		{Name: "f8", Type: arrow.BinaryTypes.String},
		{Name: "f9", Type: arrow.PrimitiveTypes.Int64},
		{Name: "f10", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	}, nil)
	words := []string{"red", "green", "blue", "cyan", "amber", "violet", "teal", "rose"}
	var out []arrow.RecordBatch
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bld.Release()
	for lo := 0; lo < rows; lo += chunk {
		for i := lo; i < min(lo+chunk, rows); i++ {
			bld.Field(0).(*array.Int64Builder).Append(int64(i))
			bld.Field(1).(*array.StringBuilder).Append(words[i%len(words)])
			bld.Field(2).(*array.Float64Builder).Append(float64(i%1000) / 8)
			bld.Field(3).(*array.BooleanBuilder).Append(i%3 == 0)
			bld.Field(4).(*array.StringBuilder).Append("v" + strconv.Itoa(i%97))
			bld.Field(5).(*array.Int64Builder).Append(int64(i % 100_000))
			bld.Field(6).(*array.Date32Builder).Append(arrow.Date32(19000 + i%365))
			bld.Field(7).(*array.StringBuilder).Append(words[(i/8)%len(words)])
			bld.Field(8).(*array.Int64Builder).Append(int64(i * 7 % 1000))
			bld.Field(9).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000_000_000 + int64(i)*1_000_000))
		}
		rec := bld.NewRecordBatch()
		b.Cleanup(rec.Release)
		out = append(out, rec)
	}
	return out
}

// writeRESP writes the HSET commands WriteBatch sends in append mode for
// chunks (key "key:<row>") as raw RESP, for redis-cli --pipe.
func writeRESP(b *testing.B, path string, chunks []arrow.RecordBatch) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	enc, err := codec.NewRowEncoder(chunks[0].Schema(), codec.EncoderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var args []string
	row := 0
	for _, rec := range chunks {
		for r := range int(rec.NumRows()) {
			args = append(args[:0], "HSET", "key:"+strconv.Itoa(row))
			if args, err = enc.AppendRow(args, rec, r); err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(w, "*%d\r\n", len(args))
			for _, a := range args {
				fmt.Fprintf(w, "$%d\r\n%s\r\n", len(a), a)
			}
			row++
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

// parseBenchmarkCSV reads requests per second from redis-benchmark --csv.
func parseBenchmarkCSV(b *testing.B, out []byte) float64 {
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

// serverCPU is the CPU time (s) of redis-server's main thread.
func serverCPU(b *testing.B, rdb redis.UniversalClient) float64 {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var t float64
	for _, line := range strings.Split(info, "\n") {
		name, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (name == "used_cpu_sys_main_thread" || name == "used_cpu_user_main_thread") {
			v, _ := strconv.ParseFloat(val, 64)
			t += v
		}
	}
	return t
}

func procCPU(ps *os.ProcessState) float64 {
	if ps == nil {
		return 0
	}
	return (ps.UserTime() + ps.SystemTime()).Seconds()
}

// BenchmarkWriteLanes measures the pipelining knobs of one WriteBatch task
// (append and replace mode): pipelines in flight per master and keys per
// pipeline on a standalone server, and per-master lanes against go-redis
// splitting mixed pipelines on a 3-master cluster.
func BenchmarkWriteLanes(b *testing.B) {
	rows := min(*benchWriteRows, 300_000)
	chunks := benchWriteChunks(b, rows, *benchWriteChunk)
	run := func(b *testing.B, c *shard.Client, flush func(), opts shard.WriteOptions) {
		for range b.N {
			flush()
			b.ResetTimer()
			start := time.Now()
			writeChunks(b, c, chunks, 1, opts)
			b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
		}
	}
	b.Run("standalone", func(b *testing.B) {
		srv := redistest.StartServer(b)
		c, err := shard.Dial(context.Background(), srv.URL())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		for _, mode := range []shard.WriteMode{shard.ModeAppend, shard.ModeReplace} {
			for _, inflight := range []int{1, 2, 3, 4} {
				for _, pipe := range []int{128, 512, 2048} {
					b.Run(fmt.Sprintf("%s-inflight%d-pipeline%d", mode, inflight, pipe), func(b *testing.B) {
						run(b, c, srv.FlushAll, shard.WriteOptions{Prefix: "key:", Mode: mode, InFlight: inflight, Pipeline: pipe})
					})
				}
			}
		}
	})
	b.Run("cluster", func(b *testing.B) {
		cl := redistest.StartCluster(b, redistest.ClusterOptions{})
		c, err := shard.Dial(context.Background(), cl.URL())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		for _, mode := range []shard.WriteMode{shard.ModeAppend, shard.ModeReplace} {
			for _, perMaster := range []bool{true, false} {
				b.Run(fmt.Sprintf("%s-lanes-per-master-%v", mode, perMaster), func(b *testing.B) {
					defer shard.SetWriteLanesPerMaster(perMaster)()
					run(b, c, cl.FlushAll, shard.WriteOptions{Prefix: "key:", Mode: mode})
				})
			}
		}
	})
}

// BenchmarkWriteStrategies compares the server cost of the ways to write
// one hash of 10 fields atomically, with go-redis pipelines of 512 keys,
// on new keys and on keys that hold a hash already: plain HSET (append),
// MULTI/DEL/HSET/EXEC (replace, but it deletes a key of any type), the
// write script (fields as arguments), RESTORE of a serialized hash (new
// keys; BUSYKEY on existing ones), the restore script (replace an existing
// hash from the payload) and TYPE (the skip probe). Metric srv-us/key is
// redis-server main-thread CPU per key: the inverse of the rate one server
// can reach.
func BenchmarkWriteStrategies(b *testing.B) {
	srv := redistest.StartServer(b)
	rdb := srv.Client()
	ctx := context.Background()
	sha, err := rdb.ScriptLoad(ctx, shard.WriteScriptSource).Result()
	if err != nil {
		b.Fatal(err)
	}
	rsha, err := rdb.ScriptLoad(ctx, shard.RestoreScriptSource).Result()
	if err != nil {
		b.Fatal(err)
	}
	const keys = 200_000
	fields := make([]any, 0, 20)
	kv := make([]string, 0, 20)
	for i := 1; i <= 10; i++ {
		fields = append(fields, fmt.Sprintf("f%d", i), fmt.Sprintf("value%d", i))
		kv = append(kv, fmt.Sprintf("f%d", i), fmt.Sprintf("value%d", i))
	}
	payload := shard.HashDump(kv)
	strategies := []struct {
		name     string
		existing bool
		cmds     func(key string) [][]any
	}{
		{"hset", false, func(k string) [][]any { return [][]any{append([]any{"hset", k}, fields...)} }},
		{"hset-existing", true, func(k string) [][]any { return [][]any{append([]any{"hset", k}, fields...)} }},
		{"multi-del-hset-exec", false, func(k string) [][]any {
			return [][]any{{"multi"}, {"del", k}, append([]any{"hset", k}, fields...), {"exec"}}
		}},
		{"write-script-replace", false, func(k string) [][]any {
			return [][]any{append([]any{"evalsha", sha, 1, k, "replace", "", ""}, fields...)}
		}},
		{"write-script-replace-existing", true, func(k string) [][]any {
			return [][]any{append([]any{"evalsha", sha, 1, k, "replace", "", ""}, fields...)}
		}},
		{"write-script-skip-existing", true, func(k string) [][]any {
			return [][]any{append([]any{"evalsha", sha, 1, k, "skip", "", ""}, fields...)}
		}},
		{"write-script-replace-ttl", false, func(k string) [][]any {
			return [][]any{append([]any{"evalsha", sha, 1, k, "replace", "px", "3600000"}, fields...)}
		}},
		{"multi-hset-pexpire-exec", false, func(k string) [][]any {
			return [][]any{{"multi"}, append([]any{"hset", k}, fields...), {"pexpire", k, 3600000}, {"exec"}}
		}},
		{"restore", false, func(k string) [][]any { return [][]any{{"restore", k, 0, payload}} }},
		{"restore-ttl", false, func(k string) [][]any { return [][]any{{"restore", k, 3600000, payload}} }},
		{"restore-busykey", true, func(k string) [][]any { return [][]any{{"restore", k, 0, payload}} }},
		{"restore-script-existing", true, func(k string) [][]any {
			return [][]any{{"evalsha", rsha, 1, k, 0, payload, ""}}
		}},
		{"type-existing", true, func(k string) [][]any { return [][]any{{"type", k}} }},
	}
	run := func(b *testing.B, cmds func(string) [][]any) {
		for lo := 0; lo < keys; lo += 512 {
			pipe := rdb.Pipeline()
			for i := lo; i < min(lo+512, keys); i++ {
				for _, args := range cmds("key:" + strconv.Itoa(i)) {
					pipe.Do(ctx, args...)
				}
			}
			if _, err := pipe.Exec(ctx); err != nil && !strings.HasPrefix(err.Error(), "BUSYKEY") {
				b.Fatal(err)
			}
		}
	}
	for _, s := range strategies {
		b.Run(s.name, func(b *testing.B) {
			for range b.N {
				srv.FlushAll()
				if s.existing {
					run(b, func(k string) [][]any { return [][]any{{"restore", k, 0, payload}} })
				}
				cpu0 := serverCPU(b, rdb)
				start := time.Now()
				run(b, s.cmds)
				elapsed := time.Since(start)
				b.ReportMetric((serverCPU(b, rdb)-cpu0)/keys*1e6, "srv-us/key")
				b.ReportMetric(keys/elapsed.Seconds(), "keys/s")
				checkKeys(b, rdb, keys)
			}
		})
	}
}

// BenchmarkWriteACL compares the write paths chosen by what the ACL user
// may run: all commands; no CONFIG (every row sent as a type-4 payload the
// server encodes itself); no EVAL/EVALSHA/SCRIPT (existing keys through
// WATCH/TYPE/MULTI/EXEC). "new": keys that do not exist; "replace": every
// key exists. 4 concurrent tasks.
// Run: go test ./shard -run '^$' -bench BenchmarkWriteACL -benchtime=1x -write.rows 200000
func BenchmarkWriteACL(b *testing.B) {
	srv := redistest.StartServer(b)
	ctx := context.Background()
	rdb := srv.Client()
	users := []struct{ name, rules string }{
		{"all", ""},
		{"noconfig", "-config"},
		{"noeval", "-eval -evalsha -script"},
	}
	chunks := benchWriteChunks(b, *benchWriteRows, *benchWriteChunk)
	rows := *benchWriteRows
	for _, u := range users {
		url := srv.URL()
		if u.rules != "" {
			args := []any{"acl", "setuser", u.name, "reset", "on", ">pw", "~*", "&*", "+@all"}
			for _, r := range strings.Fields(u.rules) {
				args = append(args, r)
			}
			if err := rdb.Do(ctx, args...).Err(); err != nil {
				b.Fatal(err)
			}
			url = "redis://" + u.name + ":pw@" + srv.Addr()
		}
		c, err := shard.Dial(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		for _, phase := range []string{"new", "replace"} {
			b.Run(u.name+"/"+phase, func(b *testing.B) {
				for range b.N {
					if phase == "new" {
						rdb.FlushAll(ctx)
					}
					cpu0, t0 := serverCPU(b, rdb), time.Now()
					writeChunks(b, c, chunks, 4, shard.WriteOptions{Prefix: "b:", Mode: shard.ModeReplace})
					d := time.Since(t0)
					b.ReportMetric(float64(rows)/d.Seconds(), "rows/s")
					b.ReportMetric((serverCPU(b, rdb)-cpu0)*1e6/float64(rows), "srv-us/row")
					checkKeys(b, rdb, int64(rows))
				}
			})
		}
		c.Close()
	}
}
