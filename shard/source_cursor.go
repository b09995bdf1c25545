package shard

import (
	"context"
	"fmt"
	"io"
	"math/bits"

	"github.com/redis/go-redis/v9"
)

// cursorSource scans partition Index of 2^Bits of one dict with SCAN (see
// the package doc for the argument that every key comes out exactly once).
type cursorSource struct {
	c     *Client
	p     Partition
	node  *redis.Client
	sp    span
	o     sourceOptions
	st    *sourceStats
	rc    *runCheck
	win   *dedupWindow
	exact bool // MEMORY STATS gives the table size on this server

	v     uint64 // next cursor
	count int    // current COUNT
	done  bool

	// cluster (≤ 7.2) per-node cursor partitions: the node's slots and
	// migration marks at the start, compared at the end.
	slotState string
}

func newCursorSource(ctx context.Context, c *Client, p Partition, o sourceOptions, st *sourceStats, rc *runCheck) (*cursorSource, error) {
	s := &cursorSource{c: c, p: p, node: c.Node(p.Node), sp: cursorSpan(p.Bits, p.Index), o: o, st: st, rc: rc,
		count: o.count}
	s.v = s.sp.startCursor()
	if c.IsCluster() {
		if t := c.Topology(); t != nil && t.KVStore() {
			return nil, fmt.Errorf("partition %s: %w: %s %s keeps one dict per slot; plan slot-cursor partitions",
				p, ErrStaleTopology, t.Server, t.Version)
		}
		state, err := s.clusterState(ctx)
		if err != nil {
			return nil, err
		}
		s.slotState = state
	}
	limit := o.window
	if limit > 0 {
		if _, err := tableBits(ctx, s.node); err == nil {
			s.exact = true
		} else {
			// Without the table size a shrink cannot be measured; keep every
			// key of the partition instead (memory grows with the partition).
			c.Logger().Warn("MEMORY STATS unusable: de-duplicating with an unbounded key set",
				"partition", p.String(), "error", err)
			limit = -1
		}
	}
	s.win = newDedupWindow(limit)
	return s, nil
}

func (s *cursorSource) hashOnly() bool { return !s.o.allTypes }

func (s *cursorSource) clusterState(ctx context.Context) (string, error) {
	v, err := readNodeView(ctx, s.c, s.p.Node, 0, NumSlots-1)
	if err != nil {
		return "", fmt.Errorf("partition %s: %w", s.p, err)
	}
	return v.rangeState(0, NumSlots-1), nil
}

func (s *cursorSource) next(ctx context.Context) ([]string, error) {
	exactCall := false
	for !s.done {
		if err := s.rc.maybe(ctx); err != nil {
			return nil, err
		}
		keys, ret, n0, err := s.call(ctx, s.v, s.count, exactCall)
		if err != nil {
			return nil, err
		}
		s.st.calls++
		w := s.sp.classify(ret)
		if w == beyond {
			// The call ran past the partition's end: its keys may belong to a
			// later partition. Discard them and retry with a smaller COUNT; a
			// COUNT 1 call returns keys of a single bucket group that ends at
			// the returned cursor, beyond our end, so they are not ours.
			if len(keys) == 0 || s.count == 1 {
				s.done = true
				return nil, io.EOF
			}
			s.st.retries++
			s.count = max(1, s.count/2)
			exactCall = false
			continue
		}
		if !s.win.covers(s.v, ret, n0) {
			if !exactCall && s.exact {
				exactCall = true // redo the call together with MEMORY STATS
				continue
			}
			return nil, fmt.Errorf("partition %s at cursor %d: %w", s.p, s.v, ErrTableShrank)
		}
		exactCall = false
		s.st.scanned += int64(len(keys))
		fresh, dups := s.win.add(keys, ret)
		s.st.duplicates += int64(dups)
		s.v = ret
		if w == atEnd {
			s.done = true
		}
		if len(fresh) > 0 {
			return fresh, nil
		}
	}
	return nil, io.EOF
}

// call runs SCAN v MATCH pattern COUNT count [TYPE hash]; with exact it runs
// in MULTI together with DBSIZE and MEMORY STATS and also returns the
// exponent of the smaller hash table (else n0 = -1).
func (s *cursorSource) call(ctx context.Context, v uint64, count int, exact bool) ([]string, uint64, int, error) {
	if !exact {
		keys, ret, err := s.node.ScanType(ctx, v, s.o.pattern, int64(count), s.o.scanType()).Result()
		if err != nil {
			return nil, 0, -1, fmt.Errorf("partition %s: SCAN %d: %w", s.p, v, err)
		}
		return keys, ret, -1, nil
	}
	pipe := s.node.TxPipeline()
	scan := pipe.ScanType(ctx, v, s.o.pattern, int64(count), s.o.scanType())
	size := pipe.DBSize(ctx)
	stats := pipe.Do(ctx, "MEMORY", "STATS")
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, 0, -1, fmt.Errorf("partition %s: SCAN %d with MEMORY STATS: %w", s.p, v, err)
	}
	keys, ret := scan.Val()
	n0, err := smallTableBits(size.Val(), stats.Val(), s.c.base.DB)
	if err != nil {
		return nil, 0, -1, fmt.Errorf("partition %s: %w", s.p, err)
	}
	return keys, ret, n0, nil
}

func (s *cursorSource) finish(ctx context.Context) error {
	if err := s.rc.check(ctx); err != nil {
		return err
	}
	if s.slotState != "" {
		state, err := s.clusterState(ctx)
		if err != nil {
			return err
		}
		if state != s.slotState {
			return fmt.Errorf("partition %s: the node's slots changed during the scan: %w", s.p, ErrStaleTopology)
		}
	}
	return nil
}

// tableBits reads the exponent of the smaller hash table of the selected
// database (probe at task start).
func tableBits(ctx context.Context, node *redis.Client) (int, error) {
	pipe := node.TxPipeline()
	size := pipe.DBSize(ctx)
	stats := pipe.Do(ctx, "MEMORY", "STATS")
	if _, err := pipe.Exec(ctx); err != nil {
		return -1, fmt.Errorf("MEMORY STATS: %w", err)
	}
	db := node.Options().DB
	return smallTableBits(size.Val(), stats.Val(), db)
}

// smallTableBits derives the bucket count of the keyspace dict of db from
// MEMORY STATS (Redis 7.0-7.2: overhead.hashtable.main = 40·keys + 8·buckets,
// buckets summed over both tables while rehashing) and returns log2 of the
// smaller table. An empty database reports no entry and gives 0.
func smallTableBits(keys int64, stats any, db int) (int, error) {
	main, found, err := memoryStatsMain(stats, db)
	if err != nil {
		return -1, err
	}
	if !found {
		if keys == 0 {
			return 0, nil
		}
		return -1, fmt.Errorf("MEMORY STATS has no db.%d entry for %d keys", db, keys)
	}
	rest := main - 40*keys
	if rest <= 0 || rest%8 != 0 {
		return -1, fmt.Errorf("MEMORY STATS overhead.hashtable.main %d does not fit 40·%d keys + 8·buckets", main, keys)
	}
	buckets := uint64(rest / 8)
	if n := bits.OnesCount64(buckets); n > 2 {
		return -1, fmt.Errorf("MEMORY STATS gives %d buckets, not one or two tables", buckets)
	}
	return bits.TrailingZeros64(buckets), nil
}

// memoryStatsMain finds db.<db> → overhead.hashtable.main in a RESP2 (flat
// array) or RESP3 (map) MEMORY STATS reply.
func memoryStatsMain(stats any, db int) (int64, bool, error) {
	name := fmt.Sprintf("db.%d", db)
	entry, ok := lookupReply(stats, name)
	if !ok {
		return 0, false, nil
	}
	v, ok := lookupReply(entry, "overhead.hashtable.main")
	if !ok {
		return 0, false, fmt.Errorf("MEMORY STATS %s has no overhead.hashtable.main", name)
	}
	n, ok := v.(int64)
	if !ok {
		return 0, false, fmt.Errorf("MEMORY STATS %s overhead.hashtable.main is %T", name, v)
	}
	return n, true, nil
}

func lookupReply(r any, name string) (any, bool) {
	switch m := r.(type) {
	case []any:
		for i := 0; i+1 < len(m); i += 2 {
			if k, _ := m[i].(string); k == name {
				return m[i+1], true
			}
		}
	case map[any]any:
		v, ok := m[name]
		return v, ok
	case map[string]any:
		v, ok := m[name]
		return v, ok
	}
	return nil, false
}
