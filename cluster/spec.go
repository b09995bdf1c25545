package cluster

import (
	"fmt"
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
	Mode        string        `json:"mode,omitempty"`
	TTL         time.Duration `json:"ttl,omitempty"`        // expiry of every written key (0 = none)
	TTLColumn   string        `json:"ttl_column,omitempty"` // per-row TTL in seconds; not written as a field
	Pipeline    int           `json:"pipeline,omitempty"`   // commands per pipeline (0 = shard default)
	MaxFailures int           `json:"max_failures,omitempty"`
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
	Pattern   string  `json:"pattern"`
	Sample    int     `json:"sample,omitempty"`    // hashes to sample over all partitions (0 = 1000)
	Threshold float64 `json:"threshold,omitempty"` // confidence threshold (0 = codec default 0.9)
}

// DeleteSpec holds the options of a delete job.
type DeleteSpec struct {
	Pattern string `json:"pattern"`
	DryRun  bool   `json:"dry_run,omitempty"` // count matches, delete nothing
}

// Default values applied by Normalize.
const (
	DefaultInferSample = 1000
)

// Validate checks the spec without contacting Redis: the kind is known, its
// options are present and consistent, patterns and schemas are usable. The
// coordinator additionally dials Redis before accepting a job.
func (s *JobSpec) Validate() error {
	return fmt.Errorf("validating job spec: %w", ErrNotImplemented)
}
