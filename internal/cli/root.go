package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/redstage/redstage/internal/version"
)

// GlobalOptions are the flags every redstage subcommand accepts.
type GlobalOptions struct {
	Redis string // resolved: --redis, REDSTAGE_REDIS_URL, DefaultRedisURL
	NATS  string // resolved: --nats, REDSTAGE_NATS_URL; "" = embedded runtime
	// Workers is the number of in-process workers of the embedded runtime
	// (0 = one per CPU). Ignored with --nats.
	Workers int
	// MaxPayload is the largest NATS message of the embedded runtime in
	// bytes (0 = DefaultMaxPayload): a row must fit one message. Ignored
	// with --nats (the NATS server's max_payload applies).
	MaxPayload int32
	JSON       bool // machine-readable summary
	Quiet      bool // no progress, no human summary (errors still print)
	// NoProgress turns the progress bar off (log lines are still written
	// every ProgressInterval when stderr is not a terminal).
	NoProgress       bool
	ProgressInterval time.Duration
	TempDir          string // spill directory of --sort ("" = system temp dir)
	Log              LogOptions

	// jsonOnStderr: --json while stdout carries data (scan -o -, infer
	// without -o). Stderr then gets the JSON document only: the human
	// output is off (as with --quiet) and so are log lines, unless a log
	// level was asked for (--log-level or REDSTAGE_LOG_LEVEL).
	jsonOnStderr bool
	logLevelSet  bool
}

const redstageLong = `redstage stages tabular data in Redis at cluster scale: it loads files
(CSV, Parquet, NDJSON, Arrow) into Redis hashes, scans hashes back into typed
Arrow data (Parquet, CSV, NDJSON, Arrow IPC), infers schemas and deletes by
pattern. Jobs run as tasks on a cluster of workers over NATS JetStream.

Without --nats (or REDSTAGE_NATS_URL), each command starts an embedded cluster
in-process (NATS server, coordinator, one worker per CPU), runs the job over
the same protocol, and shuts it down. With --nats it submits to a running
cluster (coordinator and worker programs).

Environment: REDSTAGE_REDIS_URL (default of --redis), REDSTAGE_NATS_URL
(default of --nats), REDSTAGE_LOG_FORMAT=json, REDSTAGE_LOG_LEVEL.`

func (a *App) redstageCommand() *cobra.Command {
	g := &GlobalOptions{}
	root := &cobra.Command{
		Use:           "redstage",
		Short:         "Stage tabular data in Redis: load, scan, infer, delete",
		Long:          redstageLong + "\n\n" + exitCodeHelp(),
		Version:       version.String(),
		SilenceErrors: true,
		SilenceUsage:  true,
		// No Args validator: cobra then refuses an unknown command before
		// parsing flags, with suggestions (see unknownCommand).
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := g.resolve(cmd.Flags(), a.Getenv); err != nil {
				return err
			}
			a.jsonWanted = g.JSON
			a.stdoutData = stdoutCarriesData(cmd)
			if g.JSON && a.stdoutData {
				g.jsonOnStderr, g.Quiet = true, true
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.Redis, "redis", "", "Redis URL: redis://[user:password@]host:port[/db] or rediss://; any node of a Redis Cluster (default $REDSTAGE_REDIS_URL, then "+DefaultRedisURL+")")
	pf.StringVar(&g.NATS, "nats", "", "NATS URL of a running redstage cluster (default $REDSTAGE_NATS_URL; unset = embedded cluster)")
	pf.IntVar(&g.Workers, "workers", 0, "in-process workers of the embedded cluster (0 = one per CPU)")
	pf.Int32Var(&g.MaxPayload, "max-payload", DefaultMaxPayload, "largest message of the embedded cluster in bytes, 1 MiB to 64 MiB: one row (loaded or scanned) must fit in it")
	pf.BoolVar(&g.JSON, "json", false, "print a machine-readable JSON summary on stdout (on stderr when stdout carries data)")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "no progress and no summary; errors are still printed")
	pf.BoolVar(&g.NoProgress, "no-progress", false, "no progress bar (periodic log lines are kept when stderr is not a terminal)")
	pf.DurationVar(&g.ProgressInterval, "progress-interval", 10*time.Second, "interval of progress log lines when stderr is not a terminal")
	pf.StringVar(&g.TempDir, "temp-dir", "", "directory for temporary files of --sort (default: the system temp dir)")
	pf.BoolVar(&g.Log.JSON, "log-json", false, "JSON log lines (also REDSTAGE_LOG_FORMAT=json)")
	pf.StringVar(&g.Log.Level, "log-level", "info", "log level: trace, debug, info, warn, error, off (also REDSTAGE_LOG_LEVEL)")
	root.SetVersionTemplate("redstage {{.Version}}\n")

	root.AddCommand(
		a.loadCommand(g),
		a.scanCommand(g),
		a.inferCommand(g),
		a.deleteCommand(g),
		a.jobsCommand(g),
		a.statusCommand(g),
		a.cancelCommand(g),
		a.workersCommand(g),
		a.sampleDataCommand(g),
		a.versionCommand(g),
	)
	// cobra's "completion bash|zsh|fish|powershell" command.
	root.CompletionOptions.HiddenDefaultCmd = false
	return root
}

// resolve applies the environment and defaults to the flags not given.
func (g *GlobalOptions) resolve(fs *pflag.FlagSet, getenv func(string) string) error {
	if !fs.Changed("redis") {
		g.Redis = envOr(getenv, EnvRedisURL, DefaultRedisURL)
	}
	if !fs.Changed("nats") {
		g.NATS = envOr(getenv, EnvNATSURL, "")
	}
	g.Redis = strings.TrimSpace(g.Redis)
	g.NATS = strings.TrimSpace(g.NATS)
	if g.Workers < 0 {
		return usageErrorf("use 0 for one worker per CPU", "--workers %d must not be negative", g.Workers)
	}
	if g.ProgressInterval <= 0 {
		return usageErrorf("give a positive duration such as 10s", "--progress-interval %s must be positive", g.ProgressInterval)
	}
	if !fs.Changed("no-progress") && getenv(EnvNoProgress) != "" {
		g.NoProgress = true
	}
	lo, err := resolveLogOptions(g.Log, fs.Changed("log-json"), fs.Changed("log-level"), getenv, "info")
	if err != nil {
		return err
	}
	g.Log = lo
	g.logLevelSet = fs.Changed("log-level") || getenv(EnvLogLevel) != ""
	return nil
}

// logger returns the CLI's logger on stderr.
func (a *App) logger(g *GlobalOptions) hclog.Logger {
	o := g.Log
	o.hideTaskFailures = true
	if g.Quiet && hclog.LevelFromString(o.Level) < hclog.Warn {
		o.Level = "warn"
	}
	if g.jsonOnStderr && !g.logLevelSet {
		o.Level = "off"
	}
	l := newLogger("redstage", o, a.Stderr)
	routeRedisLogs(l)
	return l
}

// noArgs rejects positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		if cmd.HasSubCommands() {
			return usageErrorf(fmt.Sprintf("see: %s --help", cmd.CommandPath()), "unknown command %q", args[0])
		}
		return usageErrorf(fmt.Sprintf("see: %s --help", cmd.CommandPath()), "%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}

// exactArgs returns a validator wanting n positional arguments named what.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf(fmt.Sprintf("usage: %s", cmd.UseLine()), "%s needs %s (got %d arguments)", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}

func exitCodeHelp() string {
	var b strings.Builder
	b.WriteString("Exit codes:\n")
	for _, c := range ExitCodes {
		fmt.Fprintf(&b, "  %3d  %s\n", c.Code, c.Meaning)
	}
	return strings.TrimRight(b.String(), "\n")
}
