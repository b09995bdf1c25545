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
// state. It costs three round trips per group of keys (WATCH, TYPE,
// MULTI…EXEC) and more server work than a script, which is why the scripts
// are preferred while they are allowed.
//
// The writes inside MULTI: with RESTORE allowed, RESTORE key ttl payload
// [REPLACE] [ABSTTL] (replace, and skip of an absent key) or HSET and
// PEXPIRE/PEXPIREAT (append); without RESTORE, DEL (replace of an existing
// hash), HSET and PEXPIRE/PEXPIREAT. Keys go in groups of up to
// watchGroupMax (execWatched), so a batch costs a few round trips per group.

// watchAttempts bounds the retries of a group whose EXEC keeps aborting.
const watchAttempts = 8

// watchGroupMax is the most keys watched and written in one transaction.
const watchGroupMax = 64

// execWatched writes the rows idx of b on the watch path, in order, and
// counts their outcomes in st. Rows go in groups (consecutive rows, no key
// twice, one slot on a cluster) of up to watchGroupMax keys: WATCH of the
// group, TYPE of each key, one MULTI/EXEC, so three round trips per group.
// A group that fails otherwise than by a per-key outcome, or keeps being
// aborted, is written again one key at a time, which gives each key its
// own outcome.
func (ex *writeExecutor) execWatched(st *WriteStats, b *writeBatch, idx []int) error {
	for len(idx) > 0 {
		g := ex.watchGroup(b, idx)
		idx = idx[len(g):]
		outs, errs, err := ex.writeWatched(b, g)
		if err != nil && len(g) > 1 {
			for _, i := range g {
				o, e, err := ex.writeWatched(b, []int{i})
				if err != nil {
					return ex.nodeError(b.strs[b.cmds[i].start], 1, err)
				}
				ex.count(st, b, i, o[0], e[0])
			}
			continue
		}
		if err != nil {
			return ex.nodeError(b.strs[b.cmds[g[0]].start], 1, err)
		}
		for j, i := range g {
			ex.count(st, b, i, outs[j], errs[j])
		}
	}
	return nil
}

// count adds a key's final outcome (written, skipped or failed) to st.
func (ex *writeExecutor) count(st *WriteStats, b *writeBatch, i int, out outcome, err error) {
	switch out {
	case outWritten:
		st.Written++
	case outSkipped:
		st.Skipped++
	case outFailed:
		st.Failed++
		if len(st.Failures) < ex.opts.MaxFailures {
			st.Failures = append(st.Failures, KeyFailure{Key: b.strs[b.cmds[i].start], Row: b.cmds[i].row, Err: err.Error()})
		}
	}
}

// watchGroup returns the first rows of idx that form a group.
func (ex *writeExecutor) watchGroup(b *writeBatch, idx []int) []int {
	seen := make(map[string]bool, min(len(idx), watchGroupMax))
	slot := -1
	n := 0
	for _, i := range idx {
		key := b.strs[b.cmds[i].start]
		if n == watchGroupMax || seen[key] {
			break
		}
		if ex.c.IsCluster() {
			if s := KeySlot(key); slot >= 0 && s != slot {
				break
			} else {
				slot = s
			}
		}
		seen[key] = true
		n++
	}
	return idx[:max(n, 1)]
}

// writeWatched writes the group g. Its per-key outcomes are outWritten,
// outSkipped or outFailed (with the key's error); err is anything else
// (a refused command, a connection error, a group that keeps being
// aborted, a per-key error inside the transaction).
func (ex *writeExecutor) writeWatched(b *writeBatch, g []int) ([]outcome, []error, error) {
	keys := make([]string, len(g))
	for j, i := range g {
		keys[j] = b.strs[b.cmds[i].start]
	}
	outs := make([]outcome, len(g))
	errs := make([]error, len(g))
	for range watchAttempts {
		err := ex.rdb.Watch(ex.io, func(tx *redis.Tx) error {
			return ex.watchedTx(tx, b, g, keys, outs, errs)
		}, keys...)
		switch {
		case err == nil:
			return outs, errs, nil
		case errors.Is(err, redis.TxFailedErr):
			continue // a key changed after WATCH: look again
		}
		if len(g) == 1 {
			switch code := errorCode(err); {
			case code == "WRONGTYPE":
				outs[0], errs[0] = outFailed, err
				return outs, errs, nil
			case code == "NOPERM":
				if _, ok := deniedCommand(err.Error()); !ok {
					outs[0], errs[0] = outFailed, err // the ACL forbids this key
					return outs, errs, nil
				}
			}
		}
		return nil, nil, err
	}
	return nil, nil, fmt.Errorf("key %q keeps changing while being written (%d attempts); try again", keys[0], watchAttempts)
}

// watchedTx runs inside WATCH of keys: TYPE of each key, then the writes
// of the keys to write in one MULTI/EXEC.
func (ex *writeExecutor) watchedTx(tx *redis.Tx, b *writeBatch, g []int, keys []string, outs []outcome, errs []error) error {
	types := make([]*redis.StatusCmd, len(g))
	if _, err := tx.Pipelined(ex.io, func(p redis.Pipeliner) error {
		for j, k := range keys {
			types[j] = p.Type(ex.io, k)
		}
		return nil
	}); err != nil {
		return err
	}
	write := false
	for j := range g {
		outs[j], errs[j] = outWritten, nil
		switch t := types[j].Val(); {
		case t != "hash" && t != "none":
			outs[j], errs[j] = outFailed, fmt.Errorf("WRONGTYPE Operation against a key holding the wrong kind of value (a %s)", t)
		case t == "hash" && ex.opts.Mode == ModeSkip:
			outs[j] = outSkipped
		default:
			write = true
		}
	}
	if !write {
		return nil
	}
	queued := make([][]redis.Cmder, len(g))
	_, err := tx.TxPipelined(ex.io, func(p redis.Pipeliner) error {
		for j, i := range g {
			if outs[j] == outWritten {
				c := &b.cmds[i]
				queued[j] = ex.queueWatched(p, c, keys[j], b.strs[c.start+1:c.end], types[j].Val() == "hash")
			}
		}
		return nil
	})
	if err == nil || errors.Is(err, redis.TxFailedErr) {
		return err
	}
	return execOutcomes(queued, outs, errs, err)
}

// execOutcomes sorts out an EXEC with errors. A transaction refused when
// queued (EXECABORT, a refused command) ran nothing: every command has an
// error and err is returned. Otherwise EXEC ran every command: a key whose
// commands all succeeded was written, one with an error failed.
func execOutcomes(queued [][]redis.Cmder, outs []outcome, errs []error, err error) error {
	ran := false
	for _, cmds := range queued {
		for _, c := range cmds {
			ran = ran || c.Err() == nil
		}
	}
	if !ran {
		return err
	}
	for j, cmds := range queued {
		for _, c := range cmds {
			if c.Err() != nil && outs[j] == outWritten {
				outs[j], errs[j] = outFailed, c.Err()
			}
		}
	}
	return nil
}

// queueWatched queues the writes of one key inside MULTI.
func (ex *writeExecutor) queueWatched(p redis.Pipeliner, c *batchCmd, key string, kv []string, exists bool) []redis.Cmder {
	ctx := ex.io
	var cmds []redis.Cmder
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
		return append(cmds, p.Do(ctx, args...))
	}
	if exists && ex.opts.Mode == ModeReplace {
		cmds = append(cmds, p.Del(ctx, key))
	}
	args := make([]any, 0, len(kv))
	for _, s := range kv {
		args = append(args, s)
	}
	cmds = append(cmds, p.HSet(ctx, key, args...))
	switch c.exp.kind {
	case expireIn:
		cmds = append(cmds, p.Do(ctx, "pexpire", key, c.exp.ms))
	case expireAt:
		cmds = append(cmds, p.Do(ctx, "pexpireat", key, c.exp.ms))
	}
	return cmds
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
