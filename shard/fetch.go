package shard

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// fetcher reads hashes for a list of keys with one pipeline per chunk:
// HGETALL (all fields) or HMGET of the wanted fields, and TTL when asked.
// The pipeline goes through Client.Redis(), so in a cluster MOVED and ASK
// replies are followed.
type fetcher struct {
	rdb    redis.Cmdable
	fields []string // nil = HGETALL
	ttl    bool
}

// row is one fetched hash. For HMGET, values/present follow fetcher.fields;
// for HGETALL, m holds the hash.
type row struct {
	key     string
	m       map[string]string
	values  []string
	present []bool
	ttl     int64
}

type fetchCounts struct {
	otherTypes, vanished int64
}

// fetch reads keys and calls fn for each hash that exists, in key order.
func (f *fetcher) fetch(ctx context.Context, keys []string, fn func(*row) error) (fetchCounts, error) {
	var fc fetchCounts
	if len(keys) == 0 {
		return fc, nil
	}
	pipe := f.rdb.Pipeline()
	data := make([]redis.Cmder, len(keys))
	var ttls []*redis.Cmd
	if f.ttl {
		ttls = make([]*redis.Cmd, len(keys))
	}
	for i, k := range keys {
		if f.fields == nil {
			data[i] = pipe.HGetAll(ctx, k)
		} else {
			data[i] = pipe.HMGet(ctx, k, f.fields...)
		}
		if f.ttl {
			ttls[i] = pipe.Do(ctx, "TTL", k)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !isReplyError(err) {
		return fc, fmt.Errorf("fetching %d hashes: %w", len(keys), err)
	}
	var maybeGone []int // HMGET found none of the fields: missing key or hash without them
	rows := make([]row, len(keys))
	ok := make([]bool, len(keys))
	for i, k := range keys {
		r := &rows[i]
		r.key = k
		if err := data[i].Err(); err != nil {
			if isWrongType(err) {
				fc.otherTypes++
				continue
			}
			return fc, fmt.Errorf("fetching hash %q: %w", k, err)
		}
		if f.ttl {
			t, err := ttls[i].Int64()
			if err != nil {
				return fc, fmt.Errorf("TTL of %q: %w", k, err)
			}
			if t == -2 { // deleted between the fetch and TTL
				fc.vanished++
				continue
			}
			r.ttl = t
		}
		if f.fields == nil {
			r.m = data[i].(*redis.MapStringStringCmd).Val()
			if len(r.m) == 0 { // a hash is never empty: the key is gone
				fc.vanished++
				continue
			}
		} else {
			vals := data[i].(*redis.SliceCmd).Val()
			r.values = make([]string, len(vals))
			r.present = make([]bool, len(vals))
			any := false
			for j, v := range vals {
				if s, isStr := v.(string); isStr {
					r.values[j], r.present[j], any = s, true, true
				}
			}
			if !any && !f.ttl {
				maybeGone = append(maybeGone, i)
			}
		}
		ok[i] = true
	}
	if len(maybeGone) > 0 {
		pipe := f.rdb.Pipeline()
		ex := make([]*redis.IntCmd, len(maybeGone))
		for j, i := range maybeGone {
			ex[j] = pipe.Exists(ctx, keys[i])
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fc, fmt.Errorf("checking %d keys exist: %w", len(maybeGone), err)
		}
		for j, i := range maybeGone {
			if ex[j].Val() == 0 {
				ok[i] = false
				fc.vanished++
			}
		}
	}
	for i := range rows {
		if !ok[i] {
			continue
		}
		if err := fn(&rows[i]); err != nil {
			return fc, err
		}
	}
	return fc, nil
}

// isReplyError reports whether err is an error reply of the server (as
// opposed to a network or context error).
func isReplyError(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

func isWrongType(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE") }
