package shard

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/redis/go-redis/v9"

	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/internal/redistest"
)

const (
	stableKeys = 200_000
	otherKeys  = 20_000
)

func testSchema(t testing.TB) *codec.Schema {
	t.Helper()
	s, err := codec.ParseSchemaSpec("f0:utf8,f1:utf8,f2:utf8")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// keyIndex parses the number of a "h:<i>" key; -1 for other keys.
func keyIndex(k string) int {
	rest, ok := strings.CutPrefix(k, "h:")
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(rest)
	if err != nil {
		return -1
	}
	return i
}

// scanResult gathers the rows of many partitions.
type scanResult struct {
	mu       sync.Mutex
	counts   map[string]int
	stats    ScanStats
	bad      []string // rows whose values are wrong
	attempts int      // partition attempts that failed and were rerun
}

func newScanResult() *scanResult { return &scanResult{counts: map[string]int{}} }

// attempt collects the rows of one partition attempt; they are merged into
// the result only when the attempt succeeds (a coordinator discards the
// rows of failed attempts).
type attempt struct {
	counts map[string]int
	bad    []string
}

func (a *attempt) add(rec arrow.RecordBatch) {
	keys := rec.Column(0).(*array.String)
	f1 := rec.Column(2).(*array.String)
	for i := 0; i < keys.Len(); i++ {
		k := keys.Value(i)
		a.counts[k]++
		if n := keyIndex(k); n >= 0 && (f1.IsNull(i) || f1.Value(i) != "v"+strconv.Itoa(n)+"_1") && len(a.bad) < 5 {
			a.bad = append(a.bad, fmt.Sprintf("%s f1=%q", k, f1.Value(i)))
		}
	}
}

func (r *scanResult) merge(a *attempt, st ScanStats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, n := range a.counts {
		r.counts[k] += n
	}
	r.bad = append(r.bad, a.bad...)
	r.stats.Rows += st.Rows
	r.stats.Scanned += st.Scanned
	r.stats.Duplicates += st.Duplicates
	r.stats.OtherTypes += st.OtherTypes
	r.stats.Vanished += st.Vanished
	r.stats.Retries += st.Retries
	r.stats.Followed += st.Followed
}

// runner scans partitions like a coordinator would: `parallel` at a time;
// a failed attempt's rows are dropped and, when replan accepts the error,
// the partitions it returns are run in the next wave.
type runner struct {
	c        *Client
	opts     ScanOptions
	parallel int
	onBatch  func()
	replan   func(ctx context.Context, p Partition, err error) ([]Partition, error)
}

func (r *runner) run(ctx context.Context, parts []Partition, res *scanResult) error {
	for wave := 0; len(parts) > 0; wave++ {
		if wave > 5 {
			return fmt.Errorf("partitions still failing after %d waves", wave)
		}
		type failure struct {
			p   Partition
			err error
		}
		var mu sync.Mutex
		var failed []failure
		sem := make(chan struct{}, r.parallel)
		var wg sync.WaitGroup
		for _, p := range parts {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				a := &attempt{counts: map[string]int{}}
				st, err := ScanPartition(ctx, r.c, p, r.opts, func(rec arrow.RecordBatch) error {
					a.add(rec)
					if r.onBatch != nil {
						r.onBatch()
					}
					return nil
				})
				if err != nil {
					mu.Lock()
					failed = append(failed, failure{p, err})
					mu.Unlock()
					return
				}
				res.merge(a, st)
			}()
		}
		wg.Wait()
		parts = nil
		for _, f := range failed {
			if r.replan == nil {
				return fmt.Errorf("%s: %w", f.p, f.err)
			}
			more, err := r.replan(ctx, f.p, f.err)
			if err != nil {
				return fmt.Errorf("%s: %w (re-plan: %v)", f.p, f.err, err)
			}
			res.attempts++
			parts = append(parts, more...)
		}
	}
	return nil
}

// runPartitions scans every partition without retries.
func runPartitions(ctx context.Context, c *Client, parts []Partition, opts ScanOptions, parallel int, res *scanResult, onBatch func()) error {
	r := &runner{c: c, opts: opts, parallel: parallel, onBatch: onBatch}
	return r.run(ctx, parts, res)
}

// checkExactlyOnce verifies that every stable key h:0..n-1 came out once and
// that other keys (churn, prefix c:) came out at most once and nothing else
// appeared.
func checkExactlyOnce(t *testing.T, res *scanResult, n int) {
	t.Helper()
	missing, twice, strays := 0, 0, 0
	var examples []string
	for i := range n {
		k := "h:" + strconv.Itoa(i)
		switch res.counts[k] {
		case 1:
		case 0:
			missing++
			if len(examples) < 5 {
				examples = append(examples, k+" missing")
			}
		default:
			twice++
			if len(examples) < 5 {
				examples = append(examples, fmt.Sprintf("%s %d times", k, res.counts[k]))
			}
		}
	}
	for k, c := range res.counts {
		if keyIndex(k) >= 0 && keyIndex(k) < n {
			continue
		}
		if !strings.HasPrefix(k, "c:") || c > 1 {
			strays++
			if len(examples) < 10 {
				examples = append(examples, fmt.Sprintf("unexpected %s ×%d", k, c))
			}
		}
	}
	if missing+twice+strays > 0 || len(res.bad) > 0 {
		t.Fatalf("%d missing, %d repeated, %d unexpected of %d keys; %v; bad values %v", missing, twice, strays, n, examples, res.bad)
	}
}

func dial(t testing.TB, url string) *Client {
	t.Helper()
	c, err := Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func scanOpts(t testing.TB) ScanOptions {
	o := DefaultScanOptions(testSchema(t))
	o.BatchSize = 4096
	return o
}

func TestScanPartitionsStandalone(t *testing.T) {
	srv := redistest.StartServer(t)
	srv.Load(stableKeys, redistest.HashGen("h:", 3))
	srv.Load(otherKeys, redistest.MixedGen("o:"))
	c := dial(t, srv.URL())
	ctx := context.Background()
	for _, tasks := range []int{1, 8, 64} {
		t.Run(fmt.Sprintf("tasks=%d", tasks), func(t *testing.T) {
			parts, err := PlanScan(ctx, c, PlanOptions{Tasks: tasks})
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != tasks || parts[0].Kind != KindCursor {
				t.Fatalf("planned %d %s partitions, want %d cursor", len(parts), parts[0].Kind, tasks)
			}
			res := newScanResult()
			if err := runPartitions(ctx, c, parts, scanOpts(t), 4, res, nil); err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, res, stableKeys)
			if res.stats.Rows != stableKeys {
				t.Fatalf("stats.Rows = %d", res.stats.Rows)
			}
			t.Logf("tasks %d: scanned %d, boundary retries %d, duplicates dropped %d",
				tasks, res.stats.Scanned, res.stats.Retries, res.stats.Duplicates)
		})
	}
	t.Run("pattern", func(t *testing.T) {
		parts, err := PlanScan(ctx, c, PlanOptions{Tasks: 8})
		if err != nil {
			t.Fatal(err)
		}
		o := scanOpts(t)
		o.Pattern = "h:1?"
		res := newScanResult()
		if err := runPartitions(ctx, c, parts, o, 4, res, nil); err != nil {
			t.Fatal(err)
		}
		if len(res.counts) != 10 || res.counts["h:10"] != 1 || res.counts["h:19"] != 1 {
			t.Fatalf("pattern h:1? gave %v", res.counts)
		}
	})
	// Redis 7.0 shrinks a table only below 10% fill: with the 200k stable
	// hashes the 2^21-bucket table reached by the churn shrinks only if the
	// other keys are gone. hz 100 makes serverCron rehash ten times faster.
	if err := srv.Client().Eval(ctx, `for _, k in ipairs(redis.call('KEYS', 'o:*')) do redis.call('UNLINK', k) end`, nil).Err(); err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	if err := srv.Client().ConfigSet(ctx, "hz", "100").Err(); err != nil {
		t.Fatal(err)
	}
	for _, tasks := range []int{1, 8, 64} {
		t.Run(fmt.Sprintf("churn/tasks=%d", tasks), func(t *testing.T) {
			scanUnderChurn(t, c, srv, tasks)
		})
	}
}

func TestScanPartitionsCluster(t *testing.T) {
	cl := redistest.StartCluster(t, redistest.ClusterOptions{})
	cl.Load(stableKeys, redistest.HashGen("h:", 3))
	cl.Load(otherKeys, redistest.MixedGen("o:"))
	c := dial(t, cl.URL())
	ctx := context.Background()
	for _, tasks := range []int{1, 8, 64} {
		t.Run(fmt.Sprintf("tasks=%d", tasks), func(t *testing.T) {
			parts, err := PlanScan(ctx, c, PlanOptions{Tasks: tasks})
			if err != nil {
				t.Fatal(err)
			}
			if parts[0].Kind != KindSlots || len(parts) != max(tasks, 3) {
				t.Fatalf("planned %d %s partitions for %d tasks", len(parts), parts[0].Kind, tasks)
			}
			res := newScanResult()
			if err := runPartitions(ctx, c, parts, scanOpts(t), 4, res, nil); err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, res, stableKeys)
			if res.stats.OtherTypes != otherKeys {
				t.Fatalf("OtherTypes = %d, want %d", res.stats.OtherTypes, otherKeys)
			}
		})
	}
	t.Run("cursor-per-node", func(t *testing.T) {
		parts, err := PlanScan(ctx, c, PlanOptions{Tasks: 24, Kind: KindCursor})
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != 24 {
			t.Fatalf("%d partitions", len(parts))
		}
		res := newScanResult()
		if err := runPartitions(ctx, c, parts, scanOpts(t), 4, res, nil); err != nil {
			t.Fatal(err)
		}
		checkExactlyOnce(t, res, stableKeys)
	})
	t.Run("churn/tasks=8", func(t *testing.T) {
		bctx, stop := context.WithCancel(ctx)
		bg := backgroundChurn(bctx, c.Redis(), 5000)
		parts, err := PlanScan(ctx, c, PlanOptions{Tasks: 8})
		if err != nil {
			t.Fatal(err)
		}
		res := newScanResult()
		err = runPartitions(ctx, c, parts, scanOpts(t), 4, res, nil)
		stop()
		if bgErr := <-bg; bgErr != nil {
			t.Fatal(bgErr)
		}
		if err != nil {
			t.Fatal(err)
		}
		checkExactlyOnce(t, res, stableKeys)
	})
	t.Run("reshard", func(t *testing.T) { reshardDuringScan(t, cl, c) })
	t.Run("restart", func(t *testing.T) { restartDuringScan(t, cl, c) })
	t.Run("hashtag-pattern", func(t *testing.T) {
		cl.Load(50, func(i int) []string { return []string{"HSET", "t:{grp}:" + strconv.Itoa(i), "f1", "x"} })
		parts, err := PlanScan(ctx, c, PlanOptions{Tasks: 8, Pattern: "t:{grp}:*"})
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != 1 || parts[0].SlotStart != KeySlot("grp") || parts[0].SlotEnd != parts[0].SlotStart {
			t.Fatalf("partitions %+v", parts)
		}
		o := scanOpts(t)
		o.Pattern = "t:{grp}:*"
		res := newScanResult()
		if err := runPartitions(ctx, c, parts, o, 1, res, nil); err != nil {
			t.Fatal(err)
		}
		if len(res.counts) != 50 {
			t.Fatalf("%d keys", len(res.counts))
		}
	})
}
