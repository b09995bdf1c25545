package shard

import "math/bits"

// Cursor arithmetic for SCAN on one Redis dict (DESIGN.md §2.1).
//
// dictScan walks buckets in bit-reversed order, so a cursor v is best read
// as the binary fraction x(v) = Σ vᵢ·2^-(i+1). Here that fraction is kept as
// a 64-bit integer X = bits.Reverse64(v) (the fraction times 2^64), so that
// fractions compare as integers. The returned cursor 0 means the end of the
// scan, the fraction 1.0, which does not fit in 64 bits; spans carry a
// "last" flag for it.

// revBits reverses the low p bits of j (p ≤ 63).
func revBits(j uint64, p int) uint64 {
	if p == 0 {
		return 0
	}
	return bits.Reverse64(j) >> (64 - p)
}

// cursorFrac is X(v), the fraction of cursor v times 2^64.
func cursorFrac(v uint64) uint64 { return bits.Reverse64(v) }

// fracCursor is the cursor whose fraction is x.
func fracCursor(x uint64) uint64 { return bits.Reverse64(x) }

// span is partition Index of 2^Bits: the fractions [start, end), where
// last means end = 1.0.
type span struct {
	start, end uint64
	last       bool
}

func cursorSpan(p, j int) span {
	if p == 0 {
		return span{last: true}
	}
	w := uint64(1) << (64 - p)
	s := span{start: uint64(j) * w, end: uint64(j+1) * w}
	s.last = j == 1<<p-1
	return s
}

// startCursor is the SCAN cursor at which the span begins: rev_p(j).
func (s span) startCursor() uint64 { return fracCursor(s.start) }

// where tells how a cursor returned by SCAN relates to the span.
type where int

const (
	inside where = iota // strictly inside: continue from it
	atEnd               // exactly the span's end: the scan of the span is complete
	beyond              // past the span's end (or before its start)
)

func (s span) classify(ret uint64) where {
	if ret == 0 {
		if s.last {
			return atEnd
		}
		return beyond
	}
	x := cursorFrac(ret)
	switch {
	case x < s.start:
		return beyond
	case s.last || x < s.end:
		return inside
	case x == s.end:
		return atEnd
	}
	return beyond
}

// contains reports whether cursor v (as a start cursor) lies in the span:
// its low p bits equal rev_p(j).
func (s span) contains(v uint64) bool {
	x := cursorFrac(v)
	return x >= s.start && (s.last || x < s.end)
}

// reemitFloor returns a lower bound of where the first dictScan step of a
// SCAN call that started at cursor `from` and returned `ret` (≠ 0) can
// reach back to: the step emits the whole bucket of the smaller table t0
// holding x(from), i.e. from floor(x(from)) at the bucket width 2^-n0. The
// returned cursor has no bits at or above n0 (dictScan clears them), so its
// lowest set fraction bit bounds the width from above: 2^-n0 ≤ 2^(tz-64)
// where tz = trailing zeros of X(ret). If X(from) is already a multiple of
// that width, nothing before it can be emitted again.
func reemitFloor(from, ret uint64) uint64 {
	x := cursorFrac(from)
	tz := bits.TrailingZeros64(cursorFrac(ret))
	if tz >= 64 {
		return 0
	}
	return x &^ (uint64(1)<<tz - 1)
}

// floorBits floors fraction x to a multiple of 2^-n (a table of 2^n buckets).
func floorBits(x uint64, n int) uint64 {
	if n <= 0 {
		return 0
	}
	if n >= 64 {
		return x
	}
	return x &^ (uint64(1)<<(64-n) - 1)
}
