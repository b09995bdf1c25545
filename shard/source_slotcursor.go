package shard

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/redis/go-redis/v9"
)

// Slot-cursor math for kvstore servers (Redis 7.4+, Valkey 8+ in cluster
// mode; DESIGN.md §2.2): cursor = dictCursor<<14 | slot, slots visited in
// ascending order.

const slotBits = 14

// slotCursorStart is the cursor at which slot's dictionary scan begins.
func slotCursorStart(slot int) uint64 { return uint64(slot) }

// slotOfCursor is the slot a kvstore cursor points into.
func slotOfCursor(c uint64) int { return int(c & (NumSlots - 1)) }

// slotCursorDone reports whether a returned cursor ends a scan of slots up
// to end (inclusive).
func slotCursorDone(ret uint64, end int) bool { return ret == 0 || slotOfCursor(ret) > end }

// slotCursorSource scans a slot range with SCAN on one kvstore node. Keys of
// slots outside the range (a call may run into the next slots) are dropped;
// a per-slot set removes repeats caused by a slot's dict shrinking. The
// node's ownership of the range is checked at the start and the end.
type slotCursorSource struct {
	c    *Client
	p    Partition
	node *redis.Client
	o    sourceOptions
	st   *sourceStats
	rc   *runCheck

	v       uint64
	done    bool
	curSlot int
	seen    map[string]struct{} // keys of curSlot already returned
	state   string
}

func newSlotCursorSource(ctx context.Context, c *Client, p Partition, o sourceOptions, st *sourceStats, rc *runCheck) (*slotCursorSource, error) {
	s := &slotCursorSource{c: c, p: p, node: c.Node(p.Node), o: o, st: st, rc: rc,
		v: slotCursorStart(p.SlotStart), curSlot: p.SlotStart, seen: map[string]struct{}{}}
	v, err := readNodeView(ctx, c, p.Node, p.SlotStart, p.SlotEnd)
	if err != nil {
		return nil, fmt.Errorf("partition %s: %w", p, err)
	}
	for slot := p.SlotStart; slot <= p.SlotEnd; slot++ {
		if !v.steady(slot) {
			// Keys of a migrating slot leave (or enter) the node's dict
			// while SCAN walks it: only slot listing can follow them.
			return nil, fmt.Errorf("partition %s: slot %d is not owned by the node or is migrating (%s): %w",
				p, slot, v.slotState(slot), ErrStaleTopology)
		}
	}
	s.state = v.rangeState(p.SlotStart, p.SlotEnd)
	return s, nil
}

// restarted makes a restart under a running attempt also a stale topology:
// the attempt's cursors belong to the old process, so its rows must be
// discarded and the range re-planned (ReplanPartition lists it again).
func restarted(err error) error {
	if errors.Is(err, ErrServerRestarted) && !errors.Is(err, ErrStaleTopology) {
		return fmt.Errorf("%w: %w", err, ErrStaleTopology)
	}
	return err
}

func (s *slotCursorSource) hashOnly() bool { return !s.o.allTypes }

func (s *slotCursorSource) next(ctx context.Context) ([]string, error) {
	for !s.done {
		if err := s.rc.maybe(ctx); err != nil {
			return nil, restarted(err)
		}
		keys, ret, err := s.node.ScanType(ctx, s.v, s.o.pattern, int64(s.o.count), s.o.scanType()).Result()
		if err != nil {
			return nil, fmt.Errorf("partition %s: SCAN %d: %w", s.p, s.v, err)
		}
		s.st.calls++
		out := s.filter(keys)
		s.v = ret
		s.done = slotCursorDone(ret, s.p.SlotEnd)
		if !s.done && slotOfCursor(ret) != s.curSlot {
			s.curSlot = slotOfCursor(ret)
			clear(s.seen)
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	return nil, io.EOF
}

// filter keeps keys of the range, drops repeats within the current slot
// and forgets earlier slots' keys (the scan never returns to them).
func (s *slotCursorSource) filter(keys []string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		slot := KeySlot(k)
		if slot < s.p.SlotStart || slot > s.p.SlotEnd {
			continue
		}
		s.st.scanned++
		if slot > s.curSlot {
			s.curSlot = slot
			clear(s.seen)
		}
		if slot == s.curSlot {
			if _, dup := s.seen[k]; dup {
				s.st.duplicates++
				continue
			}
			s.seen[k] = struct{}{}
		}
		out = append(out, k)
	}
	return out
}

func (s *slotCursorSource) finish(ctx context.Context) error {
	if err := s.rc.check(ctx); err != nil {
		return restarted(err)
	}
	v, err := readNodeView(ctx, s.c, s.p.Node, s.p.SlotStart, s.p.SlotEnd)
	if err != nil {
		return fmt.Errorf("partition %s: %w", s.p, err)
	}
	if v.rangeState(s.p.SlotStart, s.p.SlotEnd) != s.state {
		return fmt.Errorf("partition %s: slots moved during the scan: %w", s.p, ErrStaleTopology)
	}
	return nil
}
