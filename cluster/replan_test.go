package cluster

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/redstage/redstage/internal/redistest"
	"github.com/redstage/redstage/shard"
)

// TestStaleTopologyReplans: a slot of a planned but not yet run partition
// moves to another master; the task fails with a stale topology, the
// coordinator re-plans its slot range and the output still holds every key
// exactly once.
func TestStaleTopologyReplans(t *testing.T) {
	rc := redistest.StartCluster(t, redistest.ClusterOptions{})
	rc.Load(20000, func(i int) []string {
		return []string{"HSET", fmt.Sprintf("user:%06d", i), "name", fmt.Sprintf("n%d", i), "age", strconv.Itoa(i % 100)}
	})
	b := newBlocker(func(tm *taskMsg, d int) bool { return tm.Task == "t00000" && d == 1 })
	tc := newTestCluster(t, 0)
	tc.addWorker(b.hooks("a"))
	ctx := testCtx(t, 120*time.Second)
	job, err := tc.client.Submit(ctx, usersScan(rc.URL(), 6))
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	b.wait(t, 20*time.Second)

	var p shard.Partition
	if err := json.Unmarshal(taskRecordOf(t, tc, job.ID(), "t00000").Part, &p); err != nil {
		t.Fatal(err)
	}
	if p.Kind == shard.KindCursor {
		t.Skipf("plan uses %s partitions; re-planning applies to slot partitions", p.Kind)
	}
	slot := (p.SlotStart + p.SlotEnd) / 2
	from, err := rc.SlotOwner(ctx, slot)
	if err != nil || from < 0 {
		t.Fatalf("owner of slot %d: %d, %v", slot, from, err)
	}
	rc.MigrateSlot(slot, from, (from+1)%3)
	close(b.release)
	tc.addWorker(nil)

	rr, err := job.Results(ctx, ResultOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	var keys []string
	if err := readAll(t, rr, func(rec arrow.RecordBatch) {
		k := rec.Column(0).(*array.String)
		for i := 0; i < k.Len(); i++ {
			keys = append(keys, k.Value(i))
		}
	}); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, keys, 20000)
	tr := taskRecordOf(t, tc, job.ID(), "t00000")
	if tr.State != taskReplaced || len(tr.Children) == 0 {
		t.Fatalf("t00000 is %s with %d children, want replaced", tr.State, len(tr.Children))
	}
}
