package shard

import (
	"context"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
)

// Partition kinds.
const (
	KindCursor     = "cursor"      // bit-reversed cursor range of one dict (standalone; cluster ≤ 7.2 per node)
	KindSlotCursor = "slot-cursor" // slot range scanned with SCAN on a kvstore server (cluster 7.4+, Valkey 8+)
	KindSlots      = "slots"       // slot range enumerated with CLUSTER GETKEYSINSLOT (cluster 7.0/7.2)
)

// MaxBits bounds Partition.Bits.
const MaxBits = 24

// Partition is one independent piece of a keyspace. It is JSON and travels
// inside a task.
type Partition struct {
	Kind      string `json:"kind"`
	Node      string `json:"node"`   // master address
	RunID     string `json:"run_id"` // run_id of Node when planned ("" = do not check)
	Bits      int    `json:"bits,omitempty"`
	Index     int    `json:"index,omitempty"`
	SlotStart int    `json:"slot_start,omitempty"` // inclusive
	SlotEnd   int    `json:"slot_end,omitempty"`   // inclusive
	// Follow (slots partitions only): slots of the range that Node no
	// longer owns are followed to the nodes holding them instead of failing
	// the task with ErrStaleTopology. ReplanPartition sets it, so that a
	// re-planned partition is never re-planned again.
	Follow bool `json:"follow,omitempty"`
}

// Validate checks the partition's fields.
func (p Partition) Validate() error {
	if p.Node == "" {
		return fmt.Errorf("%w: no node", ErrInvalidPartition)
	}
	switch p.Kind {
	case KindCursor:
		if p.Bits < 0 || p.Bits > MaxBits || p.Index < 0 || p.Index >= 1<<p.Bits {
			return fmt.Errorf("%w: cursor partition %d of 2^%d", ErrInvalidPartition, p.Index, p.Bits)
		}
	case KindSlotCursor, KindSlots:
		if p.SlotStart < 0 || p.SlotEnd >= NumSlots || p.SlotStart > p.SlotEnd {
			return fmt.Errorf("%w: slot range %d-%d", ErrInvalidPartition, p.SlotStart, p.SlotEnd)
		}
		if p.Follow && p.Kind != KindSlots {
			return fmt.Errorf("%w: follow applies to %s partitions, not %s", ErrInvalidPartition, KindSlots, p.Kind)
		}
	default:
		return fmt.Errorf("%w: unknown kind %q", ErrInvalidPartition, p.Kind)
	}
	return nil
}

// String is a short description for logs and errors.
func (p Partition) String() string {
	if p.Kind == KindCursor {
		return fmt.Sprintf("%s %d/%d on %s", p.Kind, p.Index, 1<<p.Bits, p.Node)
	}
	if p.Follow {
		return fmt.Sprintf("%s %d-%d on %s (following moved slots)", p.Kind, p.SlotStart, p.SlotEnd, p.Node)
	}
	return fmt.Sprintf("%s %d-%d on %s", p.Kind, p.SlotStart, p.SlotEnd, p.Node)
}

// NodeWideRestart reports whether a restart of the partition's node
// invalidates every partition of that node, not just this one: cursor
// partitions depend on the server's random hash seed, so after a restart or
// failover all cursor partitions of the node must be re-planned and rerun.
// Slot partitions are fixed by CRC16 and only need this task rerun.
func (p Partition) NodeWideRestart() bool { return p.Kind == KindCursor }

// PlanOptions configure PlanScan.
type PlanOptions struct {
	Tasks   int    // wanted number of partitions; 0 = DefaultTasks()
	Pattern string // MATCH pattern; a literal {hashtag} limits a cluster plan to one slot
	// Kind forces a partition kind ("" = chosen from the topology). KindCursor
	// on a 7.0/7.2 cluster gives per-node cursor partitions, which are exact
	// only while no slot moves (checked: ErrStaleTopology otherwise).
	Kind string
	// MinKeys is the smallest key count expected during the scan (per node);
	// 0 = the current DBSIZE. It bounds the cursor partition bits (§2.1).
	MinKeys int64
}

// DefaultTasks is the default number of partitions: four per CPU of this
// process, rounded up to a power of two, at least 8.
func DefaultTasks() int {
	n := 4 * runtime.GOMAXPROCS(0)
	return max(8, 1<<bits.Len(uint(n-1)))
}

// CursorBits chooses p for 2^p cursor partitions over a dict of about keys
// keys for the wanted number of tasks: p = min(⌊log₂(keys/8)⌋, ⌈log₂ tasks⌉),
// at least 0, so that the table (≥ keys buckets) has at least 8·2^p buckets
// and no bucket straddles a partition boundary (DESIGN.md §2.1).
func CursorBits(keys int64, tasks int) int {
	p := 0
	if keys >= 16 {
		p = bits.Len64(uint64(keys/8)) - 1
	}
	want := 0
	if tasks > 1 {
		want = bits.Len(uint(tasks - 1))
	}
	return max(0, min(p, want, MaxBits))
}

// PlanScan splits the keyspace behind c into partitions (see the package
// doc for what each kind promises). The topology is refreshed first.
func PlanScan(ctx context.Context, c *Client, opts PlanOptions) (_ []Partition, err error) {
	defer func() { err = accessError(err, c.base.Addr) }()
	if opts.Tasks < 0 {
		return nil, fmt.Errorf("%w: tasks %d", ErrInvalidOptions, opts.Tasks)
	}
	if opts.Tasks == 0 {
		opts.Tasks = DefaultTasks()
	}
	topo, err := c.Refresh(ctx)
	if err != nil {
		return nil, fmt.Errorf("planning scan: %w", err)
	}
	kind := opts.Kind
	if kind == "" {
		switch {
		case !topo.Cluster:
			kind = KindCursor
		case topo.KVStore():
			kind = KindSlotCursor
		default:
			kind = KindSlots
		}
	}
	switch kind {
	case KindCursor:
		if topo.Cluster && topo.KVStore() {
			return nil, fmt.Errorf("%w: cursor partitions need one dict per node; %s %s keeps one per slot",
				ErrInvalidOptions, topo.Server, topo.Version)
		}
		return planCursor(ctx, c, topo, opts)
	case KindSlots, KindSlotCursor:
		if !topo.Cluster {
			return nil, fmt.Errorf("%w: %s partitions need a cluster", ErrInvalidOptions, kind)
		}
		return planSlots(ctx, c, topo, kind, opts)
	}
	return nil, fmt.Errorf("%w: unknown partition kind %q", ErrInvalidOptions, kind)
}

// planCursor gives every master 2^p cursor partitions, p from its key count
// and its share of the tasks.
func planCursor(ctx context.Context, c *Client, topo *Topology, opts PlanOptions) ([]Partition, error) {
	var out []Partition
	perNode := max(1, opts.Tasks/len(topo.Masters))
	for _, m := range topo.Masters {
		keys := opts.MinKeys
		if keys <= 0 {
			n, err := c.Node(m.Addr).DBSize(ctx).Result()
			if err != nil {
				return nil, fmt.Errorf("planning scan: DBSIZE on %s: %w", m.Addr, err)
			}
			keys = n
		}
		p := CursorBits(keys, perNode)
		for j := range 1 << p {
			out = append(out, Partition{Kind: KindCursor, Node: m.Addr, RunID: m.RunID, Bits: p, Index: j})
		}
	}
	return out, nil
}

// planSlots splits every master's slot ranges into contiguous pieces of
// about equal key counts (COUNTKEYSINSLOT), the number of pieces per master
// proportional to its keys. A pattern with a literal hashtag gives one
// partition for its slot.
func planSlots(ctx context.Context, c *Client, topo *Topology, kind string, opts PlanOptions) ([]Partition, error) {
	if slot, ok := PatternSlot(opts.Pattern); ok {
		owner := topo.SlotOwner(slot)
		if owner == nil {
			return nil, fmt.Errorf("planning scan: slot %d of pattern %q has no owner: %w", slot, opts.Pattern, ErrStaleTopology)
		}
		return []Partition{{Kind: kind, Node: owner.Addr, RunID: owner.RunID, SlotStart: slot, SlotEnd: slot}}, nil
	}
	counts := make([][]int64, len(topo.Masters))
	var total int64
	for i, m := range topo.Masters {
		cs, err := countSlots(ctx, c, m)
		if err != nil {
			return nil, err
		}
		counts[i] = cs
		for _, n := range cs {
			total += n
		}
	}
	shares := apportion(opts.Tasks, counts, topo.Masters)
	var out []Partition
	for i, m := range topo.Masters {
		out = append(out, splitSlots(m, counts[i], shares[i], kind)...)
	}
	return out, nil
}

// apportion divides tasks among masters in proportion to their keys (by
// slots when there are none) with the largest-remainder method; every
// master gets at least one partition per slot range it owns.
func apportion(tasks int, counts [][]int64, masters []Node) []int {
	weights := make([]float64, len(masters))
	var total float64
	for i := range masters {
		for _, n := range counts[i] {
			weights[i] += float64(n)
		}
		total += weights[i]
	}
	if total == 0 {
		for i, m := range masters {
			for _, r := range m.Slots {
				weights[i] += float64(r.Len())
			}
			total += weights[i]
		}
	}
	shares := make([]int, len(masters))
	rems := make([]float64, len(masters))
	given := 0
	for i := range masters {
		exact := float64(tasks) * weights[i] / max(total, 1)
		shares[i] = int(exact)
		rems[i] = exact - float64(shares[i])
		given += shares[i]
	}
	order := make([]int, len(masters))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rems[a] > rems[b]:
			return -1
		case rems[a] < rems[b]:
			return 1
		}
		return 0
	})
	for _, i := range order {
		if given >= tasks {
			break
		}
		shares[i]++
		given++
	}
	for i, m := range masters {
		shares[i] = max(shares[i], len(m.Slots), 1)
	}
	return shares
}

// countSlots returns COUNTKEYSINSLOT for every slot of m, in the order of
// m.Slots.
func countSlots(ctx context.Context, c *Client, m Node) ([]int64, error) {
	pipe := c.Node(m.Addr).Pipeline()
	var cmds []interface{ Val() int64 }
	for _, r := range m.Slots {
		for s := r.Start; s <= r.End; s++ {
			cmds = append(cmds, pipe.ClusterCountKeysInSlot(ctx, s))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("planning scan: COUNTKEYSINSLOT on %s: %w", m.Addr, err)
	}
	out := make([]int64, len(cmds))
	for i, cmd := range cmds {
		out[i] = cmd.Val()
	}
	return out, nil
}

// splitSlots cuts m's slot ranges into about `pieces` partitions with about
// equal key counts; every range gives at least one partition and no
// partition spans two ranges.
func splitSlots(m Node, counts []int64, pieces int, kind string) []Partition {
	var keys int64
	for _, n := range counts {
		keys += n
	}
	nslots := 0
	for _, r := range m.Slots {
		nslots += r.Len()
	}
	// Weight = keys + a small share per slot, so empty stretches still split.
	weight := func(i int) float64 { return float64(counts[i]) + float64(keys+1)/float64(4*nslots) }
	var totalW float64
	for i := range counts {
		totalW += weight(i)
	}
	target := totalW / float64(pieces)
	var out []Partition
	var cum float64
	i := 0
	for _, r := range m.Slots {
		start := r.Start
		for s := r.Start; s <= r.End; s++ {
			cum += weight(i)
			i++
			// Cut where the running weight crosses the next multiple of the
			// target, as long as pieces remain to be made.
			if s < r.End && len(out)+1 < pieces && cum >= float64(len(out)+1)*target {
				out = append(out, Partition{Kind: kind, Node: m.Addr, RunID: m.RunID, SlotStart: start, SlotEnd: s})
				start = s + 1
			}
		}
		out = append(out, Partition{Kind: kind, Node: m.Addr, RunID: m.RunID, SlotStart: start, SlotEnd: r.End})
	}
	slices.SortFunc(out, func(a, b Partition) int { return a.SlotStart - b.SlotStart })
	return out
}

// ReplanPartition re-plans the slot range of a slot partition (after
// ErrStaleTopology, which slot-cursor partitions also report after a
// restart of their node) against the current topology: the range is split
// where the owner changes, each piece a "slots" partition on its current
// owner with Follow set. Such a partition never fails with
// ErrStaleTopology (slots that move before or while it runs are followed
// to their holders), so re-planning ends after one round however long a
// resharding goes on, and a restarted node is simply listed again.
// Cursor partitions cannot be re-planned one at a time, since which keys a
// cursor range holds depends on the node's server process: re-plan them
// all with PlanScan (the error says so).
func ReplanPartition(ctx context.Context, c *Client, p Partition) (_ []Partition, err error) {
	defer func() { err = accessError(err, p.Node) }()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Kind == KindCursor {
		return nil, fmt.Errorf("re-planning %s: %w: cursor partitions are re-planned for the whole node with PlanScan",
			p, ErrInvalidOptions)
	}
	topo, err := c.Refresh(ctx)
	if err != nil {
		return nil, fmt.Errorf("re-planning %s: %w", p, err)
	}
	var out []Partition
	for s := p.SlotStart; s <= p.SlotEnd; s++ {
		owner := topo.SlotOwner(s)
		if owner == nil {
			return nil, fmt.Errorf("re-planning %s: slot %d has no owner: %w", p, s, ErrStaleTopology)
		}
		if n := len(out); n > 0 && out[n-1].Node == owner.Addr && out[n-1].SlotEnd == s-1 {
			out[n-1].SlotEnd = s
			continue
		}
		out = append(out, Partition{Kind: KindSlots, Node: owner.Addr, RunID: owner.RunID, SlotStart: s, SlotEnd: s, Follow: true})
	}
	return out, nil
}
