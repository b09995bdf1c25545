package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/redstage/redstage/cluster"
	"github.com/redstage/redstage/internal/version"
)

// WorkerOptions are the options of the worker program.
type WorkerOptions struct {
	daemonFlags
	Config cluster.WorkerConfig
}

func (a *App) workerCommand() *cobra.Command {
	o := &WorkerOptions{Config: cluster.DefaultWorkerConfig()}
	cmd := &cobra.Command{
		Use:   "worker --nats URL [--concurrency N] [flags]",
		Short: "Run a redstage worker",
		Long: `A worker pulls tasks from the cluster's JetStream work queue and runs them
against Redis: scanning partitions of the keyspace, writing load chunks,
sampling for inference, deleting. Run as many as you like, anywhere that
reaches NATS and Redis.

On SIGINT/SIGTERM it drains: it stops pulling, lets running tasks finish within
--drain-timeout, hands back the others for another worker, then exits 0.

` + exitCodeHelp(),
		Example: `  worker --nats nats://nats:4222 --concurrency 4`,
		Version: version.String(),
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.daemonFlags.resolve(cmd, a.Getenv, true); err != nil {
				return err
			}
			if err := o.Config.Validate(); err != nil {
				return exitErr(ExitUsage, "see: worker --help", err)
			}
			if a.record(cmd, o) {
				return nil
			}
			return a.runWorker(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	o.daemonFlags.register(f)
	c := &o.Config
	f.IntVarP(&c.Concurrency, "concurrency", "c", c.Concurrency, "tasks run at once")
	f.StringVar(&c.ID, "id", "", "worker id (default: host-pid-random)")
	f.DurationVar(&c.DrainTimeout, "drain-timeout", c.DrainTimeout, "on shutdown, how long running tasks may take to finish before they are handed back")
	f.DurationVar(&c.HeartbeatInterval, "heartbeat", c.HeartbeatInterval, "interval of liveness records (redstage workers)")
	return cmd
}

func (a *App) runWorker(ctx context.Context, o *WorkerOptions) error {
	log := newLogger("redstage", o.Log, a.Stderr)
	routeRedisLogs(log)
	o.Config.Logger = log
	nc, err := connectNATS(ctx, o.NATS, "redstage-worker", log, natsOptions{Timeout: 5 * time.Second, MaxReconnects: -1, RetryFor: o.ConnectTimeout})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer nc.Close()
	w, err := cluster.NewWorker(nc, o.Config)
	if err != nil {
		return exitErr(ExitUsage, "see: worker --help", err)
	}
	log.Info("worker starting", "id", w.ID(), "nats", RedactURL(o.NATS), "concurrency", o.Config.Concurrency, "version", version.String())
	if err := w.Run(ctx); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if err := nc.Drain(); err != nil {
		log.Debug("draining the NATS connection", "error", err)
	}
	log.Info("worker stopped", "id", w.ID())
	return nil
}
