package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/redstage/redstage/cluster"
	"github.com/redstage/redstage/codec"
)

// LoadOptions are the options of redstage load.
type LoadOptions struct {
	Global     *GlobalOptions
	Files      []string
	KeyColumns []string
	Prefix     string // resolved (default: the first file's base name and ":")
	TTL        time.Duration
	TTLColumn  string
	IfExists   string       // replace, append, skip
	Format     codec.Format // "" = from each file's extension
	Report     string       // per-key failures as JSON
	// SchemaArg gives the column types of CSV/NDJSON input (instead of
	// inference) or selects columns of Parquet/Arrow input.
	SchemaArg   string
	Delimiter   rune
	SampleRows  int    // CSV/NDJSON rows sampled for inference (0 = codec default)
	StripPrefix string // removed from key values before Prefix is put in front
	NoHeader    bool
	Precheck    bool // read CSV/NDJSON input once before loading (default true)
	BatchRows   int  // rows per batch read from the files (0 = codec default)
	ChunkRows   int  // rows per uploaded chunk, i.e. per task (0 = cluster default)
	Pipeline    int
	MaxFailures int
	Spec        cluster.JobSpec
}

func (a *App) loadCommand(g *GlobalOptions) *cobra.Command {
	o := &LoadOptions{Global: g}
	var keyCols, ifExists, format, delimiter string
	var ttlSeconds int64
	var noPrecheck bool
	cmd := &cobra.Command{
		Use:   "load FILE... [flags]",
		Short: "Load rows of CSV, Parquet, NDJSON or Arrow files into Redis hashes",
		Long: `Load writes every row of the input files as one Redis hash. The key is the
prefix followed by the key column value(s) (joined with ":"), or by the global
row index when no key column is given. Null cells are not written as fields.

CSV and NDJSON values are written exactly as the file has them ("007" stays
"007", 1e3 stays "1e3"); --schema gives column types instead, and then values
are parsed and written in the normal form of their type. Scan's metadata
columns (_key, _ttl, _index) are never written as fields: use
--key-column _key --strip-prefix OLD: and --ttl-column _ttl to reload a scan.
Files ending in .gz or .zst are decompressed.

The files are read in chunks while the job runs, so a file never sits whole in
memory; CSV and NDJSON files are first read once to check them (malformed lines,
values that do not parse under the column type), so a bad file writes nothing.
Use "-" to read stdin (with --format csv, ndjson or arrows).`,
		Example: `  redstage load customers.csv --key-column customer_id --prefix customer:
  redstage load orders.parquet --key-column order_id --ttl 86400 --if-exists skip
  redstage load part-*.parquet --prefix events: --report failures.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("usage: "+cmd.UseLine(), "load needs at least one FILE")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Files = args
			o.Precheck = !noPrecheck
			if err := o.finish(cmd, keyCols, ifExists, format, delimiter, ttlSeconds); err != nil {
				return err
			}
			if a.record(cmd, o) {
				return nil
			}
			return a.runLoad(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&keyCols, "key-column", "k", "", "column(s) whose values make the key, comma-separated (default: the row index)")
	f.StringVar(&o.Prefix, "prefix", "", "key prefix (default: the first file's base name and \":\", e.g. customers:)")
	f.Int64Var(&ttlSeconds, "ttl", 0, "expire every written key after SECONDS")
	f.StringVar(&o.TTLColumn, "ttl-column", "", "column holding each row's TTL: seconds, a duration (90s, 1h30m) or an expiry datetime; -1 or empty = none (not written as a field)")
	f.StringVar(&ifExists, "if-exists", "replace", "when a key exists: replace (delete, then write), append (overwrite the given fields), skip (leave it, count it)")
	f.StringVar(&format, "format", "auto", "input format: auto (from the extension), csv, parquet, ndjson, arrow, arrows")
	f.StringVar(&o.Report, "report", "", "write the load's counts and per-key failures as JSON to FILE")
	f.StringVar(&o.SchemaArg, "schema", "", "CSV/NDJSON column types (name:type,... or @file) instead of inference; for Parquet/Arrow: the columns to load")
	f.StringVar(&delimiter, "delimiter", "", "CSV field separator (default , or tab for .tsv and --format tsv)")
	f.IntVar(&o.SampleRows, "sample-rows", 0, "CSV/NDJSON rows read ahead to infer column types (default 10000)")
	f.StringVar(&o.StripPrefix, "strip-prefix", "", "remove this prefix from each key column value before --prefix is put in front (e.g. customer: when loading scan's _key)")
	f.BoolVar(&o.NoHeader, "no-header", false, "CSV: the first line is data (columns are column_1, column_2, ...)")
	f.BoolVar(&noPrecheck, "no-precheck", false, "do not read CSV/NDJSON input once before loading (faster; a bad line then fails the job midway)")
	f.IntVar(&o.BatchRows, "batch-rows", 0, "rows per batch read from the files (default 65536)")
	f.IntVar(&o.ChunkRows, "chunk-rows", 0, "rows per uploaded chunk, i.e. per task (default 65536)")
	f.IntVar(&o.Pipeline, "pipeline", 0, "Redis commands per pipeline (default: shard's)")
	f.IntVar(&o.MaxFailures, "max-failures", 0, "failed keys listed per task in the result and --report (default 100; all are counted)")
	return cmd
}

// finish checks and completes the options from the flags.
func (o *LoadOptions) finish(cmd *cobra.Command, keyCols, ifExists, format, delimiter string, ttlSeconds int64) error {
	g := o.Global
	hint := "see: redstage load --help"
	o.KeyColumns = splitList(keyCols)
	switch ifExists {
	case "replace", "append", "skip":
		o.IfExists = ifExists
	default:
		return usageErrorf(hint, "--if-exists %q: want replace, append or skip", ifExists)
	}
	if ttlSeconds < 0 {
		return usageErrorf(hint, "--ttl %d: must not be negative", ttlSeconds)
	}
	o.TTL = time.Duration(ttlSeconds) * time.Second
	if o.TTL > 0 && o.TTLColumn != "" {
		return usageErrorf(hint, "give either --ttl or --ttl-column, not both")
	}
	if format != "" && format != "auto" {
		f, err := codec.ParseFormat(format)
		if err != nil {
			return usageErrorf(hint, "--format: %w", err)
		}
		o.Format = f
		o.Delimiter = codec.FormatDelimiter(format)
	}
	if delimiter != "" {
		r := []rune(delimiter)
		if delimiter == `\t` || delimiter == "tab" {
			r = []rune{'\t'}
		}
		if len(r) != 1 {
			return usageErrorf(hint, "--delimiter %q: want one character (or \\t)", delimiter)
		}
		o.Delimiter = r[0]
	}
	if o.BatchRows < 0 || o.ChunkRows < 0 || o.Pipeline < 0 || o.MaxFailures < 0 || o.SampleRows < 0 {
		return usageErrorf(hint, "--batch-rows, --chunk-rows, --pipeline, --max-failures and --sample-rows must not be negative")
	}
	if o.StripPrefix != "" && len(o.KeyColumns) == 0 {
		return usageErrorf("e.g. --key-column _key --strip-prefix customer:", "--strip-prefix needs --key-column")
	}
	stdin := 0
	for _, f := range o.Files {
		if f == "-" {
			stdin++
			if o.Format == "" || !o.Format.Streamable() {
				return usageErrorf("e.g. --format csv", "reading stdin (-) needs --format csv, ndjson or arrows")
			}
		} else if o.Format == "" {
			if _, err := codec.FormatFromPath(f); err != nil {
				return usageErrorf("pass --format", "%w", err)
			}
		}
		if o.Report != "" && filepath.Clean(f) == filepath.Clean(o.Report) {
			return usageErrorf(hint, "--report %s would overwrite an input file", o.Report)
		}
	}
	if stdin > 1 {
		return usageErrorf(hint, "stdin (-) can be read only once")
	}
	if !cmd.Flags().Changed("prefix") {
		o.Prefix = defaultPrefix(o.Files[0])
	}
	o.Spec = cluster.JobSpec{
		Kind:  cluster.KindLoad,
		Redis: g.Redis,
		Load: &cluster.LoadSpec{
			Prefix: o.Prefix, KeyColumns: o.KeyColumns, Mode: o.IfExists, TTL: o.TTL, TTLColumn: o.TTLColumn,
			StripPrefix: o.StripPrefix, Exclude: metaColumnNames(),
			Pipeline: o.Pipeline, MaxFailures: o.MaxFailures,
		},
	}
	o.Spec.Normalize()
	if err := o.Spec.Validate(); err != nil {
		return exitErr(ExitUsage, hint, err)
	}
	return nil
}

// defaultPrefix is the file's base name without extension and ":".
func defaultPrefix(path string) string {
	if path == "-" {
		return "stdin:"
	}
	base := filepath.Base(path)
	for ext := filepath.Ext(base); ext != "" && ext != base; ext = filepath.Ext(base) {
		base = strings.TrimSuffix(base, ext)
	}
	return base + ":"
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// readOptions returns the codec read options of one input. Without a
// schema, CSV and NDJSON values keep their text (codec.ReadOptions.Text).
func (o *LoadOptions) readOptions(schema *codec.Schema) codec.ReadOptions {
	return codec.ReadOptions{
		Format: o.Format, Schema: schema, BatchSize: o.BatchRows, Delimiter: o.Delimiter, NoHeader: o.NoHeader,
		SampleRows: o.SampleRows, Text: schema == nil,
	}
}

// loadInput is one opened input with its row count so far.
type loadInput struct {
	path   string
	format codec.Format
	reader codec.RecordReader
	rows   atomic.Int64 // rows handed to the cluster client
	total  int64        // known row count (precheck, Parquet metadata); -1 = unknown
	// inferred is the column types inference chose (CSV/NDJSON without
	// --schema; the values themselves are written as text); ignored are
	// metadata columns not written.
	inferred string
	ignored  []string
}

// countingSource counts the rows the cluster client reads from an input.
type countingSource struct{ in *loadInput }

func (c countingSource) Schema() *arrow.Schema { return c.in.reader.Schema() }
func (c countingSource) Close() error          { return c.in.reader.Close() }
func (c countingSource) Next() (arrow.RecordBatch, error) {
	rec, err := c.in.reader.Next()
	if rec != nil {
		c.in.rows.Add(rec.NumRows())
	}
	return rec, err
}

// openInputs opens every input and checks the key and TTL columns against
// its columns, so a missing column is reported before anything runs.
func (o *LoadOptions) openInputs(schema *codec.Schema) ([]*loadInput, error) {
	var ins []*loadInput
	closeAll := func() {
		for _, in := range ins {
			in.reader.Close()
		}
	}
	for _, path := range o.Files {
		ro := o.readOptions(schema)
		r, err := codec.OpenReader(path, ro)
		if err != nil {
			closeAll()
			return nil, exitErr(ExitInput, "check the file (or pass --format); nothing was written", err)
		}
		in := &loadInput{path: path, reader: r, total: -1, format: o.Format}
		if in.format == "" {
			in.format, _ = codec.FormatFromPath(path)
		}
		ins = append(ins, in)
		if inf := codec.InferredSchema(r); inf != nil {
			in.inferred = inf.String()
		}
		err = o.checkDelimiter(path, in.format, r.Schema())
		if err == nil {
			err = o.checkColumns(path, r.Schema())
		}
		if err == nil {
			in.ignored, err = o.checkTypes(path, r.Schema())
		}
		if err != nil {
			closeAll()
			return nil, err
		}
	}
	return ins, nil
}

// checkColumns reports key and TTL columns the input lacks.
func (o *LoadOptions) checkColumns(path string, s *arrow.Schema) error {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	want := append([]string(nil), o.KeyColumns...)
	what := "key column"
	if o.TTLColumn != "" {
		want = append(want, o.TTLColumn)
	}
	for i, c := range want {
		if i == len(o.KeyColumns) {
			what = "TTL column"
		}
		if len(s.FieldIndices(c)) == 0 {
			return exitErr(ExitInput,
				fmt.Sprintf("name a column the file has (--key-column, --ttl-column); column names are case-sensitive"),
				fmt.Errorf("%s: %s %q not found; the columns are: %s; nothing was written", displayName(path), what, c, strings.Join(clipStrings(names, 20), ", ")))
		}
	}
	return nil
}

func displayName(path string) string {
	if path == "-" {
		return "stdin"
	}
	return path
}

func clipStrings(xs []string, n int) []string {
	if len(xs) <= n {
		return xs
	}
	return append(xs[:n:n], fmt.Sprintf("… (%d more)", len(xs)-n))
}

// precheck reads a CSV or NDJSON input once, end to end, so that a
// malformed line or an unparsable value is reported before anything is
// written. It returns the row count.
func (o *LoadOptions) precheck(ctx context.Context, path string, schema *codec.Schema) (int64, error) {
	r, err := codec.OpenReader(path, o.readOptions(schema))
	if err != nil {
		return 0, exitErr(ExitInput, "fix the file; nothing was written", err)
	}
	defer r.Close()
	var rows int64
	for {
		if err := ctx.Err(); err != nil {
			return rows, errInterrupted
		}
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return rows, exitErr(ExitInput, "fix the line named above (or give the column types with --schema, or sample more rows with --sample-rows N); nothing was written", err)
		}
		err = o.checkTTLValues(path, rec, rows)
		rows += rec.NumRows()
		rec.Release()
		if err != nil {
			return rows, err
		}
	}
}

// knownRows returns the row count of a Parquet file from its metadata.
func knownRows(path string, f codec.Format) int64 {
	if f != codec.FormatParquet || path == "-" {
		return -1
	}
	n, err := parquetRows(path)
	if err != nil {
		return -1
	}
	return n
}

func (a *App) runLoad(ctx context.Context, o *LoadOptions) (err error) {
	g := o.Global
	start := time.Now()
	log := a.logger(g)
	sum := newSummary("load", g)
	sum.Report = o.Report
	var ins []*loadInput
	var res *cluster.JobResult
	// The report is written at the end, whatever happens, unless its path
	// is unusable: that is checked first, before anything runs.
	reportOK := false
	defer func() {
		sum.Inputs = inputSummaries(ins)
		sum.fromResult(res)
		if res == nil && sum.Job != "" {
			sum.CountsUnknown = true
			sum.CountsNote = "the job's counts could not be collected from the cluster: check Redis (or redstage status " + sum.Job + ")"
		}
		if err == nil {
			err = loadOutcome(res, partialHint(o.Report))
		}
		sum.finish(start, err)
		if o.Report != "" && reportOK {
			if rerr := writeLoadReport(o.Report, sum, res); rerr != nil {
				log.Error("writing the report", "path", o.Report, "error", rerr)
				if err == nil {
					err = exitErr(ExitInput, "check that the report's directory exists and is writable", rerr)
					sum.finish(start, err)
				}
			}
		}
		a.emit(g, sum, false)
	}()

	if err := checkOutputDir(o.Report); err != nil {
		return err
	}
	reportOK = true
	var schema *codec.Schema
	if o.SchemaArg != "" {
		if schema, err = codec.LoadSchemaArg(o.SchemaArg); err != nil {
			return exitErr(ExitUsage, "fix --schema: name:type,... or @file", err)
		}
	}
	if ins, err = o.openInputs(schema); err != nil {
		return err
	}
	defer func() { // the client closes the sources too; Close is idempotent
		for _, in := range ins {
			in.reader.Close()
		}
	}()
	var total int64
	for _, in := range ins {
		switch {
		case o.Precheck && in.path != "-" && (in.format == codec.FormatCSV || in.format == codec.FormatNDJSON):
			log.Debug("checking input", "path", in.path)
			if in.total, err = o.precheck(ctx, in.path, schema); err != nil {
				return err
			}
		default:
			in.total = knownRows(in.path, in.format)
		}
		if total >= 0 && in.total >= 0 {
			total += in.total
		} else {
			total = -1
		}
	}

	rt, err := a.openRuntime(ctx, g, log, func(c *cluster.ClientConfig) {
		if o.ChunkRows > 0 {
			c.ChunkRows = o.ChunkRows
		}
	})
	if err != nil {
		return err
	}
	defer rt.Close()
	inputs := make([]cluster.LoadInput, len(ins))
	for i, in := range ins {
		inputs[i] = cluster.LoadInput{Name: in.path, Source: countingSource{in}}
	}
	job, err := rt.client.Load(ctx, o.Spec, inputs)
	if err != nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return submitErr(g, err)
	}
	defer job.Close()
	sum.Job = job.ID()
	log.Debug("load job submitted", "job", job.ID(), "inputs", len(inputs))
	res, err = a.waitJob(ctx, g, log, job, "load", total)
	var je *cluster.JobError
	if errors.As(err, &je) && je.State != cluster.JobCancelled && je.Cause != nil && !strings.Contains(je.Error(), je.Cause.Error()) {
		err = fmt.Errorf("%w: %v", err, je.Cause) // name the file and line
	}
	return err
}

func inputSummaries(ins []*loadInput) []InputSummary {
	var out []InputSummary
	var first int64
	for _, in := range ins {
		rows := in.rows.Load()
		out = append(out, InputSummary{Path: in.path, Format: string(in.format), Rows: rows, FirstRow: first,
			InferredTypes: in.inferred, NotWritten: in.ignored})
		first += rows
	}
	return out
}

// loadOutcome is the error of a load job that ended without a job error:
// nil when every row was written or skipped, partial (exit 7) when some
// were, failed (exit 6) when rows failed and none was written or skipped.
func loadOutcome(res *cluster.JobResult, hint string) error {
	if res == nil || (res.Failed == 0 && res.Rejected == 0) {
		return nil
	}
	bad := res.Failed + res.Rejected
	if res.Written+res.Skipped == 0 {
		return exitErr(ExitJobFailed, strings.Replace(hint, "; rows that were written stay written", "", 1),
			fmt.Errorf("none of the %s could be written", plural(bad, "row")))
	}
	return exitErr(ExitPartial, hint, fmt.Errorf("%s of %s could not be written", groupDigits(bad), plural(res.Rows, "row")))
}

func partialHint(report string) string {
	if report == "" {
		return "rerun with --report FILE to list the failed keys and why; rows that were written stay written"
	}
	return "the failed keys and why are listed in " + report + "; rows that were written stay written"
}

// waitJob follows a job's progress and waits for its end. On interruption
// (ctx cancelled by a signal) it cancels the job on the cluster and returns
// errInterrupted.
func (a *App) waitJob(ctx context.Context, g *GlobalOptions, log hclog.Logger, job *cluster.Job, label string, total int64) (*cluster.JobResult, error) {
	pv := a.newProgress(g, log, label, total)
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
		cancelJob(job, log)
		return settleAfterCancel(job, log), errInterrupted
	}
	return res, err
}

// settleAfterCancel collects, after an interrupted job was cancelled, what
// its tasks wrote (those cut short included), so the summary and report
// say what is in Redis (bounded: the cluster may be gone).
func settleAfterCancel(job *cluster.Job, log hclog.Logger) *cluster.JobResult {
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := job.Settle(sctx)
	if res == nil {
		log.Warn("collecting the counts of the cancelled job", "job", job.ID(), "error", err)
	}
	return res
}

// cancelJob cancels a job on the cluster after an interruption.
func cancelJob(job *cluster.Job, log hclog.Logger) {
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := job.Cancel(cctx); err != nil && !errors.Is(err, cluster.ErrJobFinished) {
		log.Warn("cancelling the job on the cluster", "job", job.ID(), "error", err)
		return
	}
	log.Info("job cancelled", "job", job.ID())
}
