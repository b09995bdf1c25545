package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
)

// LogOptions configure a program's logger.
type LogOptions struct {
	JSON  bool   // JSON lines (containers); also when REDSTAGE_LOG_FORMAT=json
	Level string // trace, debug, info, warn, error, off

	// hideTaskFailures drops the embedded cluster's "task failed" lines
	// above debug level: the CLI reports every task error once, in its
	// summary and error message.
	hideTaskFailures bool
}

// taskFailedMsg is the message the coordinator and workers log a task
// failure with (package cluster).
const taskFailedMsg = "task failed"

// resolveLogOptions applies the environment to flags the user did not set.
func resolveLogOptions(o LogOptions, jsonSet, levelSet bool, getenv func(string) string, defLevel string) (LogOptions, error) {
	if !jsonSet {
		switch strings.ToLower(strings.TrimSpace(getenv(EnvLogFormat))) {
		case "json":
			o.JSON = true
		case "", "text", "human":
		default:
			return o, usageErrorf("set REDSTAGE_LOG_FORMAT to json or text", "%s=%q: want json or text", EnvLogFormat, getenv(EnvLogFormat))
		}
	}
	if !levelSet {
		o.Level = envOr(getenv, EnvLogLevel, defLevel)
	}
	if lvl := hclog.LevelFromString(o.Level); lvl == hclog.NoLevel {
		return o, usageErrorf("use one of trace, debug, info, warn, error, off", "log level %q is not known", o.Level)
	}
	return o, nil
}

// newLogger returns a logger writing to w.
func newLogger(name string, o LogOptions, w io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      hclog.LevelFromString(o.Level),
		JSONFormat: o.JSON,
		Output:     w,
		Color:      hclog.ColorOff,
		// Sub-loggers (the embedded cluster's) get their own level.
		IndependentLevels: true,
		Exclude: func(_ hclog.Level, msg string, _ ...any) bool {
			return o.hideTaskFailures && msg == taskFailedMsg && hclog.LevelFromString(o.Level) > hclog.Debug
		},
	})
}

// quieter returns a logger for the embedded runtime's internals: errors
// only, unless debugging (--log-level debug or trace), so that the user sees
// the CLI's own lines and summary, not the cluster's chatter. Task errors
// reach the user through the job's summary.
func quieter(l hclog.Logger) hclog.Logger {
	lvl := l.GetLevel()
	if lvl > hclog.Debug && lvl < hclog.Error {
		lvl = hclog.Error
	}
	sub := l.Named("cluster")
	sub.SetLevel(lvl)
	return sub
}

// redisLog routes go-redis's own log lines (dial retries and the like,
// printed to stderr by default) to a logger at debug level: the errors
// that matter reach the user through redstage's own messages.
type redisLog struct{ l hclog.Logger }

func (r redisLog) Printf(_ context.Context, format string, v ...any) {
	r.l.Debug(strings.TrimSpace(fmt.Sprintf(format, v...)))
}

// routeRedisLogs installs redisLog for this process.
func routeRedisLogs(l hclog.Logger) {
	redis.SetLogger(redisLog{l.Named("go-redis")})
}
