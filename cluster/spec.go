package cluster

import (
	"errors"
	"fmt"
	"github.com/redstage/redstage/shard"
	"net/url"
	"strings"
	"time"

	"github.com/redstage/redstage/codec"
)

// Kind names what a job does. The set is open: new kinds (search,
// aggregate) add a constant, a spec type and a task runner.
type Kind string

// Job kinds.
const (
	KindLoad   Kind = "load"   // write input rows (uploaded by Client.Load) into Redis hashes
	KindScan   Kind = "scan"   // read hashes matching a pattern into typed Arrow results
	KindInfer  Kind = "infer"  // sample hashes and infer a schema
	KindDelete Kind = "delete" // delete keys matching a pattern
)

// JobSpec describes a job. Exactly the options of its Kind are set.
// Redis holds credentials: it is stored with the job so workers can connect,
// but it is logged and reported only through shard.RedactURL.
type JobSpec struct {
	Kind  Kind   `json:"kind"`
	Redis string `json:"redis"` // redis:// or rediss:// URL of a standalone server or any cluster node
	// Tasks is the number of partitions of a scan, infer or delete job
	// (0 = the coordinator's default). Load jobs have one task per chunk.
	Tasks int `json:"tasks,omitempty"`

	Load   *LoadSpec   `json:"load,omitempty"`
	Scan   *ScanSpec   `json:"scan,omitempty"`
	Infer  *InferSpec  `json:"infer,omitempty"`
	Delete *DeleteSpec `json:"delete,omitempty"`
}

// LoadSpec holds the options of a load job.
type LoadSpec struct {
	Prefix     string   `json:"prefix,omitempty"`      // key prefix
	KeyColumns []string `json:"key_columns,omitempty"` // empty → Prefix + global row index
	// Mode is "replace" (default), "append" or "skip" (shard.WriteMode).
	Mode      string        `json:"mode,omitempty"`
	TTL       time.Duration `json:"ttl,omitempty"`        // expiry of every written key (0 = none)
	TTLColumn string        `json:"ttl_column,omitempty"` // per-row TTL (shard.WriteOptions.TTLColumn); not written as a field
	// StripPrefix is removed from the start of each key value before Prefix
	// is put in front (shard.WriteOptions.StripPrefix).
	StripPrefix string `json:"strip_prefix,omitempty"`
	// Exclude names columns never written as fields, e.g. scan's metadata
	// columns (shard.WriteOptions.Exclude).
	Exclude     []string `json:"exclude,omitempty"`
	Pipeline    int      `json:"pipeline,omitempty"` // commands per pipeline (0 = shard default)
	MaxFailures int      `json:"max_failures,omitempty"`
	// Columns are the input's column names; Client.Load sets them from the
	// inputs' schemas so the coordinator can validate the key columns too.
	Columns []string `json:"columns,omitempty"`
}

// ScanSpec holds the options of a scan job.
type ScanSpec struct {
	Pattern string        `json:"pattern"`
	Schema  *codec.Schema `json:"schema"`
	// Meta names the key and TTL columns the workers produce and the row
	// index column the client assigns while merging ("" = not produced).
	Meta      codec.MetaColumns `json:"meta"`
	Strict    bool              `json:"strict,omitempty"`     // unparsable value → job fails naming key and field
	BatchSize int               `json:"batch_size,omitempty"` // rows per record batch (0 = shard default)
	Count     int               `json:"count,omitempty"`      // SCAN COUNT hint (0 = shard default)
	FetchAll  bool              `json:"fetch_all,omitempty"`  // HGETALL instead of HMGET of the schema fields
}

// InferSpec holds the options of an infer job.
type InferSpec struct {
	Pattern string `json:"pattern"`
	// Sample is the number of hashes inferred from (0 = 1000), or all of
	// them if fewer match. Each task reads up to Sample hashes of its
	// partition; the result takes an equal share from each task as far as
	// its partition has them and the rest from the larger ones, so exactly
	// Sample hashes are used whenever that many exist.
	Sample    int     `json:"sample,omitempty"`
	Threshold float64 `json:"threshold,omitempty"` // confidence threshold (0 = codec default 0.9)
}

// DeleteSpec holds the options of a delete job.
type DeleteSpec struct {
	Pattern string `json:"pattern"`
	// Type of the keys to delete: "" or "hash" (default), "string",
	// "list", "set", "zset", "stream", or "all" (shard.DeleteOptions.Type).
	Type   string `json:"type,omitempty"`
	DryRun bool   `json:"dry_run,omitempty"` // count matches, delete nothing
}

// Defaults applied by Normalize.
const (
	DefaultInferSample    = 1000
	DefaultInferThreshold = 0.9
	maxTasks              = 1 << 16
)

// Normalize fills defaults (infer sample and threshold, load mode).
func (s *JobSpec) Normalize() {
	if s.Load != nil && s.Load.Mode == "" {
		s.Load.Mode = "replace"
	}
	if s.Infer != nil {
		if s.Infer.Sample == 0 {
			s.Infer.Sample = DefaultInferSample
		}
		if s.Infer.Threshold == 0 {
			s.Infer.Threshold = DefaultInferThreshold
		}
	}
}

// Validate checks the spec without contacting Redis: the kind is known, its
// options are present and consistent, patterns and schemas are usable. The
// coordinator additionally dials Redis before accepting a job. Errors wrap
// ErrInvalidSpec and say what to change.
func (s *JobSpec) Validate() error {
	if err := s.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	return nil
}

func (s *JobSpec) validate() error {
	if err := validateRedisURL(s.Redis); err != nil {
		return err
	}
	if s.Tasks < 0 || s.Tasks > maxTasks {
		return fmt.Errorf("tasks %d: want 0 (default) to %d", s.Tasks, maxTasks)
	}
	set := 0
	for _, p := range []bool{s.Load != nil, s.Scan != nil, s.Infer != nil, s.Delete != nil} {
		if p {
			set++
		}
	}
	if set > 1 {
		return errors.New("a job spec holds the options of exactly one kind")
	}
	switch s.Kind {
	case KindLoad:
		if s.Load == nil {
			return errors.New("load job without load options")
		}
		return s.Load.validate()
	case KindScan:
		if s.Scan == nil {
			return errors.New("scan job without scan options")
		}
		return s.Scan.validate()
	case KindInfer:
		if s.Infer == nil {
			return errors.New("infer job without infer options")
		}
		return s.Infer.validate()
	case KindDelete:
		if s.Delete == nil {
			return errors.New("delete job without delete options")
		}
		if _, err := shard.ParseDeleteType(s.Delete.Type); err != nil {
			return err
		}
		return validatePattern(s.Delete.Pattern)
	case "":
		return errors.New("job kind missing")
	default:
		return fmt.Errorf("job kind %q: this version runs load, scan, infer and delete", s.Kind)
	}
}

func validateRedisURL(raw string) error {
	if raw == "" {
		return errors.New("redis URL missing: pass --redis redis://host:port or set REDSTAGE_REDIS_URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("redis URL %s: %w", shard.RedactURL(raw), err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix" {
		return fmt.Errorf("redis URL %s: scheme %q, want redis:// or rediss://", shard.RedactURL(raw), u.Scheme)
	}
	if u.Scheme != "unix" && u.Host == "" {
		return fmt.Errorf("redis URL %s: no host", shard.RedactURL(raw))
	}
	return nil
}

// validatePattern rejects glob patterns Redis would match surprisingly: an
// empty pattern, an unclosed [ class, a trailing backslash.
func validatePattern(p string) error {
	if p == "" {
		return errors.New("pattern is empty: give a glob such as 'user:*' (quote it in the shell)")
	}
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			if i == len(p)-1 {
				return fmt.Errorf("pattern %q ends with a lone backslash: escape it as \\\\ or remove it", p)
			}
			i++
		case '[':
			j := i + 1
			if j < len(p) && p[j] == '^' {
				j++
			}
			for j < len(p) && p[j] != ']' {
				if p[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(p) {
				return fmt.Errorf("pattern %q: the [ at offset %d is never closed: close the class with ] or escape it as \\[", p, i)
			}
			i = j
		}
	}
	return nil
}

func (l *LoadSpec) validate() error {
	switch l.Mode {
	case "", "replace", "append", "skip":
	default:
		return fmt.Errorf("if-exists mode %q: want replace, append or skip", l.Mode)
	}
	if l.TTL < 0 {
		return fmt.Errorf("ttl %s: must not be negative", l.TTL)
	}
	if l.TTL > 0 && l.TTLColumn != "" {
		return errors.New("give either a TTL for every key or a TTL column, not both")
	}
	if l.Pipeline < 0 || l.MaxFailures < 0 {
		return errors.New("pipeline and max failures must not be negative")
	}
	if l.StripPrefix != "" && len(l.KeyColumns) == 0 {
		return errors.New("a prefix to strip from keys needs key columns")
	}
	seen := map[string]bool{}
	for _, k := range l.KeyColumns {
		if k == "" {
			return errors.New("empty key column name")
		}
		if seen[k] {
			return fmt.Errorf("key column %q given twice", k)
		}
		seen[k] = true
	}
	if len(l.Columns) == 0 {
		return nil
	}
	return l.checkColumns(l.Columns, "the input")
}

// checkColumns checks the key and TTL columns against an input's columns.
func (l *LoadSpec) checkColumns(cols []string, input string) error {
	have := make(map[string]bool, len(cols))
	for _, c := range cols {
		have[c] = true
	}
	for _, k := range l.KeyColumns {
		if !have[k] {
			return fmt.Errorf("key column %q is not a column of %s (columns: %s)", k, input, clipList(cols, 12))
		}
	}
	if l.TTLColumn != "" && !have[l.TTLColumn] {
		return fmt.Errorf("ttl column %q is not a column of %s (columns: %s)", l.TTLColumn, input, clipList(cols, 12))
	}
	return nil
}

func clipList(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(", … (%d more)", len(items)-n)
}

func (sc *ScanSpec) validate() error {
	if err := validatePattern(sc.Pattern); err != nil {
		return err
	}
	if sc.Schema == nil {
		return errors.New("scan without a schema: pass --schema or run infer first")
	}
	if _, err := sc.Schema.ArrowSchema(sc.Meta); err != nil {
		return err
	}
	if sc.BatchSize < 0 || sc.Count < 0 {
		return errors.New("batch size and count must not be negative")
	}
	return nil
}

func (in *InferSpec) validate() error {
	if err := validatePattern(in.Pattern); err != nil {
		return err
	}
	if in.Sample < 0 {
		return fmt.Errorf("sample %d: must not be negative", in.Sample)
	}
	if in.Threshold < 0 || in.Threshold > 1 {
		return fmt.Errorf("threshold %g: want a value between 0 and 1", in.Threshold)
	}
	return nil
}

// redisTarget returns the redacted Redis URL.
func (s *JobSpec) redisTarget() string { return shard.RedactURL(s.Redis) }

// target describes what the job works on, for listings.
func (s *JobSpec) target() string {
	switch {
	case s.Scan != nil:
		return s.Scan.Pattern
	case s.Infer != nil:
		return s.Infer.Pattern
	case s.Delete != nil:
		return s.Delete.Pattern
	case s.Load != nil:
		if s.Load.Prefix != "" {
			return s.Load.Prefix + "*"
		}
	}
	return ""
}
