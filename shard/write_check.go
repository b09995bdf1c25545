package shard

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// CheckWrite tells, before anything is written, whether the ACL user may
// run the commands WriteBatch needs for opts (mode, expiry). It queues
// each candidate command in a MULTI on one connection of a master and
// discards the transaction: the server checks each command's permission
// when queueing it (refusing it with NOPERM) and runs none of them. A
// write needs, besides MULTI:
//
//   - keys that do not exist: RESTORE, or the commands of existing keys;
//   - keys that exist: append without expiry HSET; otherwise EVALSHA (with
//     SCRIPT LOAD), or WATCH, TYPE and EXEC with RESTORE or HSET (and DEL
//     for replace, PEXPIRE/PEXPIREAT for an expiry); skip with RESTORE can
//     use TYPE instead.
//
// The check passes for commands it cannot judge (a reply other than
// NOPERM); WriteBatch still stops at the first refusal it meets.
//
// The error is an *AccessError (ErrNoPermission) naming a missing command
// and what would do instead. A user who may not run MULTI is not checked
// here (nil): WriteBatch then reports the first refusal itself.
func CheckWrite(ctx context.Context, c *Client, opts WriteOptions) error {
	opts = opts.withDefaults()
	node, addr := c.checkNode()
	allowed, err := probeCommands(ctx, node, opts.Prefix+"redstage:acl-check")
	if err != nil || allowed == nil {
		return accessError(err, addr)
	}
	missing, instead := writeNeeds(opts, allowed)
	if missing == "" {
		return nil
	}
	return &AccessError{
		Kind: ErrNoPermission, Node: addr, Command: missing,
		Reply: "checked before writing; " + instead,
		Err:   fmt.Errorf("writing in %s mode", opts.Mode),
	}
}

// checkNode is a client of the first master (standalone: the server).
func (c *Client) checkNode() (*redis.Client, string) {
	if t := c.Topology(); c.cluster != nil && t != nil && len(t.Masters) > 0 {
		return c.Node(t.Masters[0].Addr), t.Masters[0].Addr
	}
	return c.std, c.base.Addr
}

// probed are the commands CheckWrite asks about, with valid arguments
// (arity is checked before permissions).
var probed = [][]any{
	{"restore", "", "0", "x"},
	{"hset", "", "f", "v"},
	{"evalsha", writeScript.Hash(), "1", ""},
	{"script", "load", "return 1"},
	{"watch", ""},
	{"type", ""},
	{"del", ""},
	{"pexpire", "", "1000"},
	{"pexpireat", "", "1"},
}

// probeCommands returns which of the probed commands the user may run on
// key (nil when MULTI itself is refused). EXEC cannot be probed without
// running the queue; a user allowed MULTI is taken to be allowed EXEC.
func probeCommands(ctx context.Context, node *redis.Client, key string) (map[string]bool, error) {
	conn := node.Conn()
	defer conn.Close()
	if err := conn.Do(ctx, "multi").Err(); err != nil {
		if commandRefused(err) {
			return probeWithoutMulti(ctx, conn, key)
		}
		return nil, err
	}
	pipe := conn.Pipeline()
	cmds := make([]*redis.Cmd, len(probed))
	for i, p := range probed {
		args := append([]any(nil), p...)
		for j, a := range args {
			if a == "" {
				args[j] = key
			}
		}
		cmds[i] = pipe.Do(ctx, args...)
	}
	pipe.Do(ctx, "discard")
	if _, err := pipe.Exec(ctx); err != nil && errorCode(err) == "" {
		return nil, err
	}
	allowed := map[string]bool{}
	for i, p := range probed {
		err := cmds[i].Err()
		allowed[p[0].(string)] = err == nil || !(commandRefused(err) && strings.Contains(err.Error(), "NOPERM"))
	}
	return allowed, nil
}

// probeWithoutMulti probes what can be probed without running anything
// when MULTI is refused (so the watch path is out): RESTORE of an invalid
// payload fails its checksum, EVALSHA of an unknown script answers
// NOSCRIPT, unless refused. The other commands stay unknown (absent).
func probeWithoutMulti(ctx context.Context, conn *redis.Conn, key string) (map[string]bool, error) {
	allowed := map[string]bool{"multi": false, "watch": false}
	probes := map[string][]any{
		"restore": {"restore", key, "0", "x"},
		"evalsha": {"evalsha", "0000000000000000000000000000000000000000", "1", key},
	}
	for name, args := range probes {
		err := conn.Do(ctx, args...).Err()
		if err != nil && errorCode(err) == "" {
			return nil, err
		}
		allowed[name] = err == nil || !(commandRefused(err) && strings.Contains(err.Error(), "NOPERM"))
	}
	return allowed, nil
}

// writeNeeds returns a command the write cannot do without and what
// would do instead, or "" when the allowed commands suffice.
func writeNeeds(opts WriteOptions, known map[string]bool) (missing, instead string) {
	ok := func(cmd string) bool { v, found := known[cmd]; return v || !found } // unknown: allowed
	expiry := opts.TTL > 0 || opts.TTLColumn != ""
	scripts := ok("evalsha") && ok("script")
	setExpiry := !expiry || (ok("pexpire") && ok("pexpireat"))
	watch := ok("multi") && ok("watch") && ok("type") &&
		(ok("restore") || ok("hset") && setExpiry && (opts.Mode != ModeReplace || ok("del")))
	switch {
	case !ok("restore") && !ok("hset"):
		return "hset", "the user may not write hashes: RESTORE and HSET are both refused"
	case opts.Mode == ModeAppend && !expiry:
		if !ok("hset") {
			return "hset", "append needs HSET for keys that exist"
		}
	case opts.Mode == ModeSkip && ok("restore") && ok("type"):
	case !scripts && !watch:
		m := "evalsha"
		if ok("evalsha") {
			m = "script"
		}
		return m, fmt.Sprintf("%s writes keys that exist with EVALSHA and SCRIPT LOAD, or with WATCH, TYPE, MULTI, EXEC and RESTORE or HSET%s; refused: %s",
			opts.Mode, map[bool]string{true: ", PEXPIRE, PEXPIREAT", false: ""}[expiry], refusedList(ok))
	}
	return "", ""
}

func refusedList(ok func(string) bool) string {
	var out []string
	for _, n := range []string{"multi", "restore", "hset", "evalsha", "script", "watch", "type", "del", "pexpire", "pexpireat"} {
		if !ok(n) {
			out = append(out, strings.ToUpper(n))
		}
	}
	return strings.Join(out, ", ")
}
