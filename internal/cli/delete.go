package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/redstage/redstage/cluster"
	"github.com/redstage/redstage/shard"
)

// DeleteOptions are the options of redstage delete.
type DeleteOptions struct {
	Global  *GlobalOptions
	Pattern string
	Type    string
	DryRun  bool
	Tasks   int
}

func (a *App) deleteCommand(g *GlobalOptions) *cobra.Command {
	o := &DeleteOptions{Global: g}
	cmd := &cobra.Command{
		Use:   "delete PATTERN [--dry-run] [flags]",
		Short: "Delete the keys matching PATTERN",
		Long: `Delete removes the keys whose name matches the glob PATTERN (quote it in the
shell) on every master of a Redis Cluster. By default only hashes are deleted,
the type redstage loads and scans; --type all deletes keys of every type, and
--type string (list, set, zset, stream) only that type. Matching keys of other
types are left alone and counted in the summary ("other types left").
--dry-run counts the keys that would be deleted and deletes nothing. Deleting
is safe to rerun.`,
		Example: `  redstage delete 'staging:users:*' --dry-run
  redstage delete 'staging:users:*'
  redstage delete 'staging:*' --type all`,
		Args: exactArgs(1, "a PATTERN (e.g. 'user:*')"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Pattern = args[0]
			if o.Tasks < 0 {
				return usageErrorf("see: redstage delete --help", "--tasks must not be negative")
			}
			typ, err := shard.ParseDeleteType(o.Type)
			if err != nil {
				return usageErrorf("--type is hash (default), string, list, set, zset, stream or all", "--type: %v", err)
			}
			o.Type = typ
			if err := checkPattern(g.Redis, o.Pattern); err != nil {
				return err
			}
			if a.record(cmd, o) {
				return nil
			}
			return a.runDelete(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "count the matching keys, delete nothing")
	cmd.Flags().StringVar(&o.Type, "type", "hash", "type of the keys to delete: hash, string, list, set, zset, stream, or all")
	cmd.Flags().IntVar(&o.Tasks, "tasks", 0, "partitions of the keyspace (default: the coordinator's)")
	return cmd
}

func (a *App) runDelete(ctx context.Context, o *DeleteOptions) (err error) {
	g := o.Global
	start := time.Now()
	log := a.logger(g)
	sum := newSummary("delete", g)
	sum.Pattern, sum.DryRun, sum.Type = o.Pattern, o.DryRun, o.Type
	sum.TasksRequested = o.Tasks
	var res *cluster.JobResult
	defer func() {
		sum.fromResult(res)
		sum.finish(start, err)
		a.emit(g, sum, false)
	}()
	spec := cluster.JobSpec{
		Kind: cluster.KindDelete, Redis: g.Redis, Tasks: o.Tasks,
		Delete: &cluster.DeleteSpec{Pattern: o.Pattern, Type: o.Type, DryRun: o.DryRun},
	}
	spec.Normalize()
	if err := spec.Validate(); err != nil {
		return exitErr(ExitUsage, "see: redstage delete --help", err)
	}
	rt, err := a.openRuntime(ctx, g, log)
	if err != nil {
		return err
	}
	defer rt.Close()
	job, err := rt.client.Submit(ctx, spec)
	if err != nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return submitErr(g, err)
	}
	defer job.Close()
	sum.Job = job.ID()
	res, err = a.waitJob(ctx, g, log, job, "delete", -1)
	return err
}
