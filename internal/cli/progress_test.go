package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/redstage/redstage/cluster"
)

func TestEstimate(t *testing.T) {
	tests := []struct {
		name  string
		p     cluster.Progress
		total int64
		frac  float64
		known bool
	}{
		{"rows known", cluster.Progress{Rows: 250}, 1000, 0.25, true},
		{"rows over total clamps", cluster.Progress{Rows: 1200}, 1000, 1, true},
		{"tasks final", cluster.Progress{TasksDone: 3, TasksTotal: 4, InputComplete: true}, -1, 0.75, true},
		{"tasks not final", cluster.Progress{TasksDone: 3, TasksTotal: 4}, -1, 0, false},
		{"nothing known", cluster.Progress{Rows: 10}, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frac, known := estimate(tc.p, tc.total)
			if frac != tc.frac || known != tc.known {
				t.Fatalf("estimate = %v, %v; want %v, %v", frac, known, tc.frac, tc.known)
			}
		})
	}
}

func TestETA(t *testing.T) {
	p := cluster.Progress{Elapsed: 10 * time.Second}
	if eta, ok := etaOf(p, 0.25); !ok || eta != 30*time.Second {
		t.Fatalf("eta %s %v, want 30s", eta, ok)
	}
	for _, f := range []float64{0, 1} {
		if _, ok := etaOf(p, f); ok {
			t.Errorf("eta at fraction %v should be unknown", f)
		}
	}
}

func TestProgressLine(t *testing.T) {
	p := cluster.Progress{Kind: cluster.KindScan, Rows: 470112, TasksDone: 15, TasksTotal: 32, InputComplete: true,
		Elapsed: 5 * time.Second, RowsPerSec: 98200}
	line := progressLine("scan", p, -1, 200)
	for _, want := range []string{"scan [", "47%", "470,112 rows", "98.2k rows/s", "ETA 5.7s", "tasks 15/32"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	if short := progressLine("scan", p, -1, 20); len([]rune(short)) != 20 {
		t.Errorf("line not cut to width 20: %q", short)
	}
	load := progressLine("load", cluster.Progress{Kind: cluster.KindLoad, Rows: 5, TasksDone: 1, TasksTotal: 2}, -1, 200)
	if strings.Contains(load, "%") || !strings.Contains(load, "tasks 1/2+") {
		t.Errorf("load line with unknown totals: %q", load)
	}
}

func TestNumberFormats(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q, want %q", n, got, want)
		}
	}
	for f, want := range map[float64]string{950: "950", 1500: "1.50k", 98200: "98.2k", 1250000: "1.25M"} {
		if got := shortNumber(f); got != want {
			t.Errorf("shortNumber(%v) = %q, want %q", f, got, want)
		}
	}
	for d, want := range map[time.Duration]string{850 * time.Millisecond: "850ms", 1500 * time.Millisecond: "1.5s", 12 * time.Second: "12s", 185 * time.Second: "3m05s", 62 * time.Minute: "1h02m"} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%s) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[int64]string{512: "512 B", 2048: "2.0 KiB", 3 << 20: "3.0 MiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// fakeClock advances by step on every call.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time { t = t.Add(step); return t }
}

func TestProgressViewModes(t *testing.T) {
	snap := func(i int) cluster.Progress {
		return cluster.Progress{Job: "j1", Kind: cluster.KindScan, Rows: int64(i * 100), TasksDone: i, TasksTotal: 10, InputComplete: true, Elapsed: time.Duration(i) * time.Second}
	}
	run := func(v *progressView, n int) {
		ch := make(chan cluster.Progress, n)
		for i := 1; i <= n; i++ {
			ch <- snap(i)
		}
		close(ch)
		v.follow(context.Background(), ch)
	}
	t.Run("terminal bar", func(t *testing.T) {
		var buf bytes.Buffer
		v := &progressView{w: &buf, tty: true, bar: true, label: "scan", total: -1, width: 120, now: fakeClock(time.Second), interval: time.Hour}
		run(v, 3)
		s := buf.String()
		if strings.Count(s, "\r") < 4 || !strings.Contains(s, "tasks 3/10") || !strings.HasSuffix(s, "\r\x1b[K") {
			t.Fatalf("bar output %q: want redraws, last snapshot and a cleared line", s)
		}
	})
	t.Run("log lines", func(t *testing.T) {
		var buf bytes.Buffer
		log := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Info})
		v := &progressView{w: &buf, log: log, label: "scan", total: -1, width: 120, now: fakeClock(4 * time.Second), interval: 10 * time.Second}
		run(v, 9)
		lines := strings.Count(buf.String(), "scan progress")
		if lines < 2 || lines > 4 {
			t.Fatalf("%d log lines for 36s at a 10s interval, want 2-4:\n%s", lines, buf.String())
		}
		if strings.Contains(buf.String(), "\r") {
			t.Fatalf("log mode drew a bar: %q", buf.String())
		}
	})
	t.Run("quiet", func(t *testing.T) {
		var buf bytes.Buffer
		v := &progressView{w: &buf, tty: true, bar: true, quiet: true, label: "scan", total: -1, width: 120, now: fakeClock(time.Second), interval: time.Second}
		run(v, 5)
		if buf.Len() != 0 {
			t.Fatalf("quiet wrote %q", buf.String())
		}
		if v.last.Rows != 500 {
			t.Fatalf("quiet view did not track the last snapshot: %+v", v.last)
		}
	})
}
