package shard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/redis/go-redis/v9"
)

// TypeAll selects keys of every type in DeleteOptions.Type.
const TypeAll = "all"

// deleteTypes are the values DeleteOptions.Type accepts besides TypeAll:
// the names TYPE returns for the data types.
var deleteTypes = []string{"hash", "string", "list", "set", "zset", "stream"}

// DeleteOptions configure DeletePartition.
type DeleteOptions struct {
	// Pattern is the glob the keys must match.
	Pattern string
	// Type is the type of the keys to delete: "hash" (the default, the
	// type redstage writes and reads), "string", "list", "set", "zset",
	// "stream", or TypeAll for every type. Matching keys of other types are
	// left alone and counted in DeleteStats.OtherTypes.
	Type string
	// DryRun counts the keys that would be deleted and deletes nothing.
	DryRun bool
}

// ParseDeleteType normalises a DeleteOptions.Type ("" means hash; "any"
// is accepted for TypeAll).
func ParseDeleteType(s string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch {
	case t == "":
		return "hash", nil
	case t == TypeAll || t == "any":
		return TypeAll, nil
	}
	for _, d := range deleteTypes {
		if t == d {
			return t, nil
		}
	}
	return "", fmt.Errorf("%w: key type %q (want %s or %s)", ErrInvalidOptions, s, strings.Join(deleteTypes, ", "), TypeAll)
}

// DeleteStats count what a delete task did.
type DeleteStats struct {
	Matched    int64 `json:"matched"`     // keys of the selected type matching the pattern
	Deleted    int64 `json:"deleted"`     // keys removed (0 in a dry run)
	OtherTypes int64 `json:"other_types"` // matching keys of other types, left alone
}

// DeletePartition removes the keys of partition p that match opts.Pattern
// and are of type opts.Type, with UNLINK in pipelines; a dry run only counts
// them. By default only hashes are deleted: redstage writes and reads
// hashes, and a pattern that also matches lists or sets must not destroy
// data redstage never showed unless asked (Type TypeAll). Matching keys of
// other types are counted in OtherTypes. Each chunk of keys is typed with
// TYPE before UNLINK (not atomically: a key replaced by another type in
// between is deleted as what it was).
//
// Deleting shrinks the keyspace while other partitions are still scanning
// it. That never deletes a key twice or a non-matching key, but a large
// delete can shrink the table below the plan's 2^Bits buckets and make a
// cursor partition miss a few keys; a second pass (or a dry run reporting
// Matched = 0) confirms completion.
func DeletePartition(ctx context.Context, c *Client, p Partition, opts DeleteOptions) (ds DeleteStats, err error) {
	defer func() { err = accessError(err, p.Node) }()
	typ, err := ParseDeleteType(opts.Type)
	if err != nil {
		return ds, err
	}
	var st sourceStats
	src, err := openSource(ctx, c, p, sourceOptions{pattern: opts.Pattern, allTypes: true}, &st)
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
		if typ != TypeAll {
			var other int
			if keys, other, err = keysOfType(ctx, rdb, keys, typ); err != nil {
				return ds, fmt.Errorf("deleting partition %s: %w", p, err)
			}
			ds.OtherTypes += int64(other)
		}
		ds.Matched += int64(len(keys))
		if opts.DryRun || len(keys) == 0 {
			continue
		}
		n, err := unlink(ctx, rdb, keys)
		ds.Deleted += n
		if err != nil {
			return ds, fmt.Errorf("deleting partition %s: %w", p, err)
		}
	}
	if err := src.finish(ctx); err != nil {
		// Deletes are idempotent: the counts so far stand, and a rerun of
		// the (re-planned) task removes what this attempt missed.
		return ds, err
	}
	return ds, nil
}

// unlink removes keys in one pipeline and returns how many existed.
func unlink(ctx context.Context, rdb redis.Cmdable, keys []string) (int64, error) {
	pipe := rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Unlink(ctx, k)
	}
	_, err := pipe.Exec(ctx)
	var n int64
	for _, cmd := range cmds {
		n += cmd.Val()
	}
	if err != nil {
		return n, fmt.Errorf("UNLINK: %w", err)
	}
	return n, nil
}

// keysOfType keeps the keys whose TYPE is typ and counts the others (keys
// gone meanwhile, TYPE "none", are neither).
func keysOfType(ctx context.Context, rdb redis.Cmdable, keys []string, typ string) ([]string, int, error) {
	pipe := rdb.Pipeline()
	cmds := make([]*redis.StatusCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Type(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, 0, fmt.Errorf("TYPE: %w", err)
	}
	out := keys[:0:0]
	other := 0
	for i, k := range keys {
		switch t := cmds[i].Val(); t {
		case typ:
			out = append(out, k)
		case "none":
		default:
			other++
		}
	}
	return out, other, nil
}
