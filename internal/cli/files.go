package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/redstage/redstage/cluster"
	"github.com/redstage/redstage/codec"
)

// parquetRows returns the row count in a Parquet file's footer.
func parquetRows(path string) (int64, error) {
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	return r.NumRows(), nil
}

// checkOutputDir reports an output path that cannot be written — its
// directory is missing, is not a directory or is not writable, or the path
// is a directory — before any job runs, so that no work is done for an
// output that would fail at the end.
func checkOutputDir(path string) error {
	if path == "-" || path == "" {
		return nil
	}
	if err := outputPathProblem(path); err != nil {
		return exitErr(ExitInput, "create the directory first, or write elsewhere; nothing was run",
			&codec.FileError{Path: path, RowGroup: -1, Err: err})
	}
	return nil
}

// checkTempDir reports a --temp-dir that scan --sort could not spill into,
// before any job runs.
func checkTempDir(dir string, sort bool) error {
	if !sort || dir == "" {
		return nil
	}
	if err := outputPathProblem(filepath.Join(dir, "spill")); err != nil {
		return exitErr(ExitInput, "create the directory first, or pass another --temp-dir; nothing was run",
			fmt.Errorf("--temp-dir %s: %w", dir, err))
	}
	return nil
}

// outputPathProblem says why path cannot be written (nil if it can).
func outputPathProblem(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("output directory: %w", err)
	case !st.IsDir():
		return fmt.Errorf("output directory: %s is not a directory", dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%s is a directory, not a file", path)
	}
	probe, err := os.CreateTemp(dir, "."+filepath.Base(path)+".probe-*")
	if err != nil {
		return fmt.Errorf("output directory %s is not writable: %w", dir, pathErrCause(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// outputFile writes a result file atomically: into a temporary file in the
// target's directory, renamed over the target only when everything was
// written. A failed or interrupted command leaves no partial output.
// Its methods are safe for concurrent use (an interrupted command aborts it
// while the copy may still be writing).
type outputFile struct {
	mu   sync.Mutex
	path string // target; "-" = stdout
	tmp  *os.File
	w    codec.RecordWriter
	cw   *countingWriter
	done bool // committed or aborted
}

// createOutput opens the output for records of schema s in format f.
func createOutput(path string, opts codec.WriteOptions, s *arrow.Schema, stdout io.Writer) (*outputFile, error) {
	if opts.Delimiter == 0 && codec.IsTSV(path) {
		opts.Delimiter = '\t'
	}
	if path == "-" {
		cw := &countingWriter{w: stdout}
		w, err := codec.NewRecordWriter(cw, s, opts)
		if err != nil {
			return nil, &codec.FileError{Path: "-", RowGroup: -1, Err: err}
		}
		return &outputFile{path: path, w: w, cw: cw}, nil
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return nil, &codec.FileError{Path: path, RowGroup: -1, Err: fmt.Errorf("creating the output: %w", err)}
	}
	cw := &countingWriter{w: tmp}
	w, err := codec.NewRecordWriter(cw, s, opts)
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, &codec.FileError{Path: path, RowGroup: -1, Err: err}
	}
	return &outputFile{path: path, tmp: tmp, w: w, cw: cw}, nil
}

// Write appends a batch.
func (o *outputFile) Write(rec arrow.RecordBatch) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done {
		return &codec.FileError{Path: o.path, RowGroup: -1, Err: errors.New("output aborted")}
	}
	if err := o.w.Write(rec); err != nil {
		if o.cw.broken && !errors.Is(err, syscall.EPIPE) {
			err = fmt.Errorf("%w (%v)", syscall.EPIPE, err) // the writer may not wrap its cause
		}
		return &codec.FileError{Path: o.path, RowGroup: -1, Err: err}
	}
	return nil
}

// Bytes returns the bytes written so far.
func (o *outputFile) Bytes() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.cw.n
}

// Commit finishes the file and moves it into place.
func (o *outputFile) Commit() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done {
		return &codec.FileError{Path: o.path, RowGroup: -1, Err: errors.New("output aborted")}
	}
	if err := o.w.Close(); err != nil {
		o.abort()
		return &codec.FileError{Path: o.path, RowGroup: -1, Err: err}
	}
	o.done = true
	if o.tmp == nil {
		return nil
	}
	if err := o.tmp.Sync(); err != nil {
		o.abort()
		return &codec.FileError{Path: o.path, RowGroup: -1, Err: err}
	}
	if err := o.tmp.Close(); err != nil {
		o.abort()
		return &codec.FileError{Path: o.path, RowGroup: -1, Err: err}
	}
	if err := os.Chmod(o.tmp.Name(), outputMode(o.path)); err != nil {
		o.abort()
		return &codec.FileError{Path: o.path, RowGroup: -1, Err: err}
	}
	if err := os.Rename(o.tmp.Name(), o.path); err != nil {
		o.abort()
		return &codec.FileError{Path: o.path, RowGroup: -1, Err: err}
	}
	o.tmp = nil
	return nil
}

// Abort removes the temporary file. Idempotent; a no-op after Commit.
func (o *outputFile) Abort() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.abort()
}

func (o *outputFile) abort() {
	o.done = true
	if o.tmp == nil {
		return
	}
	o.w.Close()
	o.tmp.Close()
	os.Remove(o.tmp.Name())
	o.tmp = nil
}

type countingWriter struct {
	w      io.Writer
	n      int64
	broken bool // a write failed with EPIPE: the reader of the pipe has gone
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil && errors.Is(err, syscall.EPIPE) {
		c.broken = true
	}
	return n, err
}

// writeFileAtomic writes data to path through a temporary file. An
// existing file keeps its mode (outputMode). Errors name path, not the
// temporary file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, pathErrCause(err))
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, pathErrCause(err))
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(outputMode(path)); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, pathErrCause(err))
	}
	return nil
}

// newOutputMode is the mode of an output file that did not exist before.
const newOutputMode os.FileMode = 0o644

// outputMode is the mode an output written to path gets: the existing
// file's permissions when it exists (overwriting keeps them), else
// newOutputMode.
func outputMode(path string) os.FileMode {
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		return st.Mode().Perm()
	}
	return newOutputMode
}

// pathErrCause strips the path of an *os.PathError (a temporary file's name
// means nothing to the user) and returns err unchanged otherwise.
func pathErrCause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// LoadReport is the JSON written by load --report: what was written, and
// every key that failed (up to the cluster's bound).
type LoadReport struct {
	Job      string         `json:"job,omitempty"`
	State    string         `json:"state"`
	Error    string         `json:"error,omitempty"`
	Redis    string         `json:"redis"`
	Inputs   []InputSummary `json:"inputs"`
	Rows     int64          `json:"rows"`
	Written  int64          `json:"written"`
	Skipped  int64          `json:"skipped"`
	Failed   int64          `json:"failed"`
	Rejected int64          `json:"rejected"`
	// CountsLowerBound, CountsUnknown and CountsNote: as in the summary
	// (a job that did not complete).
	CountsLowerBound bool   `json:"counts_lower_bound,omitempty"`
	CountsUnknown    bool   `json:"counts_unknown,omitempty"`
	CountsNote       string `json:"counts_note,omitempty"`
	// FailuresListed ≤ Failed+Rejected; Truncated says some were not listed.
	FailuresListed int             `json:"failures_listed"`
	Truncated      bool            `json:"failures_truncated"`
	Failures       []ReportFailure `json:"failures"`
}

// ReportFailure is one key that could not be written.
type ReportFailure struct {
	Key     string `json:"key"`
	Row     int64  `json:"row"`            // global row index (over all inputs, in order)
	File    string `json:"file,omitempty"` // the input holding the row
	FileRow int64  `json:"file_row"`       // 0-based row within that file
	Error   string `json:"error"`
}

func writeLoadReport(path string, sum *Summary, res *cluster.JobResult) error {
	rep := LoadReport{
		Job: sum.Job, State: sum.State, Error: sum.Error, Redis: sum.Redis, Inputs: sum.Inputs,
		Rows: sum.Rows, Written: sum.Written, Skipped: sum.Skipped, Failed: sum.Failed, Rejected: sum.Rejected,
		Failures:         []ReportFailure{},
		CountsLowerBound: sum.CountsLowerBound, CountsUnknown: sum.CountsUnknown, CountsNote: sum.CountsNote,
	}
	if rep.Inputs == nil {
		rep.Inputs = []InputSummary{}
	}
	if res != nil {
		for _, kf := range res.FailedKeys {
			f := ReportFailure{Key: kf.Key, Row: kf.Row, FileRow: kf.Row, Error: kf.Err}
			for _, in := range sum.Inputs {
				if kf.Row >= in.FirstRow && kf.Row < in.FirstRow+in.Rows {
					f.File, f.FileRow = in.Path, kf.Row-in.FirstRow
					break
				}
			}
			rep.Failures = append(rep.Failures, f)
		}
	}
	rep.FailuresListed = len(rep.Failures)
	rep.Truncated = int64(rep.FailuresListed) < rep.Failed+rep.Rejected
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}
