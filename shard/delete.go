package shard

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/redis/go-redis/v9"
)

// DeleteStats count what a delete task did.
type DeleteStats struct {
	Matched int64 `json:"matched"` // hashes matching the pattern that were found
	Deleted int64 `json:"deleted"` // keys removed (0 in a dry run)
}

// DeletePartition removes the hashes of partition p whose keys match
// pattern, with UNLINK in pipelines; dryRun only counts them. Only hashes
// are deleted: the scan side of redstage reads hashes only, and a pattern
// that also matches lists or sets would otherwise destroy data redstage
// never showed. Keys of other types are left alone (on slot partitions
// their types are checked with TYPE before unlinking).
//
// Deleting shrinks the keyspace while other partitions are still scanning
// it. That never deletes a key twice or a non-matching key, but a large
// delete can shrink the table below the plan's 2^Bits buckets and make a
// cursor partition miss a few keys; a second pass (or a dry run reporting
// Matched = 0) confirms completion.
func DeletePartition(ctx context.Context, c *Client, p Partition, pattern string, dryRun bool) (DeleteStats, error) {
	var ds DeleteStats
	var st sourceStats
	src, err := openSource(ctx, c, p, sourceOptions{pattern: pattern}, &st)
	if err != nil {
		return ds, err
	}
	rdb := c.Redis()
	for {
		keys, err := src.next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return ds, err
		}
		if !src.hashOnly() {
			if keys, err = onlyHashes(ctx, rdb, keys); err != nil {
				return ds, fmt.Errorf("deleting partition %s: %w", p, err)
			}
		}
		ds.Matched += int64(len(keys))
		if dryRun || len(keys) == 0 {
			continue
		}
		pipe := rdb.Pipeline()
		cmds := make([]*redis.IntCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.Unlink(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return ds, fmt.Errorf("deleting partition %s: UNLINK: %w", p, err)
		}
		for _, cmd := range cmds {
			ds.Deleted += cmd.Val()
		}
	}
	if err := src.finish(ctx); err != nil {
		// Deletes are idempotent: the counts so far stand, and a rerun of
		// the (re-planned) task removes what this attempt missed.
		return ds, err
	}
	return ds, nil
}

// onlyHashes keeps the keys whose TYPE is hash.
func onlyHashes(ctx context.Context, rdb redis.Cmdable, keys []string) ([]string, error) {
	pipe := rdb.Pipeline()
	cmds := make([]*redis.StatusCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Type(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("TYPE: %w", err)
	}
	out := keys[:0:0]
	for i, k := range keys {
		if cmds[i].Val() == "hash" {
			out = append(out, k)
		}
	}
	return out, nil
}
