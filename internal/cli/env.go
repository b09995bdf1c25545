package cli

import (
	"strings"

	"github.com/redstage/redstage/shard"
)

// Environment variables read by the programs. Flags override them.
const (
	EnvRedisURL   = "REDSTAGE_REDIS_URL"  // default of --redis
	EnvNATSURL    = "REDSTAGE_NATS_URL"   // default of --nats
	EnvLogFormat  = "REDSTAGE_LOG_FORMAT" // "json" = JSON logs (as --log-json)
	EnvLogLevel   = "REDSTAGE_LOG_LEVEL"  // default of --log-level
	EnvNoProgress = "REDSTAGE_NO_PROGRESS"
)

// DefaultRedisURL is used when neither --redis nor REDSTAGE_REDIS_URL is set.
const DefaultRedisURL = "redis://127.0.0.1:6379"

// envOr returns getenv(name) if set and not blank, else def.
func envOr(getenv func(string) string, name, def string) string {
	if v := strings.TrimSpace(getenv(name)); v != "" {
		return v
	}
	return def
}

// RedactURL hides the password of a URL (Redis or NATS) for logs, messages
// and reports (shard.RedactURL).
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	return shard.RedactURL(raw)
}
