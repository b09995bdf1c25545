package shard

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/redstage/redstage/internal/redistest"
)

// TestSplitSlots checks that the pieces of a master's slot ranges cover
// every slot once, never span two ranges, and number about `pieces`.
func TestSplitSlots(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 200 {
		var ranges []SlotRange
		s := rng.IntN(100)
		for len(ranges) < 1+rng.IntN(4) && s < NumSlots-1 {
			e := min(NumSlots-1, s+rng.IntN(3000))
			ranges = append(ranges, SlotRange{s, e})
			s = e + 2 + rng.IntN(500)
		}
		m := Node{Addr: "n", Slots: ranges}
		var counts []int64
		for _, r := range ranges {
			for range r.Len() {
				if rng.IntN(3) == 0 {
					counts = append(counts, 0)
				} else {
					counts = append(counts, int64(rng.IntN(1000)))
				}
			}
		}
		pieces := max(len(ranges), 1+rng.IntN(40))
		parts := splitSlots(m, counts, pieces, KindSlots)
		if len(parts) < len(ranges) || len(parts) > pieces+len(ranges) {
			t.Fatalf("trial %d: %d pieces for %d wanted over %d ranges", trial, len(parts), pieces, len(ranges))
		}
		covered := map[int]int{}
		for _, p := range parts {
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			if !m.Owns(p.SlotStart, p.SlotEnd) {
				t.Fatalf("trial %d: piece %d-%d spans a gap", trial, p.SlotStart, p.SlotEnd)
			}
			for s := p.SlotStart; s <= p.SlotEnd; s++ {
				covered[s]++
			}
		}
		for _, r := range ranges {
			for s := r.Start; s <= r.End; s++ {
				if covered[s] != 1 {
					t.Fatalf("trial %d: slot %d covered %d times", trial, s, covered[s])
				}
			}
		}
	}
}

func TestApportion(t *testing.T) {
	masters := []Node{{Slots: []SlotRange{{0, 99}}}, {Slots: []SlotRange{{100, 199}}}, {Slots: []SlotRange{{200, 299}, {400, 499}}}}
	tests := []struct {
		tasks  int
		counts [][]int64
		want   []int
	}{
		{8, [][]int64{{500}, {300}, {200}}, []int{4, 2, 2}},
		{10, [][]int64{{1}, {1}, {1}}, []int{4, 3, 3}},
		{3, [][]int64{{0}, {0}, {0}}, []int{1, 1, 2}}, // by slots; two ranges need two pieces
		{1, [][]int64{{10}, {0}, {0}}, []int{1, 1, 2}},
	}
	for _, tt := range tests {
		got := apportion(tt.tasks, tt.counts, masters)
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("apportion(%d, %v) = %v, want %v", tt.tasks, tt.counts, got, tt.want)
				break
			}
		}
	}
}

func TestPartitionValidateAndJSON(t *testing.T) {
	good := []Partition{
		{Kind: KindCursor, Node: "a:1", Bits: 3, Index: 7},
		{Kind: KindSlots, Node: "a:1", SlotStart: 0, SlotEnd: 16383},
		{Kind: KindSlotCursor, Node: "a:1", SlotStart: 5, SlotEnd: 5, RunID: "x"},
		{Kind: KindSlots, Node: "a:1", SlotStart: 7, SlotEnd: 9, Follow: true},
	}
	for _, p := range good {
		if err := p.Validate(); err != nil {
			t.Errorf("%v: %v", p, err)
		}
		b, _ := json.Marshal(p)
		var back Partition
		if err := json.Unmarshal(b, &back); err != nil || back != p {
			t.Errorf("JSON round trip of %v: %s → %v, %v", p, b, back, err)
		}
	}
	bad := []Partition{
		{Kind: KindCursor, Node: "a:1", Bits: 3, Index: 8},
		{Kind: KindCursor, Node: "a:1", Bits: MaxBits + 1},
		{Kind: KindCursor, Bits: 0},
		{Kind: KindSlots, Node: "a:1", SlotStart: 10, SlotEnd: 9},
		{Kind: KindSlots, Node: "a:1", SlotStart: 0, SlotEnd: 16384},
		{Kind: "nope", Node: "a:1"},
		{Kind: KindSlotCursor, Node: "a:1", SlotStart: 1, SlotEnd: 2, Follow: true},
	}
	for _, p := range bad {
		if err := p.Validate(); !errors.Is(err, ErrInvalidPartition) {
			t.Errorf("%+v: %v, want ErrInvalidPartition", p, err)
		}
	}
}

func TestParseNodeView(t *testing.T) {
	out := "07c3 127.0.0.1:30004@31004,host.example master - 0 1 3 connected 10923-16383\n" +
		"67ed 127.0.0.1:30002@31002 myself,master - 0 0 2 connected 5461-10922 [5462->-07c3] [100-<-e7d1]\n" +
		"e7d1 127.0.0.1:30001@31001 master - 0 1 1 connected 0-5460\n"
	v, err := parseNodeView(out, 0, NumSlots-1)
	if err != nil {
		t.Fatal(err)
	}
	if v.self != "67ed" || v.addrs["07c3"] != "127.0.0.1:30004" || v.owner[5461] != "67ed" || v.owner[0] != "e7d1" {
		t.Fatalf("view %+v", v)
	}
	if v.migrating[5462] != "07c3" || v.importing[100] != "e7d1" || v.steady(5462) || !v.steady(5463) {
		t.Fatalf("marks %v %v", v.migrating, v.importing)
	}
	if !v.ownsAll(5461, 10922) || v.ownsAll(5460, 5461) {
		t.Fatal("ownsAll")
	}
	if _, err := parseNodeView("garbage", 0, 1); err == nil {
		t.Fatal("no myself line accepted")
	}
}

func TestPlanScanOptions(t *testing.T) {
	srv := redistest.StartServer(t)
	srv.Load(1000, redistest.HashGen("h:", 1))
	c := dial(t, srv.URL())
	ctx := context.Background()
	if _, err := PlanScan(ctx, c, PlanOptions{Kind: KindSlots}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("slots on standalone: %v", err)
	}
	if _, err := PlanScan(ctx, c, PlanOptions{Tasks: -1}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("negative tasks: %v", err)
	}
	parts, err := PlanScan(ctx, c, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 1000 keys: ⌊log₂(125)⌋ = 6 bits at most, fewer when DefaultTasks is smaller.
	if want := 1 << CursorBits(1000, DefaultTasks()); len(parts) != want || parts[0].RunID == "" {
		t.Fatalf("default plan: %d partitions, want %d: %+v", len(parts), want, parts[0])
	}
	parts, err = PlanScan(ctx, c, PlanOptions{Tasks: 64, MinKeys: 100})
	if err != nil || len(parts) != 8 {
		t.Fatalf("MinKeys 100: %d partitions, %v", len(parts), err)
	}
}
