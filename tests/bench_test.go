package tests

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redstage/redstage/internal/redistest"
)

// Benchmarks of the whole system with real processes. Figures and the exact
// commands are in docs/benchmarks-e2e.md. Every iteration runs the redstage
// CLI as a process, so use a small -benchtime such as 3x.

func benchRows(b *testing.B, def int) int {
	if s := os.Getenv("REDSTAGE_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("REDSTAGE_BENCH_ROWS=%q: want a positive row count", s)
		}
		return n
	}
	return def
}

// BenchmarkClusterWorkers loads and scans rows against a 3-master Redis
// Cluster with 1, 2 and 4 worker processes (concurrency 2 each).
func BenchmarkClusterWorkers(b *testing.B) {
	n := benchRows(b, 500_000)
	input := filepath.Join(b.TempDir(), "input.parquet")
	writeDataset(b, input, 0, n)
	rc := redistest.StartCluster(b, redistest.ClusterOptions{Masters: 3})
	for _, workers := range []int{1, 2, 4} {
		tc := startCluster(b, workers)
		env := tc.env(rc.URL())
		load := []string{"load", input, "--key-column", "id", "--prefix", "bw:", "--quiet"}
		b.Run(fmt.Sprintf("load/workers=%d", workers), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				rc.FlushAll()
				b.StartTimer()
				mustRedstage(b, env, 30*time.Minute, load...)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
		b.Run(fmt.Sprintf("scan/workers=%d", workers), func(b *testing.B) {
			b.StopTimer()
			rc.FlushAll()
			mustRedstage(b, env, 30*time.Minute, load...)
			out := filepath.Join(b.TempDir(), "out.parquet")
			b.StartTimer()
			for i := 0; i < b.N; i++ {
				mustRedstage(b, env, 30*time.Minute, "scan", "bw:*", "--schema", dataSchemaSpec, "--quiet", "-o", out)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// memGen generates hashes of 10 typed fields, about 200 bytes each.
func memGen(prefix string) redistest.Gen {
	return func(i int) []string {
		is := strconv.Itoa(i)
		return []string{"HSET", prefix + is,
			"id", is,
			"name", "customer " + is,
			"qty", strconv.Itoa(i % 97),
			"price", strconv.FormatFloat(float64(i%100000)/100, 'f', -1, 64),
			"active", strconv.FormatBool(i%3 == 0),
			"day", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%1500).Format("2006-01-02"),
			"ts", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format(time.RFC3339),
			"city", []string{"Berlin", "Paris", "Lisbon", "Tokyo", "Austin"}[i%5],
			"note", "a note of some thirty characters " + is,
			"score", strconv.Itoa(i % 1000),
		}
	}
}

const memSchema = "id:int64,name:utf8,qty:int64,price:float64,active:bool,day:date,ts:datetime,city:utf8,note:utf8,score:int64"

// BenchmarkScanMemory scans 2M hashes into Parquet through a coordinator
// process and three worker processes, and reports the peak RSS (VmHWM) of
// the CLI and of the coordinator, which must stay under 300 MB. It also
// reports the CLI's peak with the embedded cluster (everything in one
// process). REDSTAGE_BENCH_ROWS changes the 2M.
func BenchmarkScanMemory(b *testing.B) {
	n := benchRows(b, 2_000_000)
	srv := redistest.StartServer(b)
	srv.Load(n, memGen("mem:"))
	tc := startCluster(b, 3)
	out := filepath.Join(b.TempDir(), "out.parquet")
	coordBase := vmHWM(b, tc.coord.pid())
	for i := 0; i < b.N; i++ {
		cli := startProc(b, "redstage", tc.env(srv.URL()), "scan", "mem:*", "--schema", memSchema, "--quiet", "-o", out)
		peak := followHWM(cli)
		code, err := cli.wait(30 * time.Minute)
		if err != nil || code != 0 {
			b.Fatalf("scan: exit %d (%v)\n%s", code, err, tail(cli.output(), 20))
		}
		cliPeak := max(peak(), maxRSS(cli))
		coordPeak := vmHWM(b, tc.coord.pid())
		b.ReportMetric(float64(cliPeak)/(1<<20), "cli-MB")
		b.ReportMetric(float64(coordPeak)/(1<<20), "coordinator-MB")
		b.Logf("scan of %d hashes: CLI peak RSS %.1f MB, coordinator peak RSS %.1f MB (%.1f MB before the job)",
			n, float64(cliPeak)/(1<<20), float64(coordPeak)/(1<<20), float64(coordBase)/(1<<20))
		if cliPeak > 300<<20 || coordPeak > 300<<20 {
			b.Errorf("peak RSS over 300 MB: CLI %d bytes, coordinator %d bytes", cliPeak, coordPeak)
		}

		emb := startProc(b, "redstage", childEnv("REDSTAGE_REDIS_URL="+srv.URL()), "scan", "mem:*", "--schema", memSchema, "--quiet", "-o", out)
		epeak := followHWM(emb)
		code, err = emb.wait(30 * time.Minute)
		if err != nil || code != 0 {
			b.Fatalf("embedded scan: exit %d (%v)\n%s", code, err, tail(emb.output(), 20))
		}
		embPeak := max(epeak(), maxRSS(emb))
		b.ReportMetric(float64(embPeak)/(1<<20), "embedded-cli-MB")
		b.Logf("embedded scan of %d hashes: peak RSS %.1f MB (NATS, coordinator, workers and CLI in one process)", n, float64(embPeak)/(1<<20))
	}
}

// vmHWM reads the peak resident set size of a running process.
func vmHWM(t testing.TB, pid int) int64 {
	t.Helper()
	n, err := readHWM(pid)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func readHWM(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// followHWM samples a process's VmHWM every 50ms until it exits and
// returns a function giving the highest value seen.
func followHWM(p *proc) func() int64 {
	done := make(chan int64, 1)
	go func() {
		var peak int64
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if n, err := readHWM(p.pid()); err == nil && n > peak {
				peak = n
			}
			select {
			case <-p.done:
				done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 { return <-done }
}

// maxRSS returns the peak RSS the kernel recorded for an exited process.
func maxRSS(p *proc) int64 {
	<-p.done
	if p.cmd.ProcessState == nil {
		return 0
	}
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10 // kB on Linux
	}
	return 0
}
