package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/redstage/redstage/cluster"
)

// JobsOptions are the options of redstage jobs.
type JobsOptions struct {
	Global *GlobalOptions
	All    bool
}

// StatusOptions are the options of redstage status.
type StatusOptions struct {
	Global *GlobalOptions
	ID     string
	Wait   bool
}

// CancelOptions are the options of redstage cancel.
type CancelOptions struct {
	Global *GlobalOptions
	ID     string
}

// WorkersOptions are the options of redstage workers.
type WorkersOptions struct {
	Global *GlobalOptions
}

// requestTimeout bounds the one-shot requests of jobs, status, cancel, workers.
const requestTimeout = 15 * time.Second

func (a *App) jobsCommand(g *GlobalOptions) *cobra.Command {
	o := &JobsOptions{Global: g}
	cmd := &cobra.Command{
		Use:     "jobs",
		Short:   "List the jobs of a running cluster (newest first)",
		Example: `  redstage jobs --nats nats://nats:4222`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needCluster(g, "jobs"); err != nil {
				return err
			}
			if a.record(cmd, o) {
				return nil
			}
			return a.withClient(cmd.Context(), g, func(ctx context.Context, c *cluster.Client) error {
				list, err := c.List(ctx)
				if err != nil {
					return err
				}
				if g.JSON {
					if list == nil {
						list = []cluster.JobStatus{}
					}
					a.writeJSONDoc(a.Stdout, list)
					return nil
				}
				writeJobList(a.Stdout, list)
				return nil
			})
		},
	}
	return cmd
}

func writeJobList(w io.Writer, list []cluster.JobStatus) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no jobs")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tKIND\tSTATE\tTASKS\tROWS\tCREATED\tTARGET")
	for _, j := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%s\t%s\t%s\t%s\n", j.ID, j.Kind, j.State, j.Progress.TasksDone, tasksTotal(j.Progress),
			groupDigits(rowsOf(j)), j.Created.Local().Format("2006-01-02 15:04:05"), j.Target)
	}
	tw.Flush()
}

func rowsOf(j cluster.JobStatus) int64 {
	if j.Result != nil {
		return j.Result.Rows
	}
	return j.Progress.Rows
}

func (a *App) statusCommand(g *GlobalOptions) *cobra.Command {
	o := &StatusOptions{Global: g}
	cmd := &cobra.Command{
		Use:   "status JOB",
		Short: "Show a job's state, progress and errors (--wait: until it ends)",
		Long: `Status shows a job's state, progress, result counts and task errors. With
--wait it follows the job until it ends and exits with the job's exit code
(0 succeeded, 6 failed, 7 partial, 10 cancelled).`,
		Example: `  redstage status k3x9q2 --nats nats://nats:4222
  redstage status k3x9q2 --wait --json`,
		Args: exactArgs(1, "a JOB id (see redstage jobs)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			if err := needCluster(g, "status"); err != nil {
				return err
			}
			if a.record(cmd, o) {
				return nil
			}
			return a.runStatus(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.Wait, "wait", false, "follow the job until it ends; exit with its exit code")
	return cmd
}

func (a *App) runStatus(ctx context.Context, o *StatusOptions) error {
	g := o.Global
	if !o.Wait {
		return a.withClient(ctx, g, func(ctx context.Context, c *cluster.Client) error {
			st, err := c.Status(ctx, o.ID)
			if err != nil {
				return err
			}
			if g.JSON {
				a.writeJSONDoc(a.Stdout, st)
			} else {
				writeStatus(a.Stdout, st)
			}
			return nil
		})
	}
	log := a.logger(g)
	rt, err := a.openRuntime(ctx, g, log)
	if err != nil {
		return err
	}
	defer rt.Close()
	job, err := rt.client.Attach(ctx, o.ID)
	if err != nil {
		return err
	}
	defer job.Close()
	start := time.Now()
	sum := newSummary(string(job.Kind()), g)
	sum.Job = job.ID()
	pv := a.newProgress(g, log, string(job.Kind()), -1)
	pctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		pv.follow(pctx, job.Progress())
	}()
	res, err := job.Wait(ctx)
	stop()
	<-done
	if ctx.Err() != nil {
		return errInterrupted // following was interrupted; the job keeps running
	}
	sum.fromResult(res)
	if err == nil && job.Kind() == cluster.KindLoad {
		err = loadOutcome(res, "list the failed keys with redstage status --json")
	}
	sum.finish(start, err)
	sum.useJobDuration(res)
	a.emit(g, sum, false)
	return err
}

func writeStatus(w io.Writer, st *cluster.JobStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "job\t%s\n", st.ID)
	fmt.Fprintf(tw, "kind\t%s\n", st.Kind)
	fmt.Fprintf(tw, "state\t%s\n", st.State)
	fmt.Fprintf(tw, "redis\t%s\n", st.Redis)
	if st.Target != "" {
		fmt.Fprintf(tw, "target\t%s\n", st.Target)
	}
	fmt.Fprintf(tw, "created\t%s\n", st.Created.Local().Format(time.RFC3339))
	if !st.Finished.IsZero() {
		fmt.Fprintf(tw, "finished\t%s (%s)\n", st.Finished.Local().Format(time.RFC3339), st.Finished.Sub(st.Created).Round(time.Millisecond))
	}
	p := st.Progress
	fmt.Fprintf(tw, "tasks\t%d/%s done\n", p.TasksDone, tasksTotal(p))
	fmt.Fprintf(tw, "rows\t%s\n", groupDigits(rowsOf(*st)))
	if r := st.Result; r != nil {
		if r.Written+r.Skipped+r.Failed > 0 {
			fmt.Fprintf(tw, "written/skipped/failed\t%s / %s / %s\n", groupDigits(r.Written), groupDigits(r.Skipped), groupDigits(r.Failed))
		}
		if r.Matched > 0 || r.Kind == cluster.KindDelete {
			fmt.Fprintf(tw, "matched/deleted\t%s / %s\n", groupDigits(r.Matched), groupDigits(r.Deleted))
		}
		if r.Attempts > 0 {
			fmt.Fprintf(tw, "executions\t%d for %d tasks\n", r.Attempts, r.Tasks)
		}
		for _, k := range sortedKeys(r.Nulls) {
			fmt.Fprintf(tw, "nulls %s\t%s\n", k, groupDigits(r.Nulls[k]))
		}
		if r.Error != "" {
			fmt.Fprintf(tw, "error\t%s\n", r.Error)
		}
		if r.LowerBound {
			fmt.Fprintf(tw, "note\tthe counts are a lower bound: %s\n", r.LowerBoundReason)
		}
	}
	for _, e := range st.Errors {
		fmt.Fprintf(tw, "task %s\t%s\n", e.Task, e.Error)
	}
	tw.Flush()
}

func (a *App) cancelCommand(g *GlobalOptions) *cobra.Command {
	o := &CancelOptions{Global: g}
	cmd := &cobra.Command{
		Use:     "cancel JOB",
		Short:   "Cancel a running job; its workers stop within seconds",
		Example: `  redstage cancel k3x9q2 --nats nats://nats:4222`,
		Args:    exactArgs(1, "a JOB id (see redstage jobs)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ID = args[0]
			if err := needCluster(g, "cancel"); err != nil {
				return err
			}
			if a.record(cmd, o) {
				return nil
			}
			return a.withClient(cmd.Context(), g, func(ctx context.Context, c *cluster.Client) error {
				if err := c.Cancel(ctx, o.ID); err != nil {
					return err
				}
				if g.JSON {
					a.writeJSONDoc(a.Stdout, map[string]any{"job": o.ID, "cancelled": true})
				} else if !g.Quiet {
					fmt.Fprintf(a.Stdout, "job %s cancelled\n", o.ID)
				}
				return nil
			})
		},
	}
	return cmd
}

func (a *App) workersCommand(g *GlobalOptions) *cobra.Command {
	o := &WorkersOptions{Global: g}
	cmd := &cobra.Command{
		Use:     "workers",
		Short:   "List the live workers of a running cluster",
		Example: `  redstage workers --nats nats://nats:4222`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needCluster(g, "workers"); err != nil {
				return err
			}
			if a.record(cmd, o) {
				return nil
			}
			return a.withClient(cmd.Context(), g, func(ctx context.Context, c *cluster.Client) error {
				ws, err := c.Workers(ctx)
				if err != nil {
					return err
				}
				if g.JSON {
					if ws == nil {
						ws = []cluster.WorkerInfo{}
					}
					a.writeJSONDoc(a.Stdout, ws)
					return nil
				}
				writeWorkers(a.Stdout, ws)
				return nil
			})
		},
	}
	return cmd
}

func writeWorkers(w io.Writer, ws []cluster.WorkerInfo) {
	if len(ws) == 0 {
		fmt.Fprintln(w, "no live workers")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tHOST\tPID\tCONCURRENCY\tRUNNING\tDONE\tFAILED\tUP\tSEEN")
	for _, x := range ws {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s ago\n", x.ID, x.Host, x.PID, x.Concurrency, x.Running, x.Done, x.Failed,
			shortDuration(time.Since(x.Started)), shortDuration(time.Since(x.Seen)))
	}
	tw.Flush()
}

// withClient connects to the cluster of g and runs fn with a bounded context.
func (a *App) withClient(ctx context.Context, g *GlobalOptions, fn func(context.Context, *cluster.Client) error) error {
	log := a.logger(g)
	rt, err := a.openRuntime(ctx, g, log)
	if err != nil {
		return err
	}
	defer rt.Close()
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	err = fn(rctx, rt.client)
	if ctx.Err() != nil {
		return errInterrupted
	}
	return err
}
