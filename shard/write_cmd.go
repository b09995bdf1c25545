package shard

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// How one key is written. Every path is atomic on the server (one
// command, or a WATCH-guarded MULTI/EXEC) and never touches a key of
// another type than hash. Server CPU per key of 10 fields
// (BenchmarkWriteStrategies, Redis 7.0, see docs/benchmarks-shard-write.md):
// RESTORE ~2µs (BUSYKEY ~1µs), HSET ~5µs, restoreScript on an existing hash
// ~5.5µs, writeScript ~9-12µs, TYPE under 1µs.
//
//   - A new key (the common case when staging data) is created with
//     RESTORE of a serialized hash (write_dump.go), without REPLACE: the
//     server writes it only if the key is absent, and otherwise answers
//     BUSYKEY having done nothing. Every row can be sent so: rows the
//     server would not keep as a listpack go in a form it encodes itself.
//   - A key that exists is then written by mode: replace with
//     restoreScript (checks the type, then RESTORE ... REPLACE); skip with
//     TYPE (a hash is skipped, another type fails, a key gone meanwhile is
//     tried again); append with HSET, or writeScript when the row sets an
//     expiry (HSET and PEXPIRE together, and not on a key of another type).
//   - Servers that cannot RESTORE the payload (before Redis 7.0, RESTORE
//     renamed or not allowed by ACL) use HSET (append without expiry) or
//     writeScript, which carries the fields as arguments.
//   - Where the scripts are refused (EVALSHA or SCRIPT LOAD not allowed by
//     ACL, or renamed), the keys that need one take the watch path
//     (write_watch.go): WATCH, TYPE, then MULTI/EXEC of the writes, which
//     the server aborts if the key changed meanwhile.
//
// A refusal of any other command the path needs (HSET, TYPE, WATCH for a
// read-only user) stops the write with an AccessError naming it: retrying
// or counting every key as failed would not help.
//
// MULTI/DEL/HSET/EXEC alone was measured too: cheaper than writeScript,
// but it cannot look at the key before deleting it, so replace would
// destroy keys of other types; the watch path adds that look.
type writePath uint8

const (
	pathRestore        writePath = iota // RESTORE key ttl payload [ABSTTL]
	pathRestoreReplace                  // EVALSHA restoreScript
	pathProbe                           // TYPE key (skip mode)
	pathHSet                            // HSET key field value ...
	pathScript                          // EVALSHA writeScript
	pathWatch                           // WATCH, TYPE, MULTI ... EXEC (write_watch.go)
)

// writeScript writes one hash from field/value arguments, for replace and
// skip on servers or rows without RESTORE, and for append with an expiry.
// KEYS[1] is the key; ARGV[1] the mode; ARGV[2] the expiry kind ("" none,
// "px" ARGV[3] milliseconds from now, "at" ARGV[3] Unix milliseconds);
// ARGV[4..] field, value, ... HLEN fails with WRONGTYPE on a key of
// another type and that error is the reply. HSET is called in chunks
// because Lua's unpack is limited to a few thousand values.
var writeScript = redis.NewScript(writeScriptSrc)

const writeScriptSrc = `local key = KEYS[1]
local n = redis.pcall('HLEN', key)
if type(n) == 'table' then return n end
if n > 0 then
  if ARGV[1] == 'skip' then return 0 end
  if ARGV[1] == 'replace' then redis.call('DEL', key) end
end
local last = #ARGV
for i = 4, last, 1000 do
  redis.call('HSET', key, unpack(ARGV, i, math.min(i + 999, last)))
end
if ARGV[2] == 'px' then redis.call('PEXPIRE', key, ARGV[3])
elseif ARGV[2] == 'at' then redis.call('PEXPIREAT', key, ARGV[3]) end
return 1`

// restoreScript replaces a hash (or creates the key) from a RESTORE
// payload. KEYS[1] is the key; ARGV[1] the expiry in ms (0: none); ARGV[2]
// the payload; ARGV[3] "absttl" when ARGV[1] is a Unix time.
var restoreScript = redis.NewScript(restoreScriptSrc)

const restoreScriptSrc = `local n = redis.pcall('HLEN', KEYS[1])
if type(n) == 'table' then return n end
if ARGV[3] == 'absttl' then
  redis.call('RESTORE', KEYS[1], ARGV[1], ARGV[2], 'REPLACE', 'ABSTTL')
else
  redis.call('RESTORE', KEYS[1], ARGV[1], ARGV[2], 'REPLACE')
end
return 1`

// Command arguments boxed once.
var (
	argHSet       any = "hset"
	argRestore    any = "restore"
	argType       any = "type"
	argEvalSHA    any = "evalsha"
	argOneKey     any = "1"
	argZero       any = "0"
	argAbsTTL     any = "absttl"
	argEmpty      any = ""
	argWriteSHA   any = writeScript.Hash()
	argRestoreSHA any = restoreScript.Hash()
	argKind           = [...]any{expireNone: "", expireIn: "px", expireAt: "at"}
)

// firstPath is how a key is written first: RESTORE when allowed, else as
// an existing key.
func (ex *writeExecutor) firstPath(c *batchCmd, restore bool) writePath {
	if restore && ex.restore.Load() {
		return pathRestore
	}
	return ex.existingPath(c)
}

// existingPath is how a key that probably exists is written: by mode,
// with the commands the server allows.
func (ex *writeExecutor) existingPath(c *batchCmd) writePath {
	restore, scripts := ex.restore.Load(), ex.scripts.Load()
	switch {
	case ex.opts.Mode == ModeReplace && restore && scripts:
		return pathRestoreReplace
	case ex.opts.Mode == ModeSkip && restore:
		return pathProbe
	case ex.opts.Mode == ModeAppend && c.exp.kind == expireNone:
		return pathHSet
	case scripts:
		return pathScript
	}
	return pathWatch
}

// usesPayload reports whether the path sends a RESTORE payload.
func (p writePath) usesPayload() bool { return p == pathRestore || p == pathRestoreReplace }

// buildArgs fills b.pcmds with one command per row of b.todo. Arguments
// point into b.strs (a *string boxes without allocating) and b.dump, which
// stay unchanged until the next round.
func (ex *writeExecutor) buildArgs(b *writeBatch) {
	b.dump, b.doffs = b.dump[:0], b.doffs[:0]
	for _, i := range b.todo {
		if c := &b.cmds[i]; c.path.usesPayload() {
			b.doffs = append(b.doffs, len(b.dump))
			if c.listpack {
				b.dump, b.lp = appendHashDump(b.dump, b.lp, b.strs[c.start+1:c.end])
			} else {
				b.dump = appendHashTableDump(b.dump, b.strs[c.start+1:c.end])
			}
		}
	}
	b.doffs = append(b.doffs, len(b.dump))
	b.args, b.offs = b.args[:0], b.offs[:0]
	d := 0
	for _, i := range b.todo {
		c := &b.cmds[i]
		key := &b.strs[c.start]
		b.offs = append(b.offs, len(b.args))
		var payload []byte
		if c.path.usesPayload() {
			payload = b.dump[b.doffs[d]:b.doffs[d+1]:b.doffs[d+1]]
			d++
		}
		var ttl any = argZero
		if c.exp.kind != expireNone {
			ttl = strconv.FormatInt(c.exp.ms, 10)
		}
		switch c.path {
		case pathRestore:
			b.args = append(b.args, argRestore, key, ttl, payload)
			if c.exp.kind == expireAt {
				b.args = append(b.args, argAbsTTL)
			}
		case pathRestoreReplace:
			abs := argEmpty
			if c.exp.kind == expireAt {
				abs = argAbsTTL
			}
			b.args = append(b.args, argEvalSHA, argRestoreSHA, argOneKey, key, ttl, payload, abs)
		case pathProbe:
			b.args = append(b.args, argType, key)
		case pathHSet:
			b.args = append(b.args, argHSet, key)
			for k := c.start + 1; k < c.end; k++ {
				b.args = append(b.args, &b.strs[k])
			}
		case pathScript:
			if c.exp.kind == expireNone {
				ttl = argEmpty
			}
			b.args = append(b.args, argEvalSHA, argWriteSHA, argOneKey, key, ex.mode, argKind[c.exp.kind], ttl)
			for k := c.start + 1; k < c.end; k++ {
				b.args = append(b.args, &b.strs[k])
			}
		}
	}
	b.offs = append(b.offs, len(b.args))
	clear(b.pcmds)
	b.pcmds = b.pcmds[:0]
	for j, i := range b.todo {
		lo, hi := b.offs[j], b.offs[j+1]
		cmd := redis.NewCmd(ex.io, b.args[lo:hi:hi]...)
		if p := b.cmds[i].path; p == pathScript || p == pathRestoreReplace {
			cmd.SetFirstKeyPos(3)
		} else {
			cmd.SetFirstKeyPos(1)
		}
		b.pcmds = append(b.pcmds, cmd)
	}
}

// outcome of one command of a round.
type outcome uint8

const (
	outWritten outcome = iota
	outSkipped
	outFailed // per-key error (WRONGTYPE, ...): counted and listed
	outAgain  // send again, on c.path (updated)
	outNoScript
	outRefused       // RESTORE refused: stop using it, send again
	outScriptRefused // EVALSHA refused: stop using the scripts, send again
	outNodeError     // the write fails
)

// judge classifies the result of c's command and sets the path of its
// next round when there is one.
func (ex *writeExecutor) judge(c *batchCmd, cmd *redis.Cmd) (outcome, error) {
	err := cmd.Err()
	if err == nil {
		switch c.path {
		case pathProbe:
			switch t, _ := cmd.Val().(string); t {
			case "hash":
				return outSkipped, nil
			case "none": // deleted since: create it after all
				c.path = ex.firstPath(c, true)
				return outAgain, nil
			default:
				return outFailed, fmt.Errorf("%s Operation against a key holding the wrong kind of value (a %s)", "WRONGTYPE", t)
			}
		case pathScript:
			if v, _ := cmd.Val().(int64); v == 0 {
				return outSkipped, nil
			}
		}
		return outWritten, nil
	}
	code := errorCode(err)
	scriptPath := c.path == pathScript || c.path == pathRestoreReplace
	switch {
	case code == "":
		return outNodeError, err // not a Redis reply: connection, context
	case nodeErrorCodes[code] || strings.HasPrefix(err.Error(), "ERR max number of clients"):
		return outNodeError, err
	case code == "NOSCRIPT":
		return outNoScript, err
	case code == "BUSYKEY" && c.path == pathRestore:
		c.path = ex.existingPath(c)
		return outAgain, nil
	case scriptPath && commandRefused(err) && isScriptCommand(err):
		return outScriptRefused, err
	case code == "NOPERM" && !strings.Contains(err.Error(), "permissions to run"):
		return outFailed, err // the ACL forbids this key, not the command
	case !c.path.usesPayload() && commandRefused(err):
		return outNodeError, err // HSET, TYPE, ... refused: no other way
	case !c.path.usesPayload() || code == "WRONGTYPE":
		return outFailed, err
	}
	// The server refused the payload path itself (unknown command, bad
	// payload, ACL): the caller writes the rest without RESTORE.
	return outRefused, err
}

// commandRefused reports a reply refusing the command itself: NOPERM
// about a command (not a key), or an unknown (renamed) command.
func commandRefused(err error) bool {
	if _, ok := deniedCommand(err.Error()); ok && strings.Contains(err.Error(), "NOPERM") {
		return true
	}
	return errorCode(err) == "ERR" && strings.Contains(err.Error(), "unknown command")
}

// isScriptCommand reports a refusal naming EVAL, EVALSHA or SCRIPT.
func isScriptCommand(err error) bool {
	msg := strings.ToLower(err.Error())
	for _, c := range []string{"'evalsha'", "'eval'", "'script", "'evalsha_ro'"} {
		if strings.Contains(msg, c) {
			return true
		}
	}
	return false
}

// nodeErrorCodes are Redis error codes about the node, not the key: the
// whole write fails (and can be retried) instead of counting every key as
// failed.
var nodeErrorCodes = map[string]bool{
	"MOVED": true, "ASK": true, "TRYAGAIN": true, "CLUSTERDOWN": true, "LOADING": true,
	"READONLY": true, "MASTERDOWN": true, "NOREPLICAS": true, "BUSY": true, "OOM": true,
	"MISCONF": true, "NOAUTH": true, "WRONGPASS": true, "EXECABORT": true,
}

// errorCode is the first word of a Redis error reply ("WRONGTYPE",
// "ERR", ...), or "" when err is not a Redis reply.
func errorCode(err error) string {
	var re redis.Error
	if !errors.As(err, &re) {
		return ""
	}
	msg := re.Error()
	if i := strings.IndexByte(msg, ' '); i >= 0 {
		msg = msg[:i]
	}
	if msg == "" {
		msg = "ERR"
	}
	return msg
}

// loadScripts loads the scripts on every master.
func (ex *writeExecutor) loadScripts() error {
	ex.load.Lock()
	defer ex.load.Unlock()
	load := func(ctx context.Context, c redis.Scripter, node string) error {
		for _, s := range []*redis.Script{writeScript, restoreScript} {
			if err := s.Load(ctx, c).Err(); err != nil {
				return fmt.Errorf("loading the write scripts on %s: %w", node, err)
			}
		}
		return nil
	}
	if cc := ex.c.ClusterClient(); cc != nil {
		return cc.ForEachMaster(ex.ctx, func(ctx context.Context, m *redis.Client) error {
			return load(ctx, m, m.Options().Addr)
		})
	}
	return load(ex.ctx, ex.rdb, ex.nodeOf(""))
}

// nodeOf names the node that holds key, for error messages.
func (ex *writeExecutor) nodeOf(key string) string {
	if cc := ex.c.ClusterClient(); cc != nil {
		if key != "" {
			if m, err := cc.MasterForKey(context.WithoutCancel(ex.ctx), key); err == nil {
				return m.Options().Addr
			}
		}
		return "cluster"
	}
	if t := ex.c.Topology(); t != nil && len(t.Masters) > 0 {
		return t.Masters[0].Addr
	}
	return "redis"
}

// restoreSupported reports whether the server loads RDB type 16 payloads
// (Redis 7.0+, Valkey 7.2+).
func restoreSupported(t *Topology) bool {
	if t == nil {
		return false
	}
	major, minor := versionNumbers(t.Version)
	if t.Server == "valkey" {
		return major > 7 || (major == 7 && minor >= 2)
	}
	return major >= 7
}
