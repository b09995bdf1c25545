package shard

// dedupWindow removes repeated keys within one cursor partition in bounded
// memory.
//
// Inside a partition a key comes back only when the table shrank between
// two SCAN calls: the next call's first dictScan step then emits the whole
// (now wider) bucket holding its start cursor, including keys in
// [floor(x(from)), x(from)) that earlier calls already returned. The window
// keeps the keys of the most recent calls (about limit keys; whole calls are
// evicted oldest first) and remembers the horizon: the end fraction of the
// newest evicted call, below which every evicted key lies. A call can repeat
// only keys at or after its re-emission floor, so while floor ≥ horizon every
// candidate is still in the set and the de-duplication is exact. When that
// cannot be shown (see covers), the scanner asks the server for the table
// size, and failing that reports ErrTableShrank.
type dedupWindow struct {
	limit   int // ≤ 0: keep everything (unbounded)
	set     map[string]struct{}
	calls   []windowCall
	size    int
	evicted bool
	horizon uint64
}

type windowCall struct {
	keys []string
	end  uint64 // fraction of the cursor the call returned
}

func newDedupWindow(limit int) *dedupWindow {
	return &dedupWindow{limit: limit, set: map[string]struct{}{}}
}

// covers reports whether every key that a call from `from` returning `ret`
// could repeat is still in the window. n0 is the exponent of the smaller
// hash table at the time of the call when known (from MEMORY STATS), else -1.
func (w *dedupWindow) covers(from, ret uint64, n0 int) bool {
	if !w.evicted {
		return true
	}
	var floor uint64
	switch {
	case n0 >= 0:
		floor = floorBits(cursorFrac(from), n0)
	case ret != 0:
		floor = reemitFloor(from, ret)
	default:
		return false
	}
	return floor >= w.horizon
}

// add records the keys of an accepted call and returns those not seen
// before (in a new slice) and the number of repeats dropped.
func (w *dedupWindow) add(keys []string, ret uint64) ([]string, int) {
	fresh := make([]string, 0, len(keys))
	dups := 0
	for _, k := range keys {
		if _, seen := w.set[k]; seen {
			dups++
			continue
		}
		w.set[k] = struct{}{}
		fresh = append(fresh, k)
	}
	w.calls = append(w.calls, windowCall{keys: fresh, end: cursorFrac(ret)})
	w.size += len(fresh)
	for w.limit > 0 && w.size > w.limit && len(w.calls) > 1 {
		old := w.calls[0]
		w.calls[0] = windowCall{}
		w.calls = w.calls[1:]
		for _, k := range old.keys {
			delete(w.set, k)
		}
		w.size -= len(old.keys)
		w.evicted = true
		w.horizon = old.end
	}
	if len(w.calls) == 0 || cap(w.calls) > 4*len(w.calls)+64 {
		w.calls = append([]windowCall(nil), w.calls...)
	}
	return fresh, dups
}
