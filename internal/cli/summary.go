package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/redstage/redstage/cluster"
)

// Summary is what a job command reports when it ends: printed for humans
// on stderr, and as one JSON object with --json.
type Summary struct {
	Command  string `json:"command"`
	Job      string `json:"job,omitempty"`
	State    string `json:"state"` // succeeded, partial, failed, cancelled, interrupted, rejected
	OK       bool   `json:"ok"`
	ExitCode int    `json:"exit_code"`
	Error    string `json:"error,omitempty"`
	Hint     string `json:"hint,omitempty"`

	Redis   string         `json:"redis,omitempty"`   // redacted
	Cluster string         `json:"cluster,omitempty"` // "embedded" or the redacted NATS URL
	Pattern string         `json:"pattern,omitempty"`
	Inputs  []InputSummary `json:"inputs,omitempty"`
	Output  string         `json:"output,omitempty"`
	Format  string         `json:"format,omitempty"`
	Report  string         `json:"report,omitempty"`
	Schema  string         `json:"schema,omitempty"` // spec of the schema used (scan) or inferred (infer)
	DryRun  bool           `json:"dry_run,omitempty"`
	Type    string         `json:"type,omitempty"` // delete: the type of the keys deleted

	Rows     int64 `json:"rows"`
	Written  int64 `json:"written,omitempty"`
	Skipped  int64 `json:"skipped,omitempty"`
	Failed   int64 `json:"failed,omitempty"`
	Rejected int64 `json:"rejected,omitempty"`
	Scanned  int64 `json:"scanned,omitempty"`
	// OtherTypes (scan and delete, always present there): matching keys
	// of other types, skipped by scan, left alone by delete.
	OtherTypes *int64           `json:"other_types,omitempty"`
	Vanished   int64            `json:"vanished,omitempty"`
	Duplicates int64            `json:"duplicates,omitempty"`
	Nulls      map[string]int64 `json:"nulls,omitempty"` // per field: values that did not parse and became null
	Matched    int64            `json:"matched,omitempty"`
	Deleted    int64            `json:"deleted,omitempty"`
	// CountsLowerBound: the job did not complete; the counts are what its
	// tasks confirmed (tasks cut short included) and CountsNote says why
	// Redis may hold more. CountsUnknown: the counts could not be collected
	// at all (the cluster did not answer); then they are zero and say nothing.
	CountsLowerBound bool   `json:"counts_lower_bound,omitempty"`
	CountsUnknown    bool   `json:"counts_unknown,omitempty"`
	CountsNote       string `json:"counts_note,omitempty"`
	Sampled          int64  `json:"sampled,omitempty"`
	// LowConfidence: inferred fields below the threshold.
	LowConfidence []string `json:"low_confidence_fields,omitempty"`
	// NonUTF8Keys: keys that are not valid UTF-8, written escaped in _key.
	NonUTF8Keys int64 `json:"non_utf8_keys,omitempty"`

	Tasks int `json:"tasks,omitempty"`
	// TasksRequested is --tasks when given; Tasks (what ran) can differ:
	// the keyspace splits into a power of two of partitions per Redis
	// node, and into fewer when it holds few keys.
	TasksRequested  int                 `json:"tasks_requested,omitempty"`
	Attempts        int                 `json:"attempts,omitempty"`
	Bytes           int64               `json:"bytes,omitempty"`
	OutputBytes     int64               `json:"output_bytes,omitempty"`
	DurationSeconds float64             `json:"duration_seconds"` // wall clock of the command
	JobSeconds      float64             `json:"job_seconds,omitempty"`
	RowsPerSec      float64             `json:"rows_per_sec"`
	TaskErrors      []cluster.TaskError `json:"task_errors,omitempty"`
}

// InputSummary describes one load input.
type InputSummary struct {
	Path     string `json:"path"`
	Format   string `json:"format"`
	Rows     int64  `json:"rows"`
	FirstRow int64  `json:"first_row"` // global row index of its first row
	// InferredTypes: the column types inference chose (CSV/NDJSON without
	// --schema); the values were written as the file has them.
	InferredTypes string `json:"inferred_types,omitempty"`
	// NotWritten: scan metadata columns (_key, _ttl, _index) of the input
	// that were not written as fields.
	NotWritten []string `json:"not_written,omitempty"`
}

// newSummary starts a summary for a command.
func newSummary(command string, g *GlobalOptions) *Summary {
	s := &Summary{Command: command, Redis: RedactURL(g.Redis), Cluster: "embedded"}
	if g.NATS != "" {
		s.Cluster = RedactURL(g.NATS)
	}
	return s
}

// fromResult copies the counts of a job result.
func (s *Summary) fromResult(r *cluster.JobResult) {
	if r == nil {
		return
	}
	if s.Job == "" {
		s.Job = r.ID
	}
	s.Rows = r.Rows
	s.Written, s.Skipped, s.Failed, s.Rejected = r.Written, r.Skipped, r.Failed, r.Rejected
	s.Scanned, s.Vanished, s.Duplicates = r.Scanned, r.Vanished, r.Duplicates
	if s.Command == "scan" || s.Command == "delete" {
		other := r.OtherTypes
		s.OtherTypes = &other
	}
	s.Matched, s.Deleted = r.Matched, r.Deleted
	s.NonUTF8Keys = r.NonUTF8Keys
	s.CountsLowerBound, s.CountsNote = r.LowerBound, r.LowerBoundReason
	s.Tasks, s.Attempts, s.Bytes = r.Tasks, r.Attempts, r.Bytes
	s.JobSeconds = r.Duration.Seconds()
	if len(r.Nulls) > 0 {
		s.Nulls = make(map[string]int64, len(r.Nulls))
		for k, v := range r.Nulls {
			if v > 0 {
				s.Nulls[k] = v
			}
		}
	}
}

// finish sets the outcome from err (nil = success unless partial) and the
// duration since start.
func (s *Summary) finish(start time.Time, err error) {
	d := time.Since(start)
	s.DurationSeconds = d.Seconds()
	if d > 0 {
		s.RowsPerSec = float64(s.Rows) / d.Seconds()
	}
	s.ExitCode, s.Hint = Classify(err)
	s.OK = err == nil
	if err != nil {
		s.Error = err.Error()
	}
	var je *cluster.JobError
	if errors.As(err, &je) {
		s.TaskErrors = je.Tasks
		if s.Job == "" {
			s.Job = je.ID
		}
	}
	switch {
	case err == nil:
		s.State = "succeeded"
	case s.ExitCode == ExitPartial:
		s.State = "partial"
	case s.ExitCode == ExitInterrupted:
		s.State = "interrupted"
	case s.ExitCode == ExitCancelled, s.ExitCode == ExitBrokenPipe:
		s.State = "cancelled"
	case s.Job == "":
		s.State = "rejected" // never became a job: nothing ran
	default:
		s.State = "failed"
	}
}

// useJobDuration reports the job's own duration and rate instead of the
// command's wall clock: status --wait follows a job another command
// started, so its own waiting time says nothing about the job.
func (s *Summary) useJobDuration(r *cluster.JobResult) {
	if r == nil {
		return
	}
	s.DurationSeconds = r.Duration.Seconds()
	s.RowsPerSec = 0
	if r.Duration > 0 {
		s.RowsPerSec = float64(s.Rows) / r.Duration.Seconds()
	}
}

// emit prints the summary: human lines on stderr unless quiet, and JSON
// with --json (on stdout, or stderr when stdout carries data: then stderr
// gets the JSON document only).
func (a *App) emit(g *GlobalOptions, s *Summary, stdoutBusy bool) {
	if g.JSON {
		w := a.Stdout
		if stdoutBusy {
			w = a.Stderr
		}
		a.writeJSONDoc(w, s)
		if stdoutBusy {
			return
		}
	}
	if !g.Quiet {
		s.writeHuman(a.Stderr)
	}
}

// writeJSONDoc writes the one JSON document of a --json run and records
// that it was written (Run then prints no error document).
func (a *App) writeJSONDoc(w io.Writer, v any) {
	writeJSON(w, v)
	a.jsonDone = true
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeHuman prints the summary for people.
func (s *Summary) writeHuman(w io.Writer) {
	if s.State == "rejected" {
		return // nothing ran: the error message says it all
	}
	head := fmt.Sprintf("%s %s", s.Command, s.State)
	if s.Job != "" {
		head += " (job " + s.Job + ")"
	}
	noun := map[string]string{"infer": "hash", "delete": "key"}[s.Command]
	if noun == "" {
		noun = "row"
	}
	fmt.Fprintf(w, "%s: %s in %s", head, plural(s.Rows, noun), shortDuration(time.Duration(s.DurationSeconds*float64(time.Second))))
	if s.RowsPerSec > 0 && s.Rows > 0 {
		fmt.Fprintf(w, " (%s %s/s)", shortNumber(s.RowsPerSec), pluralWord(noun))
	}
	fmt.Fprintln(w)
	line := func(label string, n int64, note string) {
		fmt.Fprintf(w, "  %-22s %12s", label, groupDigits(n))
		if note != "" {
			fmt.Fprintf(w, "  %s", note)
		}
		fmt.Fprintln(w)
	}
	switch s.Command {
	case "load":
		for _, in := range s.Inputs {
			fmt.Fprintf(w, "  input %s (%s): %s\n", displayName(in.Path), in.Format, plural(in.Rows, "row"))
			if len(in.NotWritten) > 0 {
				fmt.Fprintf(w, "    not written (scan metadata): %s\n", strings.Join(in.NotWritten, ", "))
			}
		}
		line("keys written", s.Written, s.countsMark())
		if s.Skipped > 0 {
			line("keys skipped (exist)", s.Skipped, "--if-exists skip")
		}
		if s.Failed > 0 || s.Rejected > 0 {
			line("keys failed", s.Failed, "")
			if s.Rejected > 0 {
				line("rows rejected", s.Rejected, "")
			}
			if s.Report != "" {
				fmt.Fprintf(w, "  failures are listed in %s\n", s.Report)
			}
		}
	case "scan":
		s.writeOutput(w)
		if s.Scanned > 0 {
			line("keys scanned", s.Scanned, "")
		}
		if s.Duplicates > 0 {
			line("duplicates dropped", s.Duplicates, "SCAN returns some keys twice; each is written once")
		}
		if s.OtherTypes != nil {
			line("non-hash keys skipped", *s.OtherTypes, "scan reads hashes only")
		}
		if s.Vanished > 0 {
			line("keys vanished", s.Vanished, "deleted or expired while scanning")
		}
		if s.NonUTF8Keys > 0 {
			line("non-UTF-8 keys", s.NonUTF8Keys, `written escaped in _key: \\ and \xHH (see --key-encoding)`)
		}
	case "delete":
		typ := s.Type
		if typ == "" {
			typ = "hash"
		}
		line("keys matched", s.Matched, "of type "+typ)
		if s.OtherTypes != nil && typ != "all" {
			line("other types left", *s.OtherTypes, "matching keys of other types, kept (--type all deletes them)")
		}
		if s.DryRun {
			fmt.Fprintln(w, "  dry run: nothing deleted")
		} else {
			line("keys deleted", s.Deleted, s.countsMark())
		}
	case "infer":
		line("hashes sampled", s.Sampled, "")
	}
	if s.CountsNote != "" {
		fmt.Fprintf(w, "  note: %s\n", s.CountsNote)
	}
	if len(s.Nulls) > 0 {
		fmt.Fprintf(w, "  values that did not parse and became null (type coercion):\n")
		for _, k := range sortedKeys(s.Nulls) {
			fmt.Fprintf(w, "    %-20s %12s\n", k, groupDigits(s.Nulls[k]))
		}
	}
	if s.Tasks > 0 {
		fmt.Fprintf(w, "  tasks %d, executions %d", s.Tasks, s.Attempts)
		if s.Attempts > s.Tasks {
			fmt.Fprintf(w, " (%d retried or redelivered)", s.Attempts-s.Tasks)
		}
		fmt.Fprintln(w)
		if s.TasksRequested > 0 && s.TasksRequested != s.Tasks {
			fmt.Fprintf(w, "  --tasks %d: ran %s (the keyspace splits into a power of two of partitions per Redis node, fewer when it holds few keys)\n",
				s.TasksRequested, plural(int64(s.Tasks), "task"))
		}
	}
	// Task errors the error message repeats are not listed again.
	shown := 0
	for _, te := range s.TaskErrors {
		if strings.Contains(s.Error, te.Error) {
			continue
		}
		if shown == 5 {
			fmt.Fprintf(w, "  … more task errors (see --json)\n")
			break
		}
		fmt.Fprintf(w, "  task %s: %s\n", te.Task, te.Error)
		shown++
	}
}

// writeOutput prints where a scan's rows went; a failed scan's file was
// never created.
func (s *Summary) writeOutput(w io.Writer) {
	switch {
	case s.Output == "":
	case s.Output != "-" && s.State != "succeeded":
		fmt.Fprintf(w, "  output %s not written (a scan that does not succeed leaves no file)\n", s.Output)
	default:
		out := s.Output
		if out == "-" {
			out = "stdout"
		}
		fmt.Fprintf(w, "  output %s (%s", out, s.Format)
		if s.OutputBytes > 0 {
			fmt.Fprintf(w, ", %s", humanBytes(s.OutputBytes))
		}
		fmt.Fprintln(w, ")")
	}
}

// countsMark qualifies a write count that is not exact.
func (s *Summary) countsMark() string {
	switch {
	case s.CountsUnknown:
		return "unknown: the cluster did not report the job's counts"
	case s.CountsLowerBound:
		return "at least (see note)"
	}
	return ""
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// humanBytes formats a byte count: 512 B, 3.4 MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// plural returns "1 key" / "2 keys" / "3 hashes".
func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return groupDigits(n) + " " + pluralWord(word)
}

func pluralWord(word string) string {
	if strings.HasSuffix(word, "sh") || strings.HasSuffix(word, "s") {
		return word + "es"
	}
	return word + "s"
}
