package cli

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/redstage/redstage/cluster"
	"github.com/redstage/redstage/internal/version"
)

// CoordinatorOptions are the options of the coordinator program.
type CoordinatorOptions struct {
	daemonFlags
	// EmbeddedNATS: host:port of an in-process NATS server with JetStream
	// this coordinator hosts (instead of --nats); its state lives in Store.
	EmbeddedNATS string
	Store        string
	MaxPayload   int32
	Config       cluster.CoordinatorConfig
}

func (a *App) coordinatorCommand() *cobra.Command {
	o := &CoordinatorOptions{Config: cluster.DefaultCoordinatorConfig()}
	cmd := &cobra.Command{
		Use:   "coordinator (--nats URL | --embedded-nats ADDR --store DIR) [flags]",
		Short: "Run the redstage job coordinator",
		Long: `The coordinator accepts jobs from redstage clients over NATS, plans them into
tasks on a JetStream work queue, tracks every task in JetStream KeyValue
buckets, retries failures and finishes jobs. All state lives in JetStream, so a
restarted coordinator resumes the jobs that were running.

Either connect to a NATS server with JetStream (--nats), or host one in this
process (--embedded-nats ADDR --store DIR) that workers and clients connect to.
SIGINT/SIGTERM stops it in order: requests, event processing, connection, NATS.

` + exitCodeHelp(),
		Example: `  coordinator --nats nats://nats:4222
  coordinator --embedded-nats 127.0.0.1:4222 --store /var/lib/redstage`,
		Version: version.String(),
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.finish(cmd, a.Getenv); err != nil {
				return err
			}
			if a.record(cmd, o) {
				return nil
			}
			return a.runCoordinator(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	o.daemonFlags.register(f)
	c := &o.Config
	f.StringVar(&o.EmbeddedNATS, "embedded-nats", "", "host an embedded NATS server with JetStream on ADDR (host:port) instead of --nats")
	f.StringVar(&o.Store, "store", "", "JetStream store directory of --embedded-nats (required with it)")
	f.Int32Var(&o.MaxPayload, "max-payload", 8<<20, "--embedded-nats: max message size in bytes")
	f.IntVar(&c.Replicas, "replicas", c.Replicas, "JetStream replicas of redstage's streams and buckets")
	f.IntVar(&c.DefaultTasks, "default-tasks", c.DefaultTasks, "partitions of a scan/infer/delete job that does not say (0 = shard's default)")
	f.IntVar(&c.MaxAttempts, "max-attempts", c.MaxAttempts, "deliveries of a task before it fails the job")
	f.DurationVar(&c.RetryBackoff, "retry-backoff", c.RetryBackoff, "delay before the first retry of a failed task (doubles)")
	f.DurationVar(&c.MaxRetryBackoff, "max-retry-backoff", c.MaxRetryBackoff, "cap of the retry delay")
	f.DurationVar(&c.TaskTimeout, "task-timeout", c.TaskTimeout, "bound of one task execution")
	f.DurationVar(&c.AckWait, "ack-wait", c.AckWait, "a task whose worker stops heartbeating is redelivered after this")
	f.IntVar(&c.MaxAckPending, "max-ack-pending", c.MaxAckPending, "tasks out with workers at once")
	f.DurationVar(&c.ResultRetention, "result-retention", c.ResultRetention, "how long unread result frames are kept")
	f.DurationVar(&c.JobRetention, "job-retention", c.JobRetention, "how long job and task records are kept")
	f.DurationVar(&c.ValidateTimeout, "validate-timeout", c.ValidateTimeout, "bound of the Redis check when a job is submitted")
	f.DurationVar(&c.InputTimeout, "input-timeout", c.InputTimeout, "fail a load job whose client sent nothing for this long")
	return cmd
}

func (o *CoordinatorOptions) finish(cmd *cobra.Command, getenv func(string) string) error {
	embedded := o.EmbeddedNATS != ""
	if embedded && cmd.Flags().Changed("nats") {
		return usageErrorf("give one of them", "--nats and --embedded-nats exclude each other")
	}
	if err := o.daemonFlags.resolve(cmd, getenv, false); err != nil {
		return err
	}
	if embedded {
		o.NATS = ""
		if _, _, err := parseListenAddr(o.EmbeddedNATS); err != nil {
			return usageErrorf("e.g. --embedded-nats 127.0.0.1:4222", "--embedded-nats: %w", err)
		}
		if o.Store == "" {
			return usageErrorf("e.g. --store /var/lib/redstage", "--embedded-nats needs --store DIR: job state must survive a restart")
		}
		if o.MaxPayload < 1<<20 || o.MaxPayload > 64<<20 {
			return usageErrorf("e.g. --max-payload 8388608", "--max-payload %d: want 1 MiB to 64 MiB", o.MaxPayload)
		}
	} else {
		if o.NATS == "" {
			return usageErrorf("e.g. --nats nats://127.0.0.1:4222, or --embedded-nats 127.0.0.1:4222 --store DIR",
				"coordinator needs --nats URL (or REDSTAGE_NATS_URL) or --embedded-nats ADDR")
		}
		if cmd.Flags().Changed("store") {
			return usageErrorf("drop --store, or use --embedded-nats", "--store only applies to --embedded-nats")
		}
	}
	if err := o.Config.Validate(); err != nil {
		return exitErr(ExitUsage, "see: coordinator --help", err)
	}
	return nil
}

func (a *App) runCoordinator(ctx context.Context, o *CoordinatorOptions) error {
	log := newLogger("redstage", o.Log, a.Stderr)
	routeRedisLogs(log)
	o.Config.Logger = log
	var ns *cluster.NATSServer
	var nc *nats.Conn
	var err error
	natsURL := o.NATS
	if o.EmbeddedNATS != "" {
		host, port, _ := parseListenAddr(o.EmbeddedNATS)
		if err := checkListenAddr(host, port); err != nil {
			return exitErr(ExitCluster, "choose a free address: another coordinator or NATS server may be listening there",
				fmt.Errorf("--embedded-nats %s: %w", o.EmbeddedNATS, err))
		}
		ncfg := cluster.DefaultNATSConfig()
		ncfg.Host, ncfg.Port, ncfg.StoreDir, ncfg.MaxPayload = host, port, o.Store, o.MaxPayload
		ncfg.Logger = log
		if ns, err = cluster.StartNATS(ncfg); err != nil {
			return exitErr(ExitCluster, "check that the address is free and the store directory writable", fmt.Errorf("starting the embedded NATS server on %s: %w", o.EmbeddedNATS, err))
		}
		defer ns.Shutdown()
		if nc, err = ns.Connect("redstage-coordinator"); err != nil {
			return &natsConnectError{URL: ns.URL(), Err: err}
		}
		natsURL = ns.URL()
		log.Info("embedded NATS server running", "url", natsURL, "store", o.Store)
	} else {
		if nc, err = connectNATS(ctx, o.NATS, "redstage-coordinator", log, natsOptions{Timeout: 5 * time.Second, MaxReconnects: -1, RetryFor: o.ConnectTimeout}); err != nil {
			return err
		}
	}
	defer nc.Close()
	coord, err := cluster.NewCoordinator(ctx, nc, o.Config)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return exitErr(ExitCluster, "check that the NATS server has JetStream enabled (nats-server --jetstream)", fmt.Errorf("starting the coordinator: %w", err))
	}
	log.Info("coordinator starting", "nats", RedactURL(natsURL), "version", version.String())
	runErr := coord.Run(ctx)
	closeErr := coord.Close()
	if err := nc.Drain(); err != nil {
		log.Debug("draining the NATS connection", "error", err)
	}
	if runErr != nil {
		return fmt.Errorf("coordinator: %w", runErr)
	}
	if closeErr != nil {
		log.Warn("closing the coordinator", "error", closeErr)
	}
	log.Info("coordinator stopped")
	return nil
}

// checkListenAddr fails fast when host:port cannot be listened on (already
// in use, not a local address), instead of the NATS server's start-up
// timeout. Port -1 (any free port) is not checked.
func checkListenAddr(host string, port int) error {
	if port < 0 {
		return nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}
