package shard

import (
	"math/bits"
	"math/rand/v2"
	"testing"
)

func TestRevBits(t *testing.T) {
	tests := []struct {
		j    uint64
		p    int
		want uint64
	}{
		{0, 0, 0}, {0, 3, 0}, {1, 3, 4}, {3, 3, 6}, {4, 3, 1}, {6, 4, 6}, {1, 1, 1}, {5, 6, 0b101000},
	}
	for _, tt := range tests {
		if got := revBits(tt.j, tt.p); got != tt.want {
			t.Errorf("revBits(%d, %d) = %d, want %d", tt.j, tt.p, got, tt.want)
		}
	}
}

// nextCursor is dictScan's cursor step on a table of 2^n buckets.
func nextCursor(v uint64, n int) uint64 {
	m := uint64(1)<<n - 1
	v |= ^m
	v = bits.Reverse64(v)
	v++
	return bits.Reverse64(v)
}

// TestPartitionMembership walks a whole table of 2^n buckets with dictScan's
// step and checks that the spans of 2^p partitions cut the walk into
// consecutive, disjoint runs: every bucket's start cursor lies in exactly one
// span, the partition owning it is Index = top p bits of its fraction, and
// classify reports inside/atEnd/beyond consistently.
func TestPartitionMembership(t *testing.T) {
	for _, n := range []int{0, 1, 3, 6, 10} {
		for _, p := range []int{0, 1, 2, 3, 6} {
			spans := make([]span, 1<<p)
			for j := range spans {
				spans[j] = cursorSpan(p, j)
				if got := spans[j].startCursor(); got != revBits(uint64(j), p) {
					t.Fatalf("p=%d j=%d start cursor %d, want rev %d", p, j, got, revBits(uint64(j), p))
				}
			}
			v := uint64(0)
			visited := 0
			for {
				owners := 0
				for j, s := range spans {
					if s.contains(v) {
						owners++
						if j != int(cursorFrac(v)>>(64-max(p, 1))) && p > 0 {
							t.Fatalf("n=%d p=%d cursor %d in span %d", n, p, v, j)
						}
					}
				}
				if owners != 1 {
					t.Fatalf("n=%d p=%d cursor %d in %d spans", n, p, v, owners)
				}
				visited++
				next := nextCursor(v, n)
				for j, s := range spans {
					w := s.classify(next)
					switch {
					case s.contains(v) && n >= p && w == beyond:
						t.Fatalf("n=%d p=%d: step %d→%d jumps out of span %d", n, p, v, next, j)
					case s.contains(v) && w == inside && !s.contains(next):
						t.Fatalf("classify says inside for %d not in span %d", next, j)
					case w == atEnd && next != 0 && cursorFrac(next) != s.end:
						t.Fatalf("atEnd for %d but span %d ends at %x", next, j, s.end)
					}
				}
				if next == 0 {
					break
				}
				v = next
			}
			if visited != 1<<n {
				t.Fatalf("n=%d: walk visited %d buckets", n, visited)
			}
		}
	}
}

func TestReemitFloor(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		n0 := 1 + rng.IntN(30)       // smaller table after a shrink
		big := n0 + 1 + rng.IntN(10) // table before: cursor finer than n0
		from := rng.Uint64() & (uint64(1)<<big - 1)
		ret := nextCursor(from, n0) // one step on the shrunk table
		if ret == 0 {
			continue
		}
		trueFloor := floorBits(cursorFrac(from), n0)
		bound := reemitFloor(from, ret)
		if bound > trueFloor {
			t.Fatalf("n0=%d from=%x ret=%x: bound %x above the true floor %x", n0, from, ret, bound, trueFloor)
		}
		// A cursor aligned to the table has nothing to re-emit.
		aligned := from & (uint64(1)<<n0 - 1)
		if floorBits(cursorFrac(aligned), n0) != cursorFrac(aligned) {
			t.Fatalf("aligned cursor %x has a floor below itself", aligned)
		}
		// The bound is tight when the returned cursor has its top bit set.
		if top := ret >> (n0 - 1); top == 1 && bound != trueFloor {
			t.Fatalf("n0=%d ret=%x: bound %x, true floor %x", n0, ret, bound, trueFloor)
		}
	}
}

func TestClassify(t *testing.T) {
	// Cursor bit i is the fraction 2^-(i+1). Span 1 of 4 is [1/4, 1/2).
	s := cursorSpan(2, 1)
	tests := []struct {
		ret  uint64
		want where
	}{
		{0b10, inside},   // 1/4: the span's own start
		{0b110, inside},  // 3/8
		{0b1, atEnd},     // 1/2: exactly the end
		{0b11, beyond},   // 3/4
		{0, beyond},      // 1.0: the scan wrapped
		{0b100, beyond},  // 1/8: before the start
		{0b1010, inside}, // 1/4 + 1/16
	}
	for _, tt := range tests {
		if got := s.classify(tt.ret); got != tt.want {
			t.Errorf("classify(%b) = %d, want %d", tt.ret, got, tt.want)
		}
	}
	last := cursorSpan(2, 3) // [3/4, 1)
	if last.classify(0) != atEnd || last.classify(0b111) != inside || last.classify(0b1) != beyond {
		t.Error("last span: 0 is its end, 7/8 inside, 1/2 before it")
	}
}

func TestSlotCursorMath(t *testing.T) {
	if slotCursorStart(100) != 100 || slotOfCursor(5<<slotBits|100) != 100 {
		t.Fatal("slot cursor layout")
	}
	tests := []struct {
		ret  uint64
		end  int
		done bool
	}{
		{0, 50, true}, {7<<slotBits | 50, 50, false}, {51, 50, true}, {3<<slotBits | 51, 50, true}, {16383, 16383, false},
	}
	for _, tt := range tests {
		if got := slotCursorDone(tt.ret, tt.end); got != tt.done {
			t.Errorf("slotCursorDone(%d, %d) = %v", tt.ret, tt.end, got)
		}
	}
}

func TestCursorBits(t *testing.T) {
	tests := []struct {
		keys  int64
		tasks int
		want  int
	}{
		{0, 64, 0}, {15, 64, 0}, {16, 64, 1}, {200_000, 1, 0}, {200_000, 8, 3}, {200_000, 64, 6},
		{200_000, 65, 7}, {1000, 64, 6}, {100, 64, 3}, {1 << 40, 1 << 30, MaxBits},
	}
	for _, tt := range tests {
		if got := CursorBits(tt.keys, tt.tasks); got != tt.want {
			t.Errorf("CursorBits(%d, %d) = %d, want %d", tt.keys, tt.tasks, got, tt.want)
		}
	}
}

func TestDedupWindow(t *testing.T) {
	w := newDedupWindow(4)
	f := func(x uint64) uint64 { return fracCursor(x << 56) } // cursor with fraction x/256
	fresh, dups := w.add([]string{"a", "b"}, f(10))
	if len(fresh) != 2 || dups != 0 {
		t.Fatal(fresh, dups)
	}
	fresh, dups = w.add([]string{"b", "c", "d"}, f(20))
	if len(fresh) != 2 || dups != 1 {
		t.Fatal(fresh, dups)
	}
	if !w.covers(f(20), f(30), -1) {
		t.Fatal("nothing evicted yet: everything is covered")
	}
	w.add([]string{"e"}, f(30)) // 5 keys > 4: the first call (a, b; end 10/256) is evicted
	if !w.evicted || w.horizon != 10<<56 {
		t.Fatalf("horizon %x", w.horizon)
	}
	if fresh, _ := w.add([]string{"a"}, f(31)); len(fresh) != 1 {
		t.Fatal("an evicted key counts as new")
	}
	// Exact table size: floor of 30/256 at 2^4 buckets is 16/256 ≥ horizon.
	if !w.covers(f(30), f(32), 4) {
		t.Fatal("floor 16/256 is above the horizon 10/256")
	}
	// At 2^3 buckets the floor is 0 < horizon.
	if w.covers(f(30), f(32), 3) {
		t.Fatal("floor 0 is below the horizon")
	}
	if w.covers(f(30), 0, -1) {
		t.Fatal("unknown table size and a returned 0 cursor cannot be covered")
	}
}
