package cluster

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/internal/redistest"
)

// TestInferMergesPartitions: partial inferrer states of many tasks merge
// into the schema of the whole sample.
func TestInferMergesPartitions(t *testing.T) {
	rs := redistest.StartServer(t)
	rs.Load(4000, func(i int) []string {
		age := strconv.Itoa(i % 90)
		if i%50 == 0 {
			age = "unknown" // 2% not integers: int64 at threshold 0.9
		}
		return []string{"HSET", fmt.Sprintf("p:%05d", i), "name", fmt.Sprintf("n%d", i), "age", age,
			"score", strconv.FormatFloat(float64(i)/3, 'f', 3, 64), "active", strconv.FormatBool(i%2 == 0), "born", "2020-01-02"}
	})
	tc := newTestCluster(t, 2)
	ctx := testCtx(t, 60*time.Second)
	job, err := tc.client.Submit(ctx, JobSpec{Kind: KindInfer, Redis: rs.URL(), Tasks: 8, Infer: &InferSpec{Pattern: "p:*", Sample: 100000}})
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	res, err := job.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Inference == nil || res.Inference.SampleCount != 4000 || res.Rows != 4000 {
		t.Fatalf("inference %+v rows %d, want a sample of 4000", res.Inference, res.Rows)
	}
	want := map[string]codec.Type{"name": codec.Utf8, "age": codec.Int64, "score": codec.Float64, "active": codec.Bool, "born": codec.Date}
	for _, f := range res.Inference.Schema.Fields {
		if want[f.Name] != f.Type {
			t.Errorf("field %s inferred %s, want %s", f.Name, f.Type, want[f.Name])
		}
		delete(want, f.Name)
	}
	if len(want) != 0 {
		t.Errorf("fields not inferred: %v", want)
	}
	if low := res.Inference.LowConfidenceFields(1); len(low) != 1 || low[0] != "age" {
		t.Errorf("low-confidence fields %v, want [age]", low)
	}
}

// TestInferSampleBound: Sample bounds the hashes read over all tasks.
func TestInferSampleBound(t *testing.T) {
	rs := redistest.StartServer(t)
	loadUsers(rs, 5000)
	tc := newTestCluster(t, 2)
	ctx := testCtx(t, 60*time.Second)
	job, err := tc.client.Submit(ctx, JobSpec{Kind: KindInfer, Redis: rs.URL(), Tasks: 4, Infer: &InferSpec{Pattern: "user:*", Sample: 100}})
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	res, err := job.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows > 100 || res.Rows < 1 || int64(res.Inference.SampleCount) != res.Rows {
		t.Fatalf("sampled %d (inference %d), want 1..100", res.Rows, res.Inference.SampleCount)
	}
}

// Regression (issue 8, item 14): --sample 1000 over exactly 1,000 keys read
// 951 (each task took at most its share); a sample uses exactly Sample
// hashes whenever that many exist, however uneven the partitions.
func TestInferSampleExact(t *testing.T) {
	rs := redistest.StartServer(t)
	loadUsers(rs, 1000)
	tc := newTestCluster(t, 2)
	ctx := testCtx(t, 60*time.Second)
	for _, tt := range []struct{ sample, want int }{{1000, 1000}, {999, 999}, {5000, 1000}, {7, 7}} {
		job, err := tc.client.Submit(ctx, JobSpec{Kind: KindInfer, Redis: rs.URL(), Tasks: 16, Infer: &InferSpec{Pattern: "user:*", Sample: tt.sample}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := job.Wait(ctx)
		job.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.Inference.SampleCount != tt.want || res.Rows != int64(tt.want) {
			t.Errorf("sample %d of 1000 keys: inferred from %d (rows %d), want %d", tt.sample, res.Inference.SampleCount, res.Rows, tt.want)
		}
	}
}

// Regression (issue 8, item 14): inferred fields came sorted by name;
// they come in the order first seen: a small hash's insertion order, a
// large hash's fields in natural order (c2 before c10).
func TestInferFieldOrder(t *testing.T) {
	rs := redistest.StartServer(t)
	rs.Load(50, func(i int) []string {
		return []string{"HSET", fmt.Sprintf("o:%d", i), "zeta", "1", "alpha", "x", "mid", "2024-01-01"}
	})
	rs.Load(5, func(i int) []string {
		args := []string{"HSET", fmt.Sprintf("w:%d", i)}
		for c := 200; c >= 0; c-- {
			args = append(args, fmt.Sprintf("c%d", c), "1")
		}
		return args
	})
	tc := newTestCluster(t, 2)
	ctx := testCtx(t, 60*time.Second)
	for pattern, want := range map[string][]string{"o:*": {"zeta", "alpha", "mid"}, "w:*": {"c0", "c1", "c2", "c3"}} {
		job, err := tc.client.Submit(ctx, JobSpec{Kind: KindInfer, Redis: rs.URL(), Tasks: 4, Infer: &InferSpec{Pattern: pattern}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := job.Wait(ctx)
		job.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Inference.Schema.Names(); len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Errorf("%s: fields %v, want them to start %v", pattern, got, want)
		}
	}
}

// TestPickBlocksAllot: every count up to a task's total is made of its
// blocks, and allot hands out exactly min(want, Σ avail).
func TestPickBlocksAllot(t *testing.T) {
	for n := 0; n <= 300; n++ {
		var o sampleOutput
		for left, size := n, 1; left > 0; size *= 2 {
			b := min(size, left)
			o.Blocks = append(o.Blocks, sampleBlock{N: b})
			left -= b
		}
		for k := 0; k <= n; k++ {
			sum, seen := 0, map[int]bool{}
			for _, i := range o.pickBlocks(k) {
				if seen[i] {
					t.Fatalf("n=%d k=%d: block %d twice", n, k, i)
				}
				seen[i] = true
				sum += o.Blocks[i].N
			}
			if sum != k {
				t.Fatalf("n=%d k=%d: blocks hold %d", n, k, sum)
			}
		}
	}
	for _, tt := range []struct {
		avail []int
		want  int
	}{{[]int{10, 0, 500, 3}, 100}, {[]int{1, 1, 1}, 5}, {[]int{40, 60}, 100}, {nil, 10}, {[]int{7, 7, 7}, 20}} {
		k := allot(tt.avail, tt.want)
		total, sum := 0, 0
		for i, a := range tt.avail {
			total += a
			sum += k[i]
			if k[i] < 0 || k[i] > a {
				t.Errorf("allot(%v, %d) = %v: share %d outside 0..%d", tt.avail, tt.want, k, k[i], a)
			}
		}
		if sum != min(total, tt.want) {
			t.Errorf("allot(%v, %d) = %v: %d taken, want %d", tt.avail, tt.want, k, sum, min(total, tt.want))
		}
	}
}

// TestDeleteDryRunThenDelete: a dry run counts and deletes nothing; the
// delete removes exactly the matching hashes.
func TestDeleteDryRunThenDelete(t *testing.T) {
	rs := redistest.StartServer(t)
	loadUsers(rs, 3000)
	rs.Load(500, func(i int) []string { return []string{"HSET", fmt.Sprintf("keep:%d", i), "a", "1"} })
	tc := newTestCluster(t, 2)
	ctx := testCtx(t, 60*time.Second)
	for _, dry := range []bool{true, false} {
		job, err := tc.client.Submit(ctx, JobSpec{Kind: KindDelete, Redis: rs.URL(), Tasks: 4, Delete: &DeleteSpec{Pattern: "user:*", DryRun: dry}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := job.Wait(ctx)
		job.Close()
		if err != nil {
			t.Fatal(err)
		}
		wantDeleted, wantSize := int64(3000), int64(500)
		if dry {
			wantDeleted, wantSize = 0, 3500
		}
		n, _ := rs.Client().DBSize(ctx).Result()
		if res.Matched != 3000 || res.Deleted != wantDeleted || n != wantSize {
			t.Fatalf("dry=%v: matched %d deleted %d dbsize %d; want 3000, %d, %d", dry, res.Matched, res.Deleted, n, wantDeleted, wantSize)
		}
	}
}
