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
	// ordered: HGETALL keeps the order of the server's reply in row.names
	// (the field order of small hashes is their insertion order).
	ordered bool
}

// row is one fetched hash. For HMGET, values/present follow fetcher.fields;
// for HGETALL, m holds the hash.
type row struct {
	key     string
	m       map[string]string
	names   []string // ordered HGETALL: m's fields in reply order
	values  []string
	present []bool
	ttl     int64
}

type fetchCounts struct {
	otherTypes, vanished int64
}

// fetch reads keys and returns the hashes that exist, in key order.
func (f *fetcher) fetch(ctx context.Context, keys []string) ([]row, fetchCounts, error) {
	var fc fetchCounts
	if len(keys) == 0 {
		return nil, fc, nil
	}
	pipe := f.rdb.Pipeline()
	data := make([]redis.Cmder, len(keys))
	var ttls []*redis.Cmd
	if f.ttl {
		ttls = make([]*redis.Cmd, len(keys))
	}
	for i, k := range keys {
		if f.fields == nil && f.ordered {
			data[i] = pipe.Do(ctx, "HGETALL", k)
		} else if f.fields == nil {
			data[i] = pipe.HGetAll(ctx, k)
		} else {
			data[i] = pipe.HMGet(ctx, k, f.fields...)
		}
		if f.ttl {
			ttls[i] = pipe.Do(ctx, "TTL", k)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !isReplyError(err) {
		return nil, fc, fmt.Errorf("fetching %d hashes: %w", len(keys), err)
	}
	var maybeGone []int // HMGET found none of the fields: missing key or hash without them
	rows := make([]row, len(keys))
	nf := len(f.fields)
	values := make([]string, len(keys)*nf)
	present := make([]bool, len(keys)*nf)
	ok := make([]bool, len(keys))
	for i, k := range keys {
		r := &rows[i]
		r.key = k
		if err := data[i].Err(); err != nil {
			if isWrongType(err) {
				fc.otherTypes++
				continue
			}
			return nil, fc, fmt.Errorf("fetching hash %q: %w", k, err)
		}
		if f.ttl {
			t, err := ttls[i].Int64()
			if err != nil {
				return nil, fc, fmt.Errorf("TTL of %q: %w", k, err)
			}
			if t == -2 { // deleted between the fetch and TTL
				fc.vanished++
				continue
			}
			r.ttl = t
		}
		if f.fields == nil {
			if f.ordered {
				r.m, r.names = orderedHash(data[i].(*redis.Cmd).Val())
			} else {
				r.m = data[i].(*redis.MapStringStringCmd).Val()
			}
			if len(r.m) == 0 { // a hash is never empty: the key is gone
				fc.vanished++
				continue
			}
		} else {
			vals := data[i].(*redis.SliceCmd).Val()
			if len(vals) != nf {
				return nil, fc, fmt.Errorf("HMGET %q: %d values for %d fields", k, len(vals), nf)
			}
			r.values = values[i*nf : (i+1)*nf : (i+1)*nf]
			r.present = present[i*nf : (i+1)*nf : (i+1)*nf]
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
		names := make([]string, len(maybeGone))
		for j, i := range maybeGone {
			names[j] = keys[i]
		}
		gone, err := f.missing(ctx, names)
		if err != nil {
			return nil, fc, err
		}
		for _, i := range maybeGone {
			if _, g := gone[keys[i]]; g {
				ok[i] = false
				fc.vanished++
			}
		}
	}
	out := rows[:0]
	for i := range rows {
		if ok[i] {
			out = append(out, rows[i])
		}
	}
	return out, fc, nil
}

// orderedHash reads a RESP2 HGETALL reply (field, value, ...) into a map
// and the field names in reply order.
func orderedHash(v any) (map[string]string, []string) {
	arr, _ := v.([]any)
	m := make(map[string]string, len(arr)/2)
	names := make([]string, 0, len(arr)/2)
	for i := 0; i+1 < len(arr); i += 2 {
		k, _ := arr[i].(string)
		val, _ := arr[i+1].(string)
		if _, dup := m[k]; !dup {
			names = append(names, k)
		}
		m[k] = val
	}
	return m, names
}

// missing returns the keys that do not exist (EXISTS in one pipeline).
func (f *fetcher) missing(ctx context.Context, keys []string) (map[string]struct{}, error) {
	pipe := f.rdb.Pipeline()
	ex := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		ex[i] = pipe.Exists(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("checking %d keys exist: %w", len(keys), err)
	}
	gone := map[string]struct{}{}
	for i, k := range keys {
		if ex[i].Val() == 0 {
			gone[k] = struct{}{}
		}
	}
	return gone, nil
}

// isReplyError reports whether err is an error reply of the server (as
// opposed to a network or context error).
func isReplyError(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

func isWrongType(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE") }
