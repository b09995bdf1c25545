package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"

	"github.com/nats-io/nats.go"

	"github.com/redstage/redstage/cluster"
	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/shard"
)

// Exit codes of the redstage, coordinator and worker programs. Each names a
// kind of failure so that scripts and Kubernetes Jobs can react to it; the
// message printed with it says what went wrong and what to do.
const (
	ExitOK          = 0   // full success
	ExitFailure     = 1   // unexpected internal error (a bug: please report it)
	ExitUsage       = 2   // bad command line: flag, argument, schema spec, pattern, option value
	ExitInput       = 3   // a file could not be read or written, is malformed, or lacks a named column
	ExitRedis       = 4   // Redis unreachable or refused the connection
	ExitCluster     = 5   // NATS unreachable or no coordinator answering
	ExitJobFailed   = 6   // the job failed (task errors, Redis failing mid-job, strict value errors)
	ExitPartial     = 7   // the job finished but some keys failed or were rejected (see --report)
	ExitNotFound    = 8   // job id unknown, or the job already finished (status, cancel)
	ExitNoData      = 9   // nothing matched the pattern where data was needed (infer, scan without --schema)
	ExitCancelled   = 10  // the job was cancelled by someone else (redstage cancel)
	ExitRedisAuth   = 11  // Redis refused the credentials (NOAUTH, WRONGPASS)
	ExitRedisACL    = 12  // the Redis ACL user may not run a command redstage needs (NOPERM)
	ExitRedisDB     = 13  // the database number of the Redis URL does not exist on the server
	ExitInterrupted = 130 // interrupted by SIGINT/SIGTERM; the job was cancelled on the cluster
	// ExitBrokenPipe: the output's reader went away (scan -o - | head);
	// the job was cancelled and its results discarded. 141 is what a
	// shell reports for a program killed by SIGPIPE, so pipelines that
	// tolerate an early-closing reader keep working.
	ExitBrokenPipe = 141
)

// ExitCodes documents every exit code, in order (used by docs and --help).
var ExitCodes = []struct {
	Code    int
	Meaning string
}{
	{ExitOK, "success"},
	{ExitFailure, "unexpected internal error"},
	{ExitUsage, "bad command line (flag, argument, schema spec, pattern)"},
	{ExitInput, "file unreadable, malformed, or missing a named column"},
	{ExitRedis, "Redis unreachable"},
	{ExitCluster, "NATS unreachable or no coordinator answering"},
	{ExitJobFailed, "job failed"},
	{ExitPartial, "job finished but some keys failed (partial success)"},
	{ExitNotFound, "job not found or already finished"},
	{ExitNoData, "nothing matched the pattern"},
	{ExitCancelled, "job cancelled by another client"},
	{ExitRedisAuth, "Redis authentication failed (NOAUTH, WRONGPASS)"},
	{ExitRedisACL, "Redis ACL user lacks a command redstage needs (NOPERM)"},
	{ExitRedisDB, "Redis database number out of range"},
	{ExitInterrupted, "interrupted (SIGINT/SIGTERM); job cancelled"},
	{ExitBrokenPipe, "output closed by its reader (broken pipe); job cancelled"},
}

// ExitError is an error with an exit code and a hint saying what to do.
type ExitError struct {
	Code int
	Err  error
	Hint string
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *ExitError) Unwrap() error { return e.Err }

// exitErr returns an *ExitError.
func exitErr(code int, hint string, err error) *ExitError {
	return &ExitError{Code: code, Err: err, Hint: hint}
}

// usageErrorf returns a usage error (exit 2) with a hint.
func usageErrorf(hint, format string, args ...any) *ExitError {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...), Hint: hint}
}

// errInterrupted is returned when a signal stopped a command.
var errInterrupted = errors.New("interrupted")

// Classify maps an error to an exit code and a hint saying what to do.
// An *ExitError anywhere in the chain decides; otherwise the sentinels of
// packages codec and cluster do.
func Classify(err error) (int, string) {
	if err == nil {
		return ExitOK, ""
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code, ee.Hint
	}
	if errors.Is(err, codec.ErrRowTooLarge) {
		return ExitJobFailed, rowTooLargeHint
	}
	if code, hint := classifyAccess(err); code != 0 {
		return code, hint
	}
	var je *cluster.JobError
	if errors.As(err, &je) {
		var fe *codec.FileError
		if je.Cause != nil && errors.As(je.Cause, &fe) {
			return ExitInput, "fix the file at the line named above and run the load again (it is safe to rerun); chunks read before the bad line may have been written: --report FILE says how many"
		}
		if je.State == cluster.JobCancelled {
			return ExitCancelled, "the job was cancelled (redstage cancel or another client); run the command again to redo it"
		}
		return ExitJobFailed, jobFailedHint(je)
	}
	var se *codec.SpecError
	var fe *codec.FileError
	switch {
	case isBrokenPipe(err):
		return ExitBrokenPipe, "the reader of the output (a pipe) closed it before the end, e.g. | head: the job was cancelled; to keep all rows write them to a file with -o FILE"
	case errors.Is(err, errInterrupted):
		return ExitInterrupted, "the job was cancelled on the cluster; run the command again to redo it"
	case errors.Is(err, codec.ErrColumnCollision):
		return ExitUsage, "the hashes have a field named like a scan metadata column (_key, _ttl, _index; e.g. written by an older load of scan output): leave the field out with --fields, or drop that column (--no-key; _ttl and _index only come with --include-ttl and --row-index)"
	case errors.As(err, &se), errors.Is(err, codec.ErrUnknownType), errors.Is(err, codec.ErrInvalidSchema),
		errors.Is(err, codec.ErrUnknownField):
		return ExitUsage, "fix the schema: a spec is name:type,... with types utf8, int64, float64, bool, date, datetime; a file is given as @path"
	case errors.As(err, &fe), errors.Is(err, codec.ErrMalformedFile), errors.Is(err, codec.ErrUnknownFormat),
		errors.Is(err, codec.ErrNotSeekable), errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return ExitInput, "fix or replace the file named above (or pass --format if the extension is misleading); nothing was written from it"
	case errors.Is(err, cluster.ErrRedisUnreachable):
		return ExitRedis, "check the Redis URL (--redis or REDSTAGE_REDIS_URL) and that the server is running and reachable"
	case errors.Is(err, cluster.ErrStoreFull):
		return ExitCluster, "the NATS server's JetStream store is full: free space in it (read or purge old results) or raise its max_file_store, then run the command again"
	case errors.Is(err, cluster.ErrNoCoordinator), isNATSConnectError(err):
		return ExitCluster, "check the NATS URL (--nats or REDSTAGE_NATS_URL) and that a coordinator runs; without --nats redstage runs an embedded cluster"
	case errors.Is(err, cluster.ErrInvalidSpec):
		return ExitUsage, "fix the option named above and run the command again; nothing was written"
	case errors.Is(err, cluster.ErrJobNotFound), errors.Is(err, cluster.ErrJobFinished):
		return ExitNotFound, "list the jobs the coordinator knows with: redstage jobs"
	case errors.Is(err, cluster.ErrJobCancelled):
		return ExitCancelled, "run the command again to redo the job"
	case errors.Is(err, cluster.ErrJobFailed):
		return ExitJobFailed, "see the task errors above; fix their cause and run the command again"
	case errors.Is(err, cluster.ErrSortNeedsKey):
		return ExitUsage, "drop --no-key or --sort"
	}
	return ExitFailure, "this looks like a bug in redstage; please report it with the command line and the log (--log-level debug)"
}

// DefaultMaxPayload is the embedded cluster's largest message (8 MiB, as
// the coordinator's --embedded-nats default): one row must fit in it.
const DefaultMaxPayload = 8 << 20

// rowTooLargeHint names the settings that carry larger rows.
const rowTooLargeHint = "a row must fit one NATS message: raise the limit with --max-payload BYTES (embedded cluster; up to 67108864 = 64 MiB), or with --nats start the coordinator with --embedded-nats --max-payload BYTES (or set max_payload in the NATS server's config) and restart the workers"

// Hints of the Redis refusals that retrying cannot cure.
const (
	hintAuth = "check the user name and password in the Redis URL (redis://user:password@host:port, --redis or REDSTAGE_REDIS_URL)"
	hintACL  = "grant the ACL user the command named above (ACL SETUSER <user> +<command>) or use another user; docs/cli.md lists the commands each redstage command needs"
	hintDB   = "use a database number below the server's `databases` setting (16 by default), e.g. redis://host:6379/0"
)

// classifyAccess maps a refusal by Redis (authentication, ACL permission,
// database) to its exit code, or returns 0. A failed job carries its task
// errors as text, so they are matched by the sentinels' messages.
func classifyAccess(err error) (int, string) {
	kinds := []struct {
		sentinel error
		code     int
		hint     string
	}{
		{shard.ErrAuth, ExitRedisAuth, hintAuth},
		{shard.ErrNoPermission, ExitRedisACL, hintACL},
		{shard.ErrBadDB, ExitRedisDB, hintDB},
	}
	for _, k := range kinds {
		if errors.Is(err, k.sentinel) {
			return k.code, k.hint
		}
	}
	var je *cluster.JobError
	if !errors.As(err, &je) || je.State == cluster.JobCancelled {
		return 0, ""
	}
	for _, k := range kinds {
		msg := k.sentinel.Error()
		if strings.Contains(je.Reason, msg) {
			return k.code, k.hint
		}
		for _, t := range je.Tasks {
			if strings.Contains(t.Error, msg) {
				return k.code, k.hint
			}
		}
	}
	return 0, ""
}

// jobFailedHint says what to do about a failed job, judging by its errors.
func jobFailedHint(je *cluster.JobError) string {
	text := strings.ToLower(je.Reason)
	for _, t := range je.Tasks {
		text += " " + strings.ToLower(t.Error)
	}
	switch {
	case strings.Contains(text, "jetstream store full"):
		return "the cluster's JetStream store is full (the error names it and its limit): free space in it (read or purge old results) or raise its max_file_store, then run the command again"
	case strings.Contains(text, "connection refused"), strings.Contains(text, "i/o timeout"),
		strings.Contains(text, "no route to host"), strings.Contains(text, "connection reset"),
		strings.Contains(text, "broken pipe"), strings.Contains(text, ": eof"), strings.Contains(text, "server restarted"),
		strings.Contains(text, "loading redis is loading"), strings.Contains(text, "clusterdown"):
		return "Redis failed during the job: check that the server is up and reachable, then run the command again (load and delete are safe to rerun)"
	case strings.Contains(text, "row too large"):
		return rowTooLargeHint
	case strings.Contains(text, "strict"), strings.Contains(text, "is not a valid"):
		return "a value does not parse under the schema: fix the data, pin the field to utf8, or drop --strict to turn such values into nulls"
	}
	return "see the task errors above; fix their cause and run the command again"
}

// isBrokenPipe reports a write to a pipe whose reader has gone.
func isBrokenPipe(err error) bool { return errors.Is(err, syscall.EPIPE) }

// isNATSConnectError reports errors of connecting to NATS.
func isNATSConnectError(err error) bool {
	if errors.Is(err, nats.ErrNoServers) || errors.Is(err, nats.ErrConnectionClosed) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrAuthorization) {
		return true
	}
	var ne *natsConnectError
	return errors.As(err, &ne)
}

// natsConnectError marks a failure to reach the NATS server.
type natsConnectError struct {
	URL string
	Err error
}

func (e *natsConnectError) Error() string {
	return fmt.Sprintf("connecting to NATS at %s: %v", e.URL, e.Err)
}

func (e *natsConnectError) Unwrap() error { return e.Err }
