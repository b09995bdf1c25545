package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/term"

	"github.com/redstage/redstage/cluster"
)

// progressView shows a job's progress on stderr: a bar redrawn in place
// (rows, rate, ETA, tasks) when stderr is a terminal, a log line every
// interval otherwise, nothing when quiet.
type progressView struct {
	w        io.Writer
	tty      bool
	bar      bool // draw the bar (tty and not --no-progress)
	quiet    bool
	log      hclog.Logger
	label    string
	total    int64 // expected rows; ≤ 0 = unknown
	interval time.Duration
	width    int
	now      func() time.Time

	lastDraw time.Time
	lastLog  time.Time
	drawn    bool
	last     cluster.Progress
	seen     bool
}

// drawEvery throttles redraws of the bar.
const drawEvery = 100 * time.Millisecond

func (a *App) newProgress(g *GlobalOptions, log hclog.Logger, label string, total int64) *progressView {
	return &progressView{
		w: a.Stderr, tty: a.StderrTTY, bar: a.StderrTTY && !g.NoProgress, quiet: g.Quiet,
		log: log, label: label, total: total, interval: g.ProgressInterval,
		width: terminalWidth(a.Stderr), now: time.Now,
	}
}

// follow renders snapshots from ch until it is closed or ctx is done, then
// clears the bar.
func (v *progressView) follow(ctx context.Context, ch <-chan cluster.Progress) {
	defer v.finish()
	for {
		select {
		case <-ctx.Done():
			return
		case p, ok := <-ch:
			if !ok {
				return
			}
			v.update(p)
		}
	}
}

// update renders one snapshot (throttled).
func (v *progressView) update(p cluster.Progress) {
	v.last, v.seen = p, true
	if v.quiet {
		return
	}
	now := v.now()
	if v.bar {
		if now.Sub(v.lastDraw) < drawEvery {
			return
		}
		v.lastDraw = now
		line := progressLine(v.label, p, v.total, v.width-1)
		fmt.Fprintf(v.w, "\r%s\x1b[K", line)
		v.drawn = true
		return
	}
	if v.tty {
		return // --no-progress on a terminal: the summary is enough
	}
	if v.lastLog.IsZero() {
		v.lastLog = now // first line after one interval, not at once
		return
	}
	if now.Sub(v.lastLog) < v.interval {
		return
	}
	v.lastLog = now
	kv := []any{"job", p.Job, "rows", p.Rows, "rows_per_sec", math.Round(rate(p)), "tasks", fmt.Sprintf("%d/%s", p.TasksDone, tasksTotal(p))}
	if frac, ok := estimate(p, v.total); ok {
		kv = append(kv, "percent", math.Round(frac*1000)/10)
		if eta, ok := etaOf(p, frac); ok {
			kv = append(kv, "eta", eta.Round(time.Second).String())
		}
	}
	v.log.Info(v.label+" progress", kv...)
}

// finish clears the bar line. Idempotent.
func (v *progressView) finish() {
	if v.drawn {
		fmt.Fprint(v.w, "\r\x1b[K")
		v.drawn = false
	}
}

// estimate returns the finished fraction of a job: by rows when the total
// is known, else by tasks once their number is final.
func estimate(p cluster.Progress, totalRows int64) (float64, bool) {
	switch {
	case totalRows > 0:
		return clamp01(float64(p.Rows) / float64(totalRows)), true
	case p.InputComplete && p.TasksTotal > 0:
		return clamp01(float64(p.TasksDone) / float64(p.TasksTotal)), true
	}
	return 0, false
}

// etaOf extrapolates the remaining time from the elapsed time.
func etaOf(p cluster.Progress, frac float64) (time.Duration, bool) {
	if frac <= 0 || frac >= 1 || p.Elapsed <= 0 {
		return 0, false
	}
	eta := time.Duration(float64(p.Elapsed) * (1 - frac) / frac)
	return eta, true
}

func rate(p cluster.Progress) float64 {
	if p.RowsPerSec > 0 {
		return p.RowsPerSec
	}
	if p.Elapsed > 0 {
		return float64(p.Rows) / p.Elapsed.Seconds()
	}
	return 0
}

func tasksTotal(p cluster.Progress) string {
	if p.InputComplete || p.Kind != cluster.KindLoad {
		return fmt.Sprint(p.TasksTotal)
	}
	return fmt.Sprintf("%d+", p.TasksTotal)
}

func clamp01(f float64) float64 {
	switch {
	case f < 0 || math.IsNaN(f):
		return 0
	case f > 1:
		return 1
	}
	return f
}

// progressLine renders the bar line, at most width runes wide:
//
//	scan [=========>          ]  47%  470,112 rows  98.2k rows/s  ETA 5s  tasks 15/32
func progressLine(label string, p cluster.Progress, totalRows int64, width int) string {
	var b strings.Builder
	b.WriteString(label)
	frac, known := estimate(p, totalRows)
	if known {
		const barWidth = 24
		filled := int(frac * barWidth)
		b.WriteString(" [")
		b.WriteString(strings.Repeat("=", filled))
		if filled < barWidth {
			b.WriteString(">")
			b.WriteString(strings.Repeat(" ", barWidth-filled-1))
		}
		fmt.Fprintf(&b, "] %3.0f%%", frac*100)
	}
	fmt.Fprintf(&b, "  %s", plural(p.Rows, "row"))
	if r := rate(p); r > 0 {
		fmt.Fprintf(&b, "  %s rows/s", shortNumber(r))
	}
	if known {
		if eta, ok := etaOf(p, frac); ok {
			fmt.Fprintf(&b, "  ETA %s", shortDuration(eta))
		}
	}
	fmt.Fprintf(&b, "  tasks %d/%s", p.TasksDone, tasksTotal(p))
	s := b.String()
	if width > 0 && len([]rune(s)) > width {
		s = string([]rune(s)[:width])
	}
	return s
}

// groupDigits formats n with thousands separators: 1234567 → 1,234,567.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// shortNumber formats a rate compactly: 950, 12.3k, 1.25M.
func shortNumber(f float64) string {
	switch {
	case f >= 1e6:
		return fmt.Sprintf("%.2fM", f/1e6)
	case f >= 1e4:
		return fmt.Sprintf("%.1fk", f/1e3)
	case f >= 1e3:
		return fmt.Sprintf("%.2fk", f/1e3)
	}
	return fmt.Sprintf("%.0f", f)
}

// shortDuration formats d for humans: 850ms, 12s, 3m05s, 1h02m.
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%.0fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// terminalWidth returns the width of w if it is a terminal, else 100.
func terminalWidth(w io.Writer) int {
	if f, ok := w.(interface{ Fd() uintptr }); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			return cols
		}
	}
	return 100
}
