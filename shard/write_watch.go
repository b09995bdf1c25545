package shard

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// The watch path writes a key without Lua, for users whose ACL forbids
// EVAL/EVALSHA (or servers where the scripts are renamed away), in the
// modes that must look at the key before writing it: WATCH key, TYPE key,
// then MULTI, the writes, EXEC. The server runs the writes as one unit and
// aborts the EXEC when the key changed after WATCH; the key is then tried
// again. So the watch path is atomic per key like the script it replaces,
// never touches a key of another type, and a retried write leaves the same
// state. It costs three round trips per key (WATCH, TYPE, MULTI…EXEC),
// which is why the scripts are preferred while they are allowed.
//
// The writes inside MULTI: with RESTORE allowed, RESTORE key ttl payload
// [REPLACE] [ABSTTL] (replace, and skip of an absent key) or HSET and
// PEXPIRE/PEXPIREAT (append); without RESTORE, DEL (replace of an existing
// hash), HSET and PEXPIRE/PEXPIREAT.

// watchAttempts bounds the retries of one key whose EXEC keeps aborting.
const watchAttempts = 8

// execWatched writes the rows idx of b on the watch path, in order, and
// counts their outcomes in st.
func (ex *writeExecutor) execWatched(st *WriteStats, b *writeBatch, idx []int) error {
	for _, i := range idx {
		c := &b.cmds[i]
		key := b.strs[c.start]
		out, err := ex.writeWatched(c, key, b.strs[c.start+1:c.end])
		switch out {
		case outWritten:
			st.Written++
		case outSkipped:
			st.Skipped++
		case outFailed:
			st.Failed++
			if len(st.Failures) < ex.opts.MaxFailures {
				st.Failures = append(st.Failures, KeyFailure{Key: key, Row: c.row, Err: err.Error()})
			}
		default:
			return ex.nodeError(key, 1, err)
		}
	}
	return nil
}

// writeWatched writes one key; the outcome is outWritten, outSkipped,
// outFailed (with the key's error) or outNodeError.
func (ex *writeExecutor) writeWatched(c *batchCmd, key string, kv []string) (outcome, error) {
	for range watchAttempts {
		var out outcome
		var keyErr error
		err := ex.rdb.Watch(ex.ctx, func(tx *redis.Tx) error {
			t, err := tx.Type(ex.ctx, key).Result()
			if err != nil {
				return err
			}
			switch {
			case t != "hash" && t != "none":
				out, keyErr = outFailed, fmt.Errorf("WRONGTYPE Operation against a key holding the wrong kind of value (a %s)", t)
				return nil
			case t == "hash" && ex.opts.Mode == ModeSkip:
				out = outSkipped
				return nil
			}
			_, err = tx.TxPipelined(ex.ctx, func(p redis.Pipeliner) error {
				ex.queueWatched(p, c, key, kv, t == "hash")
				return nil
			})
			out = outWritten
			return err
		}, key)
		switch {
		case err == nil:
			return out, keyErr
		case errors.Is(err, redis.TxFailedErr):
			continue // the key changed after WATCH: look again
		}
		switch code := errorCode(err); {
		case code == "WRONGTYPE":
			return outFailed, err
		case code == "NOPERM":
			if _, ok := deniedCommand(err.Error()); !ok {
				return outFailed, err // the ACL forbids this key
			}
		}
		return outNodeError, err
	}
	return outNodeError, fmt.Errorf("key %q keeps changing while being written (%d attempts); try again", key, watchAttempts)
}

// queueWatched queues the writes of one key inside MULTI.
func (ex *writeExecutor) queueWatched(p redis.Pipeliner, c *batchCmd, key string, kv []string, exists bool) {
	ctx := ex.ctx
	if ex.restore.Load() && ex.opts.Mode != ModeAppend {
		var payload []byte
		if c.listpack {
			payload, _ = appendHashDump(nil, nil, kv)
		} else {
			payload = appendHashTableDump(nil, kv)
		}
		args := []any{"restore", key, strconv.FormatInt(c.exp.ms, 10), payload}
		if ex.opts.Mode == ModeReplace {
			args = append(args, "replace")
		}
		if c.exp.kind == expireAt {
			args = append(args, "absttl")
		}
		p.Do(ctx, args...)
		return
	}
	if exists && ex.opts.Mode == ModeReplace {
		p.Del(ctx, key)
	}
	args := make([]any, 0, len(kv))
	for _, s := range kv {
		args = append(args, s)
	}
	p.HSet(ctx, key, args...)
	switch c.exp.kind {
	case expireIn:
		p.Do(ctx, "pexpire", key, c.exp.ms)
	case expireAt:
		p.Do(ctx, "pexpireat", key, c.exp.ms)
	}
}

// nodeError is the error that stops a write: the Redis refusal typed
// (AccessError), the commands refused before named.
func (ex *writeExecutor) nodeError(key string, keys int, err error) error {
	node := ex.nodeOf(key)
	err = accessError(err, node)
	if refused := ex.refusedCommands(); refused != "" && errors.Is(err, ErrNoPermission) {
		return fmt.Errorf("writing %d keys to %s (also refused: %s): %w", keys, node, refused, err)
	}
	return fmt.Errorf("writing %d keys to %s: %w", keys, node, err)
}

// noteRefused remembers a command the server refused, for nodeError.
func (ex *writeExecutor) noteRefused(cmd string) {
	ex.load.Lock()
	defer ex.load.Unlock()
	for _, c := range ex.refused {
		if c == cmd {
			return
		}
	}
	ex.refused = append(ex.refused, cmd)
}

func (ex *writeExecutor) refusedCommands() string {
	ex.load.Lock()
	defer ex.load.Unlock()
	s := ""
	for i, c := range ex.refused {
		if i > 0 {
			s += ", "
		}
		s += c
	}
	return s
}
