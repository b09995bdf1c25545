package shard

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// SamplePartition reads up to limit hashes of partition p whose keys match
// pattern, calling fn for each (key, its field names in the order Redis
// returns them, all fields), and returns how many it passed to fn. Redis
// returns the fields of a small (listpack-encoded) hash in insertion order,
// those of a large one in no particular order. It walks the partition like ScanPartition (the same keys,
// each at most once) and stops early once limit is reached; limit ≤ 0 means
// the whole partition. Used by schema inference.
func SamplePartition(ctx context.Context, c *Client, p Partition, pattern string, limit int, fn func(key string, names []string, m map[string]string) error) (_ int, err error) {
	defer func() { err = accessError(err, p.Node) }()
	var st sourceStats
	src, err := openSource(ctx, c, p, sourceOptions{pattern: pattern, count: sampleCount(limit)}, &st)
	if err != nil {
		return 0, err
	}
	f := &fetcher{rdb: c.Redis(), ordered: true}
	n := 0
	for limit <= 0 || n < limit {
		keys, err := src.next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
		if limit > 0 && len(keys) > limit-n {
			keys = keys[:limit-n]
		}
		rows, _, err := f.fetch(ctx, keys)
		if err != nil {
			return n, fmt.Errorf("sampling partition %s: %w", p, err)
		}
		for i := range rows {
			if limit > 0 && n >= limit {
				break
			}
			n++
			if err := fn(rows[i].key, rows[i].names, rows[i].m); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// sampleCount picks a SCAN COUNT hint that does not overshoot a small limit.
func sampleCount(limit int) int {
	if limit <= 0 || limit >= 1000 {
		return 1000
	}
	return max(limit, 10)
}
