package cluster

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redstage/redstage/internal/redistest"
)

// mixTimes is what one run of the scans + small loads mix measured.
type mixTimes struct {
	solo     time.Duration   // one small load alone
	loads    []time.Duration // each load of the mix, from its submission to its end
	scans    []time.Duration // each scan of the mix, from the mix start to its end
	lastScan time.Duration   // end of the last scan, from the mix start
	loadEnd  []time.Duration // end of each load, from the mix start
}

// smallLoad loads rows 0..999 under prefix and returns how long it took.
func smallLoad(ctx context.Context, c *Client, url, prefix string) (time.Duration, error) {
	t0 := time.Now()
	job, err := c.Load(ctx, JobSpec{Kind: KindLoad, Redis: url, Load: &LoadSpec{Prefix: prefix}},
		[]LoadInput{{Name: prefix, Source: &sliceSource{recs: makeRows(0, 1000, 1000)}}})
	if err != nil {
		return 0, err
	}
	defer job.Close()
	res, err := job.Wait(ctx)
	if err != nil {
		return 0, err
	}
	if res.Written != 1000 {
		return 0, fmt.Errorf("load %s wrote %d rows, want 1000", prefix, res.Written)
	}
	return time.Since(t0), nil
}

// runMix measures a small load alone, then submits scans scans of the users
// (tasks tasks each) and right after them loads small loads, all at once,
// and measures when each ends. Every scan must return rows rows.
func runMix(ctx context.Context, c *Client, url string, scans, tasks, loads int, rows int64) (*mixTimes, error) {
	m := &mixTimes{loads: make([]time.Duration, loads), loadEnd: make([]time.Duration, loads), scans: make([]time.Duration, scans)}
	solo, err := smallLoad(ctx, c, url, "solo:")
	if err != nil {
		return nil, err
	}
	m.solo = solo
	start := time.Now()
	jobs := make([]*Job, scans)
	for i := range jobs {
		if jobs[i], err = c.Submit(ctx, usersScan(url, tasks)); err != nil {
			return nil, err
		}
		defer jobs[i].Close()
	}
	var wg sync.WaitGroup
	errs := make(chan error, scans+loads)
	for i := range loads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := smallLoad(ctx, c, url, fmt.Sprintf("small%d:", i))
			m.loads[i], m.loadEnd[i] = d, time.Since(start)
			errs <- err
		}()
	}
	for i, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := drainScan(ctx, job)
			m.scans[i] = time.Since(start)
			if err == nil && n != rows {
				err = fmt.Errorf("scan %d returned %d rows, want %d", i, n, rows)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	for _, d := range m.scans {
		m.lastScan = max(m.lastScan, d)
	}
	return m, nil
}

// drainScan reads a submitted scan's results and waits for its end.
func drainScan(ctx context.Context, job *Job) (int64, error) {
	rr, err := job.Results(ctx, ResultOptions{})
	if err != nil {
		return 0, err
	}
	defer rr.Close()
	var n int64
	for {
		rec, err := rr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
		n += rec.NumRows()
		rec.Release()
	}
	_, err = job.Wait(ctx)
	return n, err
}

// TestFairShareSmallLoadsAmongScans is issue 7.5: 8 scans and 4 small loads
// submitted together to 2 workers. Before the coordinator shared worker
// slots between jobs, every load waited for all scans' tasks queued before
// it and ended after the last scan. Now each load ends before the scans end
// and within a generous bound of its solo time (twice the solo time plus
// 10 s, for -race on a loaded 2-core machine, where the loads take about
// 3 s and the scans 20 s: the bound proves "not starved", the figures are
// in BenchmarkFairShareMix).
func TestFairShareSmallLoadsAmongScans(t *testing.T) {
	if testing.Short() {
		t.Skip("fairness mix takes tens of seconds")
	}
	rs := redistest.StartServer(t)
	const rows = 40000
	loadUsers(rs, rows)
	tc := newTestCluster(t, 2)
	ctx := testCtx(t, 5*time.Minute)
	m, err := runMix(ctx, tc.client, rs.URL(), 8, 8, 4, rows)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("solo load %s; loads %v; scans ended %v", m.solo, m.loads, m.scans)
	bound := 2*m.solo + 10*time.Second
	for i, d := range m.loads {
		if m.loadEnd[i] >= m.lastScan {
			t.Errorf("load %d ended %s after the mix started, not before the last scan (%s): starved", i, m.loadEnd[i], m.lastScan)
		}
		if d > bound {
			t.Errorf("load %d took %s, more than 2 × solo (%s) + 10s", i, d, m.solo)
		}
	}
}

var (
	mixRows  = flag.Int("mix.rows", 100_000, "hashes each scan of BenchmarkFairShareMix reads")
	mixScans = flag.Int("mix.scans", 8, "scans of BenchmarkFairShareMix")
	mixLoads = flag.Int("mix.loads", 4, "small loads (1000 rows) of BenchmarkFairShareMix")
	mixAhead = flag.Int("mix.ahead", DefaultCoordinatorConfig().QueueAhead, "CoordinatorConfig.QueueAhead of BenchmarkFairShareMix")
)

// BenchmarkFairShareMix is the mix of issue 7.5 on the embedded default
// with 2 workers of concurrency 1 and one redis-server: one small load
// (1000 rows × 3 columns) alone, then mix.scans scans of mix.rows hashes
// (8 tasks each) submitted together with mix.loads small loads. It reports
// seconds: solo-load, load-median and load-max (from each load's
// submission to its end), scans-end (mix start to the last scan's end) and
// solo-scan (one scan alone, measured last), and cpu-s: CPU seconds of
// this process and redis-server during the mix (independent of what else
// runs on the machine, unlike the wall times).
//
// Run: go test ./cluster -run '^$' -bench BenchmarkFairShareMix -benchtime 1x -timeout 30m
func BenchmarkFairShareMix(b *testing.B) {
	rs := redistest.StartServer(b)
	loadUsers(rs, *mixRows)
	cfg := DefaultEmbeddedConfig()
	cfg.Workers = 2
	cfg.Coordinator.QueueAhead = *mixAhead
	ctx := context.Background()
	e, err := StartEmbedded(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	var solo, med, worst, scans, soloScan, cpu []float64
	for range b.N {
		c0 := selfCPU(b) + redisCPU(b, rs.Client())
		m, err := runMix(ctx, e.Client(), rs.URL(), *mixScans, 8, *mixLoads, int64(*mixRows))
		if err != nil {
			b.Fatal(err)
		}
		cpu = append(cpu, selfCPU(b)+redisCPU(b, rs.Client())-c0)
		loads := make([]float64, len(m.loads))
		for i, d := range m.loads {
			loads[i] = d.Seconds()
		}
		slices.Sort(loads)
		solo, med, worst = append(solo, m.solo.Seconds()), append(med, median(loads)), append(worst, loads[len(loads)-1])
		scans = append(scans, m.lastScan.Seconds())
		t0 := time.Now()
		job, err := e.Client().Submit(ctx, usersScan(rs.URL(), 8))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := drainScan(ctx, job); err != nil {
			b.Fatal(err)
		}
		job.Close()
		soloScan = append(soloScan, time.Since(t0).Seconds())
		b.Logf("solo load %.2fs, loads %v, scans ended %v", m.solo.Seconds(), m.loads, m.scans)
	}
	b.ReportMetric(median(solo), "solo-load-s")
	b.ReportMetric(median(med), "load-median-s")
	b.ReportMetric(median(worst), "load-max-s")
	b.ReportMetric(median(scans), "scans-end-s")
	b.ReportMetric(median(soloScan), "solo-scan-s")
	b.ReportMetric(median(cpu), "cpu-s")
}
