package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/redstage/redstage/cluster"
	"github.com/redstage/redstage/codec"
)

// InferOptions are the options of redstage infer.
type InferOptions struct {
	Global    *GlobalOptions
	Pattern   string
	Sample    int
	Threshold float64
	Overwrite map[string]codec.Type
	Tasks     int
	Output    string // "" = stdout
}

func (a *App) inferCommand(g *GlobalOptions) *cobra.Command {
	o := &InferOptions{Global: g}
	var overwrite string
	cmd := &cobra.Command{
		Use:   "infer PATTERN [-o FILE] [flags]",
		Short: "Infer a schema from a sample of the hashes matching PATTERN",
		Long: `Infer samples --sample hashes matching PATTERN (all if fewer match; spread
over the whole keyspace) and picks for each field the narrowest type that at least --threshold
of its non-null values parse as (bool, int64, float64, date, datetime, else
utf8). It prints the schema with each field's confidence, null ratio and
warnings to stderr, and writes the schema as JSON to FILE (or stdout). That
file is what scan --schema @FILE reads; --overwrite pins types by hand.`,
		Example: `  redstage infer 'user:*'
  redstage infer 'customer:*' --sample 5000 -o customers.schema.json
  redstage infer 'user:*' --overwrite zip:utf8,age:int64 -o users.schema.json`,
		Args: exactArgs(1, "a PATTERN (e.g. 'user:*')"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Pattern = args[0]
			if err := o.finish(overwrite); err != nil {
				return err
			}
			if a.record(cmd, o) {
				return nil
			}
			return a.runInfer(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Sample, "sample", cluster.DefaultInferSample, "hashes to sample")
	f.Float64Var(&o.Threshold, "threshold", cluster.DefaultInferThreshold, "share of a field's non-null values that must parse as a type to choose it (0-1)")
	f.StringVar(&overwrite, "overwrite", "", "pin field types: field:type,... (after inference)")
	f.IntVar(&o.Tasks, "tasks", 0, "partitions of the keyspace sampled in parallel (default: the coordinator's)")
	f.StringVarP(&o.Output, "output", "o", "", "write the schema JSON to FILE (default: stdout)")
	return cmd
}

func (o *InferOptions) finish(overwrite string) error {
	hint := "see: redstage infer --help"
	if o.Sample <= 0 {
		return usageErrorf(hint, "--sample %d: want at least 1", o.Sample)
	}
	if o.Threshold <= 0 || o.Threshold > 1 {
		return usageErrorf(hint, "--threshold %g: want a value above 0 and at most 1", o.Threshold)
	}
	if o.Tasks < 0 {
		return usageErrorf(hint, "--tasks must not be negative")
	}
	if overwrite != "" {
		m, err := codec.ParseOverwrites(overwrite)
		if err != nil {
			return exitErr(ExitUsage, "--overwrite is field:type,... with types utf8, int64, float64, bool, date, datetime", err)
		}
		o.Overwrite = m
	}
	if o.Output == "-" {
		o.Output = ""
	}
	return checkPattern(o.Global.Redis, o.Pattern)
}

// inferRequest describes one infer job.
type inferRequest struct {
	Redis     string
	Pattern   string
	Sample    int
	Threshold float64
	Tasks     int
}

// errNoHashes: the pattern matched no hash, so nothing can be inferred.
func errNoHashes(pattern, redis string) error {
	return exitErr(ExitNoData,
		"check the pattern (quote it in the shell) and the Redis URL, or pass --schema to scan without inferring",
		fmt.Errorf("no hash matches %q in %s: nothing to infer a schema from", pattern, RedactURL(redis)))
}

// infer runs an infer job and returns its inference. Zero sampled hashes
// is an error (ExitNoData).
func (a *App) infer(ctx context.Context, rt *runtime, log hclog.Logger, req inferRequest) (*codec.Inference, *cluster.JobResult, error) {
	spec := cluster.JobSpec{
		Kind: cluster.KindInfer, Redis: req.Redis, Tasks: req.Tasks,
		Infer: &cluster.InferSpec{Pattern: req.Pattern, Sample: req.Sample, Threshold: req.Threshold},
	}
	spec.Normalize()
	if err := spec.Validate(); err != nil {
		return nil, nil, exitErr(ExitUsage, "see: redstage infer --help", err)
	}
	job, err := rt.client.Submit(ctx, spec)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, errInterrupted
		}
		return nil, nil, submitErr(&GlobalOptions{Redis: req.Redis}, err)
	}
	defer job.Close()
	log.Debug("infer job submitted", "job", job.ID(), "pattern", req.Pattern)
	res, err := job.Wait(ctx)
	if ctx.Err() != nil {
		cancelJob(job, log)
		return nil, res, errInterrupted
	}
	if err != nil {
		return nil, res, err
	}
	if res == nil || res.Inference == nil {
		return nil, res, fmt.Errorf("infer job %s succeeded without an inference", job.ID())
	}
	if res.Inference.SampleCount == 0 || len(res.Inference.Schema.Fields) == 0 {
		return nil, res, errNoHashes(req.Pattern, req.Redis)
	}
	return res.Inference, res, nil
}

func (a *App) runInfer(ctx context.Context, o *InferOptions) (err error) {
	g := o.Global
	start := time.Now()
	log := a.logger(g)
	sum := newSummary("infer", g)
	sum.Pattern, sum.Output = o.Pattern, o.Output
	sum.TasksRequested = o.Tasks
	var res *cluster.JobResult
	defer func() {
		sum.fromResult(res)
		sum.finish(start, err)
		a.emit(g, sum, o.Output == "")
	}()
	if err := checkOutputDir(o.Output); err != nil {
		return err
	}
	rt, err := a.openRuntime(ctx, g, log)
	if err != nil {
		return err
	}
	defer rt.Close()
	inf, r, err := a.infer(ctx, rt, log, inferRequest{
		Redis: g.Redis, Pattern: o.Pattern, Sample: o.Sample, Threshold: o.Threshold, Tasks: o.Tasks,
	})
	res = r
	if err != nil {
		return err
	}
	if o.Overwrite != nil {
		if err := inf.Overwrite(o.Overwrite); err != nil {
			return exitErr(ExitUsage, "--overwrite must name inferred fields: "+fmt.Sprint(inf.Schema.Names()), err)
		}
	}
	sum.Sampled = int64(inf.SampleCount)
	sum.Schema = inf.Schema.Spec()
	sum.LowConfidence = inf.LowConfidenceFields(inf.Threshold)
	b, err := json.MarshalIndent(inf, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the inference: %w", err)
	}
	b = append(b, '\n')
	if o.Output == "" {
		if _, err := a.Stdout.Write(b); err != nil {
			return &codec.FileError{Path: "-", RowGroup: -1, Err: err}
		}
	} else if err := writeFileAtomic(o.Output, b); err != nil {
		return exitErr(ExitInput, "check that the output's directory exists and is writable, then run infer again", err)
	}
	if !g.Quiet {
		fmt.Fprintf(a.Stderr, "inferred from %s matching %q:\n", plural(int64(inf.SampleCount), "hash"), o.Pattern)
		writeInference(a.Stderr, inf)
		if o.Output != "" {
			fmt.Fprintf(a.Stderr, "schema written to %s; use it with: redstage scan %s --schema @%s -o OUT\n", o.Output, shellQuote(o.Pattern), o.Output)
		}
	}
	return nil
}

// writeInference prints the inferred fields and warnings for people.
func writeInference(w io.Writer, inf *codec.Inference) {
	fmt.Fprintf(w, "  %-20s %-9s %10s %8s %8s\n", "FIELD", "TYPE", "CONFIDENCE", "NULLS", "INVALID")
	for _, f := range inf.Fields {
		typ := f.Type.String()
		if f.InferredType != 0 {
			typ += "*"
		}
		fmt.Fprintf(w, "  %-20s %-9s %9.1f%% %7.1f%% %8d\n", codec.EscapeInvalid(f.Name), typ, f.Confidence*100, f.NullRatio*100, f.Invalid)
	}
	for _, line := range inferenceWarnings(inf) {
		fmt.Fprintf(w, "  %s\n", line)
	}
	if len(inf.Skipped) > 0 {
		fmt.Fprintf(w, "  note: field names that cannot be columns were skipped: %v\n", inf.Skipped)
	}
}

// inferenceWarnings lists what a user should know about an inference:
// fields below the threshold, fields whose invalid values will become null,
// all-null fields, and fields missing from many hashes.
func inferenceWarnings(inf *codec.Inference) []string {
	var out []string
	for _, f := range inf.Fields {
		nonNull := f.Samples - f.Nulls
		switch {
		case f.AllNull:
			out = append(out, fmt.Sprintf("warning: %s: no value in %d sampled hashes; typed utf8 as a guess (pin it with --overwrite %s:TYPE)", f.Name, f.Samples, f.Name))
		case f.Confidence < inf.Threshold:
			out = append(out, fmt.Sprintf("warning: %s: low confidence %.1f%% < threshold %.0f%%: only %d of %d values parse as %s; the rest will be null when scanned (pin a type with --overwrite %s:utf8)",
				f.Name, f.Confidence*100, inf.Threshold*100, f.Valid, nonNull, f.Type, f.Name))
		case f.Invalid > 0:
			out = append(out, fmt.Sprintf("warning: %s: %d of %d values (%.1f%%) do not parse as %s and will be null when scanned (or fail with --strict); keep them with --overwrite %s:utf8",
				f.Name, f.Invalid, nonNull, 100*float64(f.Invalid)/float64(max(nonNull, 1)), f.Type, f.Name))
		}
		if !f.AllNull && f.Nulls > 0 {
			out = append(out, fmt.Sprintf("note: %s: missing or empty in %d of %d hashes (%.1f%%)", f.Name, f.Nulls, f.Samples, f.NullRatio*100))
		}
	}
	return out
}
