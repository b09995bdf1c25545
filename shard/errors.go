package shard

import (
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Sentinel errors of package shard. Callers test them with errors.Is; the
// errors returned carry context (node, slot, partition) around them.
var (
	// ErrInvalidURL: the Redis URL cannot be parsed or is not supported.
	ErrInvalidURL = errors.New("invalid redis URL")
	// ErrClusterDB: a database other than 0 was requested on a cluster.
	ErrClusterDB = errors.New("redis cluster supports only database 0")
	// ErrInvalidPartition: a Partition value is malformed (unknown kind,
	// bits out of range, slot range outside 0..16383, ...).
	ErrInvalidPartition = errors.New("invalid partition")
	// ErrInvalidOptions: scan, plan or delete options fail validation.
	ErrInvalidOptions = errors.New("invalid options")
	// ErrStaleTopology: the partition was planned for a topology that no
	// longer holds (its node no longer owns its slots, the node is gone, or
	// the partition kind does not fit the server). The coordinator re-plans
	// the job (or at least the node's partitions) and reruns the task.
	ErrStaleTopology = errors.New("stale topology: re-plan the job")
	// ErrServerRestarted: the node's run_id differs from the one the
	// partition was planned with (restart or failover). SCAN cursors and the
	// hash seed that places keys in cursor partitions belong to one server
	// process, so every cursor partition of that node must be re-planned and
	// rerun, and the rows of the failed attempts discarded. On a
	// slot-cursor partition only the attempt's cursors belong to the old
	// process: the error then also wraps ErrStaleTopology, and
	// ReplanPartition lists the range again.
	ErrServerRestarted = errors.New("server restarted since the partition was planned")
	// ErrTableShrank: the keyspace hash table shrank so far during the scan
	// that the bounded de-duplication window of the task can no longer rule
	// out a repeated key. Rerun the task (its rows discarded); nothing else
	// is affected.
	ErrTableShrank = errors.New("hash table shrank beyond the de-duplication window: rerun the task")
	// ErrSlotUnstable: a slot kept changing owner while it was being listed.
	ErrSlotUnstable = errors.New("slot kept moving while being listed: rerun the task")
)

// Refusals that retrying cannot cure. Errors returned by Dial, PlanScan,
// ScanPartition, SamplePartition, DeletePartition and WriteBatch wrap one
// of these (as an *AccessError) when the server refused the credentials, a
// command or the database, so callers can fail at once instead of retrying.
var (
	// ErrAuth: the server refused the credentials: NOAUTH (a password is
	// needed and the URL has none) or WRONGPASS (wrong user name or
	// password, or the ACL user is disabled).
	ErrAuth = errors.New("redis authentication failed")
	// ErrNoPermission: the ACL user may not run a command the operation
	// needs (NOPERM); AccessError.Command names it.
	ErrNoPermission = errors.New("redis permission denied")
	// ErrBadDB: the database number of the URL does not exist on the
	// server (it is not below the server's `databases` setting).
	ErrBadDB = errors.New("redis database out of range")
)

// AccessError is a refusal by the server that retrying cannot cure: bad
// credentials, a command the ACL user may not run, a database that does not
// exist. It wraps Kind (ErrAuth, ErrNoPermission or ErrBadDB) and the
// server's reply.
type AccessError struct {
	Kind    error  // ErrAuth, ErrNoPermission or ErrBadDB
	Node    string // host:port of the server that refused
	Command string // the refused command in lower case ("evalsha", "config|get"); "" if unknown
	Reply   string // the server's error reply
	Err     error  // the error as returned, with its context
}

func (e *AccessError) Error() string {
	var what string
	switch {
	case errors.Is(e.Kind, ErrAuth) && strings.HasPrefix(e.Reply, "NOAUTH"):
		what = "the server needs a password and the URL has none: use redis://user:password@host:port"
	case errors.Is(e.Kind, ErrAuth):
		what = "wrong user name or password, or the ACL user is disabled: check the credentials in the URL"
	case errors.Is(e.Kind, ErrNoPermission) && e.Command != "":
		what = fmt.Sprintf("the ACL user may not run %s: grant it (ACL SETUSER <user> +%s) or use a user that has it; docs/cli.md lists the commands each redstage command needs",
			strings.ToUpper(e.Command), e.Command)
	case errors.Is(e.Kind, ErrNoPermission):
		what = "the ACL user lacks a permission redstage needs; docs/cli.md lists the commands each redstage command needs"
	case errors.Is(e.Kind, ErrBadDB):
		what = "the URL asks for a database the server does not have: use a number below the server's `databases` setting (16 by default)"
	}
	return fmt.Sprintf("%v on %s: %s (%s)", e.Kind, e.Node, what, e.Reply)
}

// Unwrap returns Kind and the error as returned.
func (e *AccessError) Unwrap() []error { return []error{e.Kind, e.Err} }

// accessError returns err as an *AccessError when the server refused the
// credentials, a command or the database; otherwise err unchanged. A
// NOPERM about keys (ACL key patterns) is not a refusal of the command and
// is left alone: it concerns single keys.
func accessError(err error, node string) error {
	if err == nil {
		return nil
	}
	var ae *AccessError
	if errors.As(err, &ae) {
		return err
	}
	var re redis.Error
	if !errors.As(err, &re) {
		return err
	}
	reply := re.Error()
	e := &AccessError{Node: node, Reply: reply, Err: err}
	switch {
	case strings.HasPrefix(reply, "NOAUTH"), strings.HasPrefix(reply, "WRONGPASS"),
		strings.HasPrefix(reply, "ERR invalid password"),
		strings.Contains(reply, "AUTH <password> called without any password configured"),
		strings.Contains(reply, "Client sent AUTH, but no password is set"):
		e.Kind = ErrAuth
	case strings.HasPrefix(reply, "NOPERM"):
		cmd, ok := deniedCommand(reply)
		if !ok {
			return err
		}
		e.Kind, e.Command = ErrNoPermission, cmd
	case strings.Contains(reply, "DB index is out of range"), strings.Contains(reply, "invalid DB index"):
		e.Kind = ErrBadDB
	default:
		return err
	}
	return e
}

// deniedCommand extracts the command from a NOPERM reply about a command
// ("... has no permissions to run the 'evalsha' command"); ok is false for
// a NOPERM about keys or channels.
func deniedCommand(reply string) (string, bool) {
	_, rest, found := strings.Cut(reply, "permissions to run the '")
	if !found {
		return "", false
	}
	cmd, _, found := strings.Cut(rest, "' command")
	if !found {
		return "", false
	}
	return strings.ToLower(cmd), true
}
