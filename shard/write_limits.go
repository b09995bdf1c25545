package shard

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"
)

// errLimitsUnreadable: CONFIG GET answered without usable limits.
var errLimitsUnreadable = errors.New("CONFIG GET hash-max-listpack-* gave no numbers")

// listpackLimits returns the servers' hash-max-listpack-entries and
// hash-max-listpack-value (CONFIG GET), read once per Client: the smallest
// of every master of a cluster. When a server refuses CONFIG GET (ACL,
// renamed command) the limits are unknown and writes send every row in
// the form the server encodes itself (write_dump.go); that answer is kept
// too. A failure that is not a server reply (connection, context) is not
// kept: the next call asks again.
func (c *Client) listpackLimits(ctx context.Context) listpackLimits {
	c.mu.Lock()
	if l := c.limits; l != nil {
		c.mu.Unlock()
		return *l
	}
	c.mu.Unlock()
	var mu sync.Mutex
	l := listpackLimits{entries: 1 << 30, value: 1 << 30, known: true}
	read := func(ctx context.Context, node *redis.Client) error {
		m, err := node.ConfigGet(ctx, "hash-max-listpack-*").Result()
		if err != nil {
			return err
		}
		e, err1 := strconv.Atoi(m["hash-max-listpack-entries"])
		v, err2 := strconv.Atoi(m["hash-max-listpack-value"])
		if err1 != nil || err2 != nil {
			return errLimitsUnreadable
		}
		mu.Lock()
		l.entries, l.value = min(l.entries, e), min(l.value, v)
		mu.Unlock()
		return nil
	}
	var err error
	if c.cluster != nil {
		err = c.cluster.ForEachMaster(ctx, read)
	} else {
		err = read(ctx, c.std)
	}
	if err != nil {
		var re redis.Error
		if !errors.As(err, &re) && !errors.Is(err, errLimitsUnreadable) {
			return listpackLimits{} // unknown for this call only
		}
		c.log.Info("CONFIG GET hash-max-listpack-* not allowed: hashes are sent in a form the server encodes itself (a little slower than listpack payloads)", "error", err.Error())
		l = listpackLimits{}
	}
	c.mu.Lock()
	c.limits = &l
	c.mu.Unlock()
	return l
}
