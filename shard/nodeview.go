package shard

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// nodeView is one node's CLUSTER NODES: who owns which slot as that node
// sees it, and the node's own MIGRATING / IMPORTING marks (only a node
// itself reports those).
type nodeView struct {
	self      string            // node id of the node asked
	addrs     map[string]string // node id → addr (host:port)
	owner     map[int]string    // slot → node id, for slots within the range asked about
	migrating map[int]string    // slot → target node id (this node migrates it away)
	importing map[int]string    // slot → source node id (this node imports it)
}

// readNodeView runs CLUSTER NODES on addr and keeps the slots in [lo, hi].
func readNodeView(ctx context.Context, c *Client, addr string, lo, hi int) (*nodeView, error) {
	out, err := c.Node(addr).ClusterNodes(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("CLUSTER NODES on %s: %w", addr, err)
	}
	return parseNodeView(out, lo, hi)
}

func parseNodeView(out string, lo, hi int) (*nodeView, error) {
	v := &nodeView{addrs: map[string]string{}, owner: map[int]string{},
		migrating: map[int]string{}, importing: map[int]string{}}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		id := f[0]
		addr := f[1]
		if i := strings.IndexByte(addr, '@'); i >= 0 {
			addr = addr[:i]
		}
		if i := strings.IndexByte(addr, ','); i >= 0 { // hostname suffix (7.0+)
			addr = addr[:i]
		}
		v.addrs[id] = addr
		myself := strings.Contains(f[2], "myself")
		if myself {
			v.self = id
		}
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") {
				if !myself {
					continue
				}
				// [slot->-target] or [slot-<-source]
				body := strings.Trim(r, "[]")
				if s, target, ok := strings.Cut(body, "->-"); ok {
					if n, err := strconv.Atoi(s); err == nil && n >= lo && n <= hi {
						v.migrating[n] = target
					}
				} else if s, source, ok := strings.Cut(body, "-<-"); ok {
					if n, err := strconv.Atoi(s); err == nil && n >= lo && n <= hi {
						v.importing[n] = source
					}
				}
				continue
			}
			a, b, err := parseSlotRange(r)
			if err != nil {
				return nil, fmt.Errorf("parsing CLUSTER NODES slot %q: %w", r, err)
			}
			for s := max(a, lo); s <= min(b, hi); s++ {
				v.owner[s] = id
			}
		}
	}
	if v.self == "" {
		return nil, fmt.Errorf("CLUSTER NODES has no myself line")
	}
	return v, nil
}

func parseSlotRange(r string) (int, int, error) {
	lo, hi, isRange := strings.Cut(r, "-")
	a, err := strconv.Atoi(lo)
	if err != nil {
		return 0, 0, err
	}
	b := a
	if isRange {
		if b, err = strconv.Atoi(hi); err != nil {
			return 0, 0, err
		}
	}
	return a, b, nil
}

// ownsAll reports whether the asked node owns every slot of [lo, hi].
func (v *nodeView) ownsAll(lo, hi int) bool {
	for s := lo; s <= hi; s++ {
		if v.owner[s] != v.self {
			return false
		}
	}
	return true
}

// steady reports whether the node owns slot and is not moving it.
func (v *nodeView) steady(slot int) bool {
	_, mig := v.migrating[slot]
	_, imp := v.importing[slot]
	return v.owner[slot] == v.self && !mig && !imp
}

// slotState is a comparable summary of the node's view of one slot.
func (v *nodeView) slotState(slot int) string {
	return v.owner[slot] + ">" + v.migrating[slot] + "<" + v.importing[slot]
}

// rangeState summarises ownership and marks of the node's own slots in
// [lo, hi], for detecting any change between two reads.
func (v *nodeView) rangeState(lo, hi int) string {
	var b strings.Builder
	for s := lo; s <= hi; s++ {
		if v.owner[s] == v.self || v.migrating[s] != "" || v.importing[s] != "" {
			fmt.Fprintf(&b, "%d:%s;", s, v.slotState(s))
		}
	}
	return b.String()
}
