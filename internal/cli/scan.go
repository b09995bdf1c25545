package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/redstage/redstage/cluster"
	"github.com/redstage/redstage/codec"
)

// ScanOptions are the options of redstage scan.
type ScanOptions struct {
	Global    *GlobalOptions
	Pattern   string
	Delimiter rune // CSV output separator: tab for --format tsv (0 = by extension)
	// SchemaArg is --schema as given; Schema is set from a spec at once and
	// from an @file when the command runs (so parsing reads no files).
	SchemaArg  string
	SchemaFile string // the @file path, if any
	Schema     *codec.Schema
	Fields     []string
	IncludeTTL bool
	RowIndex   bool
	NoKey      bool
	Strict     bool
	Sort       bool
	BatchSize  int
	Tasks      int
	Count      int
	FetchAll   bool
	// Force writes a binary format (-o -) to stdout even when it is a
	// terminal.
	Force  bool
	Output string       // path or "-"
	Format codec.Format // resolved
	// RowGroupRows is the Parquet row group size (memory of the writer
	// grows with it).
	RowGroupRows int
	Meta         codec.MetaColumns
	// Inference when no --schema is given.
	Sample    int
	Threshold float64
}

func (a *App) scanCommand(g *GlobalOptions) *cobra.Command {
	o := &ScanOptions{Global: g}
	var fields, format, keyEnc string
	cmd := &cobra.Command{
		Use:   "scan PATTERN -o FILE|- [flags]",
		Short: "Read the hashes matching PATTERN into a typed Parquet, CSV, NDJSON or Arrow file",
		Long: `Scan reads every hash whose key matches the glob PATTERN (quote it in the shell)
into typed columns and writes them to FILE, or to stdout as an Arrow IPC stream
with -o -. The columns are: _key (unless --no-key), the schema's fields, _ttl
(--include-ttl, seconds to expiry, -1 = none) and _index (--row-index).

Without --schema, a schema is inferred first from a sample of the hashes and
printed to stderr with its confidence warnings. A value that does not parse
under its field's type becomes null and is counted per field in the summary;
with --strict it fails the job instead, naming the key and field. A utf8 value
that is not valid UTF-8 is such a value (null, counted).

Output is always valid UTF-8 for its readers. A key that is not valid UTF-8 is
written escaped (a backslash doubled, each invalid byte as \xHH) and counted as
"non-UTF-8 keys"; --key-encoding escape escapes every key, so that each one
decodes back to its exact bytes. A field name that is not valid UTF-8 becomes
an escaped column name (and schema files keep it, escaped, with
"name_escaped": true).

Each key appears exactly once even though Redis SCAN may return it twice or a
worker dies mid-scan. The output file is written under a temporary name and
renamed when complete: a failed scan leaves no partial file.`,
		Example: `  redstage scan 'customer:*' --schema @customers.schema.json -o customers.parquet
  redstage scan 'user:*' --schema 'user_id:utf8,age:int64,signup:date' -o users.csv
  redstage scan 'event:*' --fields event_type,ts --include-ttl --sort -o - | some-arrow-reader`,
		Args: exactArgs(1, "a PATTERN (e.g. 'user:*')"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Pattern = args[0]
			o.Fields = splitList(fields)
			if err := o.finish(format, keyEnc); err != nil {
				return err
			}
			if o.Output == "-" && a.StdoutTTY && !o.Force && binaryFormat(o.Format) {
				return usageErrorf("pipe it into a program (| python3 ...), redirect it (> out.arrows), choose -o FILE or --format csv, or pass --force",
					"refusing to write a binary %s stream to a terminal", o.Format)
			}
			if a.record(cmd, o) {
				return nil
			}
			return a.runScan(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Output, "output", "o", "", "output FILE (format from its extension), or - for an Arrow IPC stream on stdout (required)")
	f.StringVar(&format, "format", "auto", "output format: auto (from the extension; arrows for -), parquet, csv, ndjson, arrow, arrows")
	f.IntVar(&o.RowGroupRows, "row-group-rows", defaultRowGroupRows, "Parquet rows per row group (the writer buffers one row group in memory)")
	f.StringVar(&o.SchemaArg, "schema", "", "schema as name:type,... or @file (JSON, e.g. written by infer -o); default: infer one first")
	f.StringVar(&fields, "fields", "", "only these fields, comma-separated (a subset of the schema)")
	f.BoolVar(&o.IncludeTTL, "include-ttl", false, "add a _ttl column: seconds to expiry (-1 = none)")
	f.BoolVar(&o.RowIndex, "row-index", false, "add a _index column numbering the output rows from 0")
	f.BoolVar(&o.NoKey, "no-key", false, "leave out the _key column")
	f.StringVar(&keyEnc, "key-encoding", "text", `_key form: text (keys as they are; a key that is not UTF-8 escaped, counted) or escape (every key escaped: \\ and \xHH, exactly reversible)`)
	f.BoolVar(&o.Strict, "strict", false, "fail on a value that does not parse under its type (default: null, counted)")
	f.BoolVar(&o.Sort, "sort", false, "write rows in key order (spills to --temp-dir; needs the key column)")
	f.IntVar(&o.BatchSize, "batch-size", 0, "rows per record batch from the workers (default: shard's)")
	f.IntVar(&o.Tasks, "tasks", 0, "partitions of the keyspace, i.e. tasks (default: the coordinator's)")
	f.IntVar(&o.Count, "count", 0, "SCAN COUNT hint (default: shard's)")
	f.BoolVar(&o.Force, "force", false, "with -o -: write a binary format (arrows, arrow, parquet) to stdout even when it is a terminal")
	f.BoolVar(&o.FetchAll, "fetch-all", false, "read hashes with HGETALL instead of HMGET of the schema's fields")
	f.IntVar(&o.Sample, "sample", cluster.DefaultInferSample, "without --schema: hashes sampled for inference")
	f.Float64Var(&o.Threshold, "threshold", cluster.DefaultInferThreshold, "without --schema: confidence threshold of inference (0-1)")
	return cmd
}

func (o *ScanOptions) finish(format, keyEnc string) error {
	hint := "see: redstage scan --help"
	if o.Output == "" {
		return usageErrorf("add -o out.parquet (or -o - for an Arrow IPC stream on stdout)", "scan needs an output: -o FILE or -o -")
	}
	if err := o.resolveFormat(format); err != nil {
		return err
	}
	if o.BatchSize < 0 || o.Tasks < 0 || o.Count < 0 || o.Sample < 0 || o.RowGroupRows < 1 {
		return usageErrorf(hint, "--batch-size, --tasks, --count and --sample must not be negative, --row-group-rows must be positive")
	}
	if o.Threshold < 0 || o.Threshold > 1 {
		return usageErrorf(hint, "--threshold %g: want a value between 0 and 1", o.Threshold)
	}
	if o.Sort && o.NoKey {
		return usageErrorf("drop --no-key or --sort", "--sort orders rows by key, so it needs the key column: %w", cluster.ErrSortNeedsKey)
	}
	o.Meta = codec.DefaultMetaColumns()
	enc, err := codec.ParseKeyEncoding(keyEnc)
	if err != nil {
		return usageErrorf("use --key-encoding text or --key-encoding escape", "--key-encoding %q: want text or escape", keyEnc)
	}
	o.Meta.KeyEncoding = enc
	if o.NoKey {
		o.Meta.Key = ""
	}
	if !o.IncludeTTL {
		o.Meta.TTL = ""
	}
	if !o.RowIndex {
		o.Meta.Index = ""
	}
	if err := checkPattern(o.Global.Redis, o.Pattern); err != nil {
		return err
	}
	switch {
	case strings.HasPrefix(o.SchemaArg, "@"):
		o.SchemaFile = strings.TrimPrefix(o.SchemaArg, "@")
		if o.SchemaFile == "" {
			return usageErrorf("e.g. --schema @events.schema.json", "--schema @: no file name after @")
		}
	case strings.TrimSpace(o.SchemaArg) != "":
		s, err := codec.ParseSchemaSpec(o.SchemaArg)
		if err != nil {
			return exitErr(ExitUsage, "a schema is name:type,... with types utf8, int64, float64, bool, date, datetime", err)
		}
		if o.Schema, err = o.project(s); err != nil {
			return err
		}
	}
	return nil
}

func (o *ScanOptions) resolveFormat(format string) error {
	if format != "" && format != "auto" {
		f, err := codec.ParseFormat(format)
		if err != nil {
			return usageErrorf("see: redstage scan --help", "--format: %w", err)
		}
		o.Format = f
		o.Delimiter = codec.FormatDelimiter(format)
		return nil
	}
	if o.Output == "-" {
		o.Format = codec.FormatArrows
		return nil
	}
	f, err := codec.FormatFromPath(o.Output)
	if err != nil {
		return usageErrorf("pass --format parquet|csv|ndjson|arrow|arrows", "%w", err)
	}
	o.Format = f
	return nil
}

// binaryFormat reports formats that are not text (refused on a terminal
// without --force).
func binaryFormat(f codec.Format) bool {
	return f != codec.FormatCSV && f != codec.FormatNDJSON
}

// project applies --fields to a schema.
func (o *ScanOptions) project(s *codec.Schema) (*codec.Schema, error) {
	if len(o.Fields) == 0 {
		return s, nil
	}
	p, err := s.Project(o.Fields)
	if err != nil {
		return nil, exitErr(ExitUsage, "--fields must name fields of the schema: "+strings.Join(s.Names(), ", "), err)
	}
	return p, nil
}

// checkPattern validates a pattern and the Redis URL as the cluster would.
func checkPattern(redis, pattern string) error {
	spec := cluster.JobSpec{Kind: cluster.KindDelete, Redis: redis, Delete: &cluster.DeleteSpec{Pattern: pattern, DryRun: true}}
	if err := spec.Validate(); err != nil {
		return exitErr(ExitUsage, "quote the pattern in the shell, e.g. 'user:*'", err)
	}
	return nil
}

// spec returns the scan job spec.
func (o *ScanOptions) spec() cluster.JobSpec {
	spec := cluster.JobSpec{
		Kind: cluster.KindScan, Redis: o.Global.Redis, Tasks: o.Tasks,
		Scan: &cluster.ScanSpec{
			Pattern: o.Pattern, Schema: o.Schema, Meta: o.Meta, Strict: o.Strict,
			BatchSize: o.BatchSize, Count: o.Count, FetchAll: o.FetchAll,
		},
	}
	spec.Normalize()
	return spec
}

func (a *App) runScan(ctx context.Context, o *ScanOptions) (err error) {
	g := o.Global
	start := time.Now()
	log := a.logger(g)
	sum := newSummary("scan", g)
	sum.Pattern, sum.Output, sum.Format = o.Pattern, o.Output, string(o.Format)
	sum.TasksRequested = o.Tasks
	var res *cluster.JobResult
	defer func() {
		sum.fromResult(res)
		sum.finish(start, err)
		a.emit(g, sum, o.Output == "-")
	}()

	if err := checkOutputDir(o.Output); err != nil {
		return err
	}
	if err := checkTempDir(g.TempDir, o.Sort); err != nil {
		return err
	}
	if o.SchemaFile != "" {
		s, err := codec.ReadSchemaFile(o.SchemaFile)
		if err != nil {
			return exitErr(ExitUsage, "give a schema file written by redstage infer -o, or a spec name:type,...", err)
		}
		if o.Schema, err = o.project(s); err != nil {
			return err
		}
	}
	rt, err := a.openRuntime(ctx, g, log)
	if err != nil {
		return err
	}
	defer rt.Close()

	if o.Schema == nil {
		inf, ires, err := a.infer(ctx, rt, log, inferRequest{
			Redis: g.Redis, Pattern: o.Pattern, Sample: o.Sample, Threshold: o.Threshold, Tasks: o.Tasks,
		})
		if err != nil {
			sum.Job = ""
			if ires != nil {
				sum.Job = ires.ID
			}
			return err
		}
		if !g.Quiet {
			fmt.Fprintf(a.Stderr, "no --schema given: inferred one from %s matching %q\n", plural(int64(inf.SampleCount), "hash"), o.Pattern)
			writeInference(a.Stderr, inf)
			fmt.Fprintf(a.Stderr, "scanning with --schema '%s' (save it with: redstage infer %s -o FILE)\n", inf.Schema.Spec(), shellQuote(o.Pattern))
		}
		if o.Schema, err = o.project(inf.Schema); err != nil {
			return err
		}
	}
	sum.Schema = o.Schema.Spec()
	spec := o.spec()
	if err := spec.Validate(); err != nil {
		hint := "see: redstage scan --help"
		if errors.Is(err, codec.ErrColumnCollision) {
			_, hint = Classify(err)
		}
		return exitErr(ExitUsage, hint, err)
	}
	job, err := rt.client.Submit(ctx, spec)
	if err != nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return submitErr(g, err)
	}
	defer job.Close()
	sum.Job = job.ID()
	log.Debug("scan job submitted", "job", job.ID(), "pattern", o.Pattern)

	pv := a.newProgress(g, log, "scan", -1)
	pctx, stopProgress := context.WithCancel(context.Background())
	pdone := make(chan struct{})
	go func() {
		defer close(pdone)
		pv.follow(pctx, job.Progress())
	}()
	defer func() {
		stopProgress()
		<-pdone
	}()

	bytes, err := a.copyInterruptible(ctx, job, o, log)
	sum.OutputBytes = bytes
	if err != nil {
		if errors.Is(err, errInterrupted) {
			return err
		}
		var je *cluster.JobError
		if isBrokenPipe(err) {
			return abandonScan(job, bytes, log)
		}
		if !errors.As(err, &je) {
			// The output failed (disk full, ...): stop the job too.
			cancelJob(job, log)
			return err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	res, werr := job.Wait(wctx)
	if ctx.Err() != nil {
		cancelJob(job, log)
		return errInterrupted
	}
	if err != nil {
		return err
	}
	return werr
}

// abandonScan cancels a scan whose output pipe was closed by its reader
// (scan -o - | head), recording why; its result frames are purged even
// if all its tasks had succeeded.
func abandonScan(job *cluster.Job, written int64, log hclog.Logger) error {
	reason := fmt.Sprintf("output closed by its reader (broken pipe) after %s", humanBytes(written))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := job.Abandon(ctx, reason); err != nil && !errors.Is(err, cluster.ErrJobFinished) {
		log.Warn("cancelling the job after its output was closed", "job", job.ID(), "error", err)
	}
	return exitErr(ExitBrokenPipe, "", fmt.Errorf("scan output closed by its reader (broken pipe) after %s: job %s cancelled, its results discarded; write to a file (-o FILE) to keep every row: %w",
		humanBytes(written), job.ID(), syscall.EPIPE))
}

// defaultRowGroupRows is the scan's Parquet row group size. Measured on 2M
// rows of 10 fields: 64k-row groups make the file 18% larger than 256k-row
// groups and, under the CLI's soft memory limit, do not lower its peak RSS.
const defaultRowGroupRows = codec.DefaultRowGroupRows

// cancelGrace bounds how long an interrupted scan waits for the results
// reader to stop after the job was cancelled.
const cancelGrace = 15 * time.Second

// copyInterruptible copies the results (copyResults) and, when ctx is
// cancelled by a signal, cancels the job and returns errInterrupted as soon
// as the copy stops (or after cancelGrace), with the output removed.
//
// The results are read under their own context, not ctx: cancelling the
// job ends the reader with the job's error, whereas cancelling the
// reader's context can leave ResultReader.Next waiting forever (a race in
// package cluster's frame source, see the CLI helper's report).
func (a *App) copyInterruptible(ctx context.Context, job *cluster.Job, o *ScanOptions, log hclog.Logger) (int64, error) {
	rctx, rcancel := context.WithCancel(context.Background())
	defer rcancel()
	type copied struct {
		bytes int64
		err   error
	}
	var outMu sync.Mutex
	var out *outputFile
	done := make(chan copied, 1)
	go func() {
		n, err := a.copyResults(rctx, job, o, func(f *outputFile) {
			outMu.Lock()
			out = f
			outMu.Unlock()
		})
		done <- copied{n, err}
	}()
	select {
	case c := <-done:
		return c.bytes, c.err
	case <-ctx.Done():
	}
	cancelJob(job, log)
	select {
	case <-done:
	case <-time.After(cancelGrace):
		log.Warn("the results reader did not stop after the job was cancelled; exiting anyway", "job", job.ID())
		outMu.Lock()
		if out != nil {
			out.Abort()
		}
		outMu.Unlock()
	}
	return 0, errInterrupted
}

// copyResults streams the job's merged results into the output, which is
// committed only when every batch was written. opened is told the output
// once it exists.
func (a *App) copyResults(ctx context.Context, job *cluster.Job, o *ScanOptions, opened func(*outputFile)) (int64, error) {
	rr, err := job.Results(ctx, cluster.ResultOptions{Sort: o.Sort})
	if err != nil {
		return 0, err
	}
	defer rr.Close()
	out, err := createOutput(o.Output, codec.WriteOptions{Format: o.Format, RowGroupRows: o.RowGroupRows, Delimiter: o.Delimiter}, rr.Schema(), a.Stdout)
	if err != nil {
		return 0, err
	}
	opened(out)
	defer out.Abort()
	for {
		rec, err := rr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out.Bytes(), err
		}
		err = out.Write(rec)
		rec.Release()
		if err != nil {
			return out.Bytes(), err
		}
	}
	if err := out.Commit(); err != nil {
		return out.Bytes(), err
	}
	return out.Bytes(), nil
}

// shellQuote quotes s for a POSIX shell when needed.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == ':' || r == '.' || r == '/' || r == '@' || r == ',' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
