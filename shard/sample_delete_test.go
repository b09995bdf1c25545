package shard

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redstage/redstage/internal/redistest"
)

// loader is what both a server and a cluster offer for fixtures.
type loader interface {
	Load(n int, gen redistest.Gen)
}

func loadDeleteFixture(l loader) {
	l.Load(5000, redistest.HashGen("d:", 2))
	l.Load(500, func(i int) []string { return []string{"SET", "d:s" + strconv.Itoa(i), "x"} })
	l.Load(500, redistest.HashGen("k:", 2))
}

func testSampleAndDelete(t *testing.T, c *Client, count func() int64) {
	ctx := context.Background()
	parts, err := PlanScan(ctx, c, PlanOptions{Tasks: 8, Pattern: "d:*"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("sample", func(t *testing.T) {
		seen := map[string]bool{}
		total := 0
		for _, p := range parts {
			n, err := SamplePartition(ctx, c, p, "d:*", 50, func(key string, names []string, m map[string]string) error {
				if !slices.Equal(names, []string{"f0", "f1"}) { // HSET order
					t.Errorf("%s: names %v, want [f0 f1]", key, names)
				}
				if seen[key] {
					t.Errorf("%s sampled twice", key)
				}
				seen[key] = true
				i := strings.TrimPrefix(key, "d:")
				if m["f1"] != "v"+i+"_1" || len(m) != 2 {
					t.Errorf("%s: %v", key, m)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n > 50 {
				t.Fatalf("sampled %d > limit", n)
			}
			total += n
		}
		if total < 50 || total != len(seen) {
			t.Fatalf("sampled %d (%d distinct)", total, len(seen))
		}
	})
	var mu sync.Mutex
	run := func(dry bool) DeleteStats {
		var sum DeleteStats
		var wg sync.WaitGroup
		for _, p := range parts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ds, err := DeletePartition(ctx, c, p, DeleteOptions{Pattern: "d:*", DryRun: dry})
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				sum.Matched += ds.Matched
				sum.Deleted += ds.Deleted
				mu.Unlock()
			}()
		}
		wg.Wait()
		return sum
	}
	if ds := run(true); ds.Matched != 5000 || ds.Deleted != 0 {
		t.Fatalf("dry run %+v, want 5000 matched", ds)
	}
	if n := count(); n != 6000 {
		t.Fatalf("dry run changed the data: %d keys", n)
	}
	if ds := run(false); ds.Matched != 5000 || ds.Deleted != 5000 {
		t.Fatalf("delete %+v, want 5000", ds)
	}
	if n := count(); n != 1000 {
		t.Fatalf("%d keys left, want the 500 strings and 500 k: hashes", n)
	}
	if ds := run(true); ds.Matched != 0 {
		t.Fatalf("second dry run matched %d", ds.Matched)
	}
}

func TestSampleAndDeleteStandalone(t *testing.T) {
	srv := redistest.StartServer(t)
	loadDeleteFixture(srv)
	c := dial(t, srv.URL())
	testSampleAndDelete(t, c, func() int64 { return srv.Client().DBSize(context.Background()).Val() })
}

func TestSampleAndDeleteCluster(t *testing.T) {
	cl := redistest.StartCluster(t, redistest.ClusterOptions{})
	loadDeleteFixture(cl)
	c := dial(t, cl.URL())
	testSampleAndDelete(t, c, func() int64 {
		n, err := cl.DBSize(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n
	})
}
