package shard

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redstage/redstage/internal/redistest"
)

// dictBuckets returns the bucket count of db 0's keyspace dict (both tables
// while rehashing) and the exponent of the smaller table.
func dictBuckets(ctx context.Context, node *redis.Client) (int64, int, error) {
	pipe := node.TxPipeline()
	size := pipe.DBSize(ctx)
	stats := pipe.Do(ctx, "MEMORY", "STATS")
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, 0, err
	}
	main, _, err := memoryStatsMain(stats.Val(), 0)
	if err != nil {
		return 0, 0, err
	}
	b := (main - 40*size.Val()) / 8
	return b, bits.TrailingZeros64(uint64(b)), nil
}

// tableChurn grows the keyspace table by adding n churn hashes and shrinks
// it back by deleting them, at chosen points of a scan: it is called from the
// scan's emit callback, so the table changes between the scan's SCAN calls.
// The first grow happens at emit `start`, each shrink `gap` emits after its
// grow and each next grow `gap` emits after that, for `cycles` cycles. A
// shrink waits until the rehash is complete (one table of at most
// 2^shrinkBits buckets), so the next SCAN call starts at a cursor finer than
// the table and re-emits the start of its bucket.
type tableChurn struct {
	addr       string
	node       *redis.Client
	n          int
	start, gap int
	cycles     int
	growBits   int // the table must reach at least 2^growBits buckets
	shrinkBits int

	mu     sync.Mutex
	emits  int
	next   int // emit count of the next action
	grown  bool
	done   int // completed cycles
	err    error
	gen    int
	maxBkt int64
}

func (ch *tableChurn) onBatch() {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.emits++
	if ch.next == 0 {
		ch.next = ch.start
	}
	if ch.err != nil || ch.done >= ch.cycles || ch.emits < ch.next {
		return
	}
	ch.next = ch.emits + ch.gap
	// A generous bound: loading 900k keys under -race on a busy 2-core CI
	// machine took over 30 s once; this is a hang guard, not a speed goal.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	gen := strconv.Itoa(ch.gen)
	if !ch.grown {
		ch.err = redistest.LoadRaw(ctx, func(string) string { return ch.addr }, ch.n, func(i int) []string {
			return []string{"HSET", "c:" + gen + ":" + strconv.Itoa(i), "f1", "x"}
		})
		if ch.err == nil {
			var b int64
			b, _, ch.err = dictBuckets(ctx, ch.node)
			ch.maxBkt = max(ch.maxBkt, b)
			if ch.err == nil && b < 1<<ch.growBits {
				ch.err = fmt.Errorf("table grew only to %d buckets", b)
			}
		}
		ch.grown = true
		return
	}
	ch.err = redistest.LoadRaw(ctx, func(string) string { return ch.addr }, ch.n, func(i int) []string {
		return []string{"UNLINK", "c:" + gen + ":" + strconv.Itoa(i)}
	})
	ch.gen++
	ch.grown = false
	// serverCron shrinks the table once the grow's rehash is done; wait
	// until the shrink's rehash is done too.
	for ch.err == nil {
		b, n0, err := dictBuckets(ctx, ch.node)
		if err != nil {
			ch.err = err
			break
		}
		if b == 1<<n0 && n0 <= ch.shrinkBits {
			ch.done++
			break
		}
		select {
		case <-ctx.Done():
			ch.err = fmt.Errorf("table did not shrink: %d buckets", b)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// backgroundChurn inserts and deletes "c:bg:<0..keys-1>" hashes until ctx
// ends.
func backgroundChurn(ctx context.Context, rdb redis.UniversalClient, keys int) <-chan error {
	done := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(1, 2))
		for ctx.Err() == nil {
			pipe := rdb.Pipeline()
			for range 50 {
				pipe.HSet(ctx, "c:bg:"+strconv.Itoa(rng.IntN(keys)), "f1", "y")
				pipe.Del(ctx, "c:bg:"+strconv.Itoa(rng.IntN(keys)))
			}
			if _, err := pipe.Exec(ctx); err != nil && ctx.Err() == nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}

// scanUnderChurn runs a scan of `tasks` partitions of the 200k stable
// hashes while the table grows to 2^21 buckets and shrinks to 2^18 and the
// background churn runs.
func scanUnderChurn(t *testing.T, c *Client, srv *redistest.Server, tasks int) {
	ch := &tableChurn{addr: srv.Addr(), node: srv.Client(), n: 900_000, start: 20, gap: 60, cycles: 1,
		growBits: 21, shrinkBits: 19}
	res := churnScanWith(t, c, srv, PlanOptions{Tasks: tasks}, ch,
		scanTuning{batch: 1000, count: 1000, bgKeys: 5000, parallel: 4})
	checkExactlyOnce(t, res, stableKeys)
	t.Logf("tasks %d: %d rows, table grew to %d buckets and shrank back; duplicates dropped %d, vanished %d, boundary retries %d",
		tasks, res.stats.Rows, ch.maxBkt, res.stats.Duplicates, res.stats.Vanished, res.stats.Retries)
}

// churnScanWith plans and runs a scan with the table churn and the
// background churn, checks that the churn completed its cycles, and removes
// the churn keys afterwards.
type scanTuning struct{ batch, count, window, bgKeys, parallel int }

func churnScanWith(t *testing.T, c *Client, srv *redistest.Server, po PlanOptions, ch *tableChurn, tu scanTuning) *scanResult {
	t.Helper()
	ctx := context.Background()
	parts, err := PlanScan(ctx, c, po)
	if err != nil {
		t.Fatal(err)
	}
	bctx, stop := context.WithCancel(ctx)
	bg := backgroundChurn(bctx, srv.Client(), tu.bgKeys)
	opts := scanOpts(t)
	opts.BatchSize = tu.batch
	opts.DedupWindow = tu.window
	opts.Count = tu.count
	res := newScanResult()
	r := &runner{c: c, opts: opts, parallel: tu.parallel, onBatch: ch.onBatch,
		replan: func(ctx context.Context, p Partition, err error) ([]Partition, error) {
			if errors.Is(err, ErrTableShrank) {
				return []Partition{p}, nil // rerun the task; its rows were dropped
			}
			return nil, err
		}}
	err = r.run(ctx, parts, res)
	stop()
	if bgErr := <-bg; bgErr != nil {
		t.Fatalf("background churn: %v", bgErr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if ch.err != nil {
		t.Fatalf("table churn: %v", ch.err)
	}
	if ch.done < ch.cycles {
		t.Fatalf("only %d of %d grow/shrink cycles happened during the scan (%d batches)", ch.done, ch.cycles, ch.emits)
	}
	if err := srv.Client().Eval(ctx, `for _, k in ipairs(redis.call('KEYS', 'c:*')) do redis.call('UNLINK', k) end return 0`, nil).Err(); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestScanShrinkDuplicates drives grow/shrink cycles on a small, nearly
// full table while 64 partitions are in the middle of their scans, so that
// SCAN re-emits keys after shrinks (each in-flight partition meets about
// half a bucket of repeats per shrink), and checks the de-duplication: with
// the default window, and with a window of 8 keys, which relies on the exact
// table size from MEMORY STATS or on rerunning the task.
func TestScanShrinkDuplicates(t *testing.T) {
	srv := redistest.StartServerWith(t, redistest.ServerOptions{Extra: []string{"hz 100"}})
	const n = 4000 // table of 4096 buckets, nearly full
	srv.Load(n, redistest.HashGen("h:", 3))
	c := dial(t, srv.URL())
	for _, tc := range []struct {
		name   string
		window int
	}{{"default-window", 0}, {"window-8", 8}} {
		t.Run(tc.name, func(t *testing.T) {
			// +60000 churn keys → 2^17 buckets; deleting them shrinks the
			// table back to 2^12 or 2^13.
			ch := &tableChurn{addr: srv.Addr(), node: srv.Client(), n: 60_000, start: 64, gap: 32, cycles: 6,
				growBits: 16, shrinkBits: 13}
			res := churnScanWith(t, c, srv, PlanOptions{Tasks: 64}, ch, scanTuning{batch: 4, count: 4, window: tc.window, bgKeys: 40, parallel: 64})
			checkExactlyOnce(t, res, n)
			t.Logf("%d cycles, duplicates dropped %d, reruns %d", ch.done, res.stats.Duplicates, res.attempts)
			// With the small window some repeats are caught by failing the
			// attempt (ErrTableShrank) instead of by the set; either way the
			// shrinks must have produced repeats for the test to mean anything.
			if res.stats.Duplicates+int64(res.attempts) == 0 {
				t.Fatal("no shrink duplicates arose: the test did not exercise the de-duplication")
			}
		})
	}
}
