package shard

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/redis/go-redis/v9"
)

// slotsSource enumerates the keys of a slot range on Redis 7.0/7.2 cluster
// nodes with CLUSTER COUNTKEYSINSLOT and CLUSTER GETKEYSINSLOT, a batch of
// slots at a time. A slot that moves (or starts or stops migrating) while it
// is listed is listed again on every node along its path, oldest holder
// first, and the listings are united; see the package doc.
type slotsSource struct {
	c    *Client
	p    Partition
	o    sourceOptions
	st   *sourceStats
	rc   *runCheck
	glob Glob

	nextSlot int     // first slot not yet listed
	counts   []int64 // COUNTKEYSINSLOT of slots next.. (a look-ahead used to size batches)
	maxBatch int     // keys per batch (soft)
}

const slotsLookahead = 128

func newSlotsSource(ctx context.Context, c *Client, p Partition, o sourceOptions, st *sourceStats, rc *runCheck) (*slotsSource, error) {
	s := &slotsSource{c: c, p: p, o: o, st: st, rc: rc, glob: CompileGlob(o.pattern), nextSlot: p.SlotStart,
		maxBatch: max(4*o.count, 4096)}
	v, err := readNodeView(ctx, c, p.Node, p.SlotStart, p.SlotEnd)
	if err != nil {
		return nil, fmt.Errorf("partition %s: %w", p, err)
	}
	if !p.Follow && !v.ownsAll(p.SlotStart, p.SlotEnd) {
		return nil, fmt.Errorf("partition %s: the node no longer owns all its slots: %w", p, ErrStaleTopology)
	}
	return s, nil
}

func (s *slotsSource) hashOnly() bool { return false }

func (s *slotsSource) finish(ctx context.Context) error { return nil }

func (s *slotsSource) next(ctx context.Context) ([]string, error) {
	for s.nextSlot <= s.p.SlotEnd {
		keys, err := s.batch(ctx)
		if err != nil {
			return nil, err
		}
		if len(keys) > 0 {
			return keys, nil
		}
	}
	return nil, io.EOF
}

// batch lists the next run of slots (up to maxBatch keys by the last
// counts, at least one slot) and returns the keys matching the pattern.
func (s *slotsSource) batch(ctx context.Context) ([]string, error) {
	node := s.c.Node(s.p.Node)
	if len(s.counts) == 0 {
		if err := s.lookahead(ctx, node); err != nil {
			return nil, err
		}
	}
	lo := s.nextSlot
	n, total := 0, int64(0)
	for n < len(s.counts) && (n == 0 || total+s.counts[n] <= int64(s.maxBatch)) {
		total += s.counts[n]
		n++
	}
	hi := lo + n - 1
	counts := s.counts[:n]
	s.counts = s.counts[n:]
	s.nextSlot = hi + 1

	before, err := readNodeView(ctx, s.c, s.p.Node, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("partition %s: %w", s.p, err)
	}
	lists, err := listSlots(ctx, node, lo, counts)
	if err != nil {
		return nil, fmt.Errorf("partition %s on %s: %w", s.p, s.p.Node, err)
	}
	after, err := readNodeView(ctx, s.c, s.p.Node, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("partition %s: %w", s.p, err)
	}
	var out []string
	for i, keys := range lists {
		slot := lo + i
		if !before.steady(slot) || !after.steady(slot) || before.slotState(slot) != after.slotState(slot) {
			if keys, err = s.followSlot(ctx, slot, keys); err != nil {
				return nil, err
			}
		}
		s.st.scanned += int64(len(keys))
		for _, k := range keys {
			if s.glob.Match(k) {
				out = append(out, k)
			}
		}
	}
	return out, s.rc.maybe(ctx)
}

// lookahead reads COUNTKEYSINSLOT for the next slots.
func (s *slotsSource) lookahead(ctx context.Context, node *redis.Client) error {
	hi := min(s.nextSlot+slotsLookahead-1, s.p.SlotEnd)
	pipe := node.Pipeline()
	cmds := make([]*redis.IntCmd, 0, hi-s.nextSlot+1)
	for slot := s.nextSlot; slot <= hi; slot++ {
		cmds = append(cmds, pipe.ClusterCountKeysInSlot(ctx, slot))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("partition %s: COUNTKEYSINSLOT on %s: %w", s.p, s.p.Node, err)
	}
	s.st.calls += int64(len(cmds))
	s.counts = s.counts[:0]
	for _, c := range cmds {
		s.counts = append(s.counts, c.Val())
	}
	return nil
}

// listSlots returns the keys of slots lo, lo+1, ... on one node. counts are
// hints; GETKEYSINSLOT is asked for more than the hint and repeated with a
// larger count while a reply comes back full, so keys added since the count
// cannot push older keys out of the reply.
func listSlots(ctx context.Context, node *redis.Client, lo int, counts []int64) ([][]string, error) {
	out := make([][]string, len(counts))
	want := make([]int64, len(counts))
	todo := make([]int, 0, len(counts))
	for i, n := range counts {
		want[i] = n + n/4 + 16
		todo = append(todo, i)
	}
	for len(todo) > 0 {
		pipe := node.Pipeline()
		cmds := make([]*redis.StringSliceCmd, len(todo))
		for j, i := range todo {
			cmds[j] = pipe.ClusterGetKeysInSlot(ctx, lo+i, int(want[i]))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("GETKEYSINSLOT: %w", err)
		}
		var again []int
		for j, i := range todo {
			keys := cmds[j].Val()
			if int64(len(keys)) >= want[i] {
				want[i] *= 2
				again = append(again, i)
				continue
			}
			out[i] = keys
		}
		todo = again
	}
	return out, nil
}

// followSlot lists a slot that is moving (or moved) while it was listed.
// Keys only move forward along the chain of nodes the slot passes through
// (source → target), so listing every node of the chain in chain order, in
// a pass during which no node's view of the slot changes, finds every key
// present throughout; the listings are united.
func (s *slotsSource) followSlot(ctx context.Context, slot int, first []string) ([]string, error) {
	seen := map[string]struct{}{}
	var union []string
	addKeys := func(keys []string) {
		for _, k := range keys {
			if _, dup := seen[k]; dup {
				s.st.duplicates++
				continue
			}
			seen[k] = struct{}{}
			union = append(union, k)
		}
	}
	s.st.followed++
	addKeys(first)
	chain := []string{s.p.Node}
	for attempt := 0; attempt < 8; attempt++ {
		states1, err := s.chainViews(ctx, slot, &chain)
		if err != nil {
			return nil, err
		}
		for _, addr := range chain {
			n, err := s.c.Node(addr).ClusterCountKeysInSlot(ctx, slot).Result()
			if err != nil {
				return nil, fmt.Errorf("partition %s: COUNTKEYSINSLOT %d on %s: %w", s.p, slot, addr, err)
			}
			lists, err := listSlots(ctx, s.c.Node(addr), slot, []int64{n})
			if err != nil {
				return nil, fmt.Errorf("partition %s: slot %d on %s: %w", s.p, slot, addr, err)
			}
			s.st.calls += 2
			addKeys(lists[0])
		}
		n := len(chain)
		states2, err := s.chainViews(ctx, slot, &chain)
		if err != nil {
			return nil, err
		}
		if len(chain) == n && slices.Equal(states1, states2) {
			return union, nil
		}
	}
	return nil, fmt.Errorf("partition %s: slot %d: %w", s.p, slot, ErrSlotUnstable)
}

// chainViews reads every chain node's view of slot, extends the chain with
// migration targets and owners not yet in it (in that order), and returns
// the views' states.
func (s *slotsSource) chainViews(ctx context.Context, slot int, chain *[]string) ([]string, error) {
	var states []string
	for i := 0; i < len(*chain); i++ {
		addr := (*chain)[i]
		v, err := readNodeView(ctx, s.c, addr, slot, slot)
		if err != nil {
			return nil, fmt.Errorf("partition %s: %w", s.p, err)
		}
		states = append(states, v.slotState(slot))
		for _, id := range []string{v.migrating[slot], v.owner[slot]} {
			if id == "" || id == v.self {
				continue
			}
			a := v.addrs[id]
			if a != "" && !slices.Contains(*chain, a) {
				*chain = append(*chain, a)
			}
		}
	}
	return states, nil
}
