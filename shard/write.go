package shard

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/redstage/redstage/codec"
)

// WriteMode says what a write does to a key that already exists.
//
//   - replace: the hash ends up holding exactly the row's fields (old
//     fields and any old expiry are dropped).
//   - append: the row's fields are merged into the hash (HSET); fields the
//     row does not have are kept, and so is an existing expiry unless the
//     row sets one.
//   - skip: an existing hash is left untouched and counted as skipped.
//
// In every mode a key holding another type (a list, a set, ...) is never
// touched: the row fails with a WRONGTYPE error. Every mode is atomic per
// key (each key is written by one command: RESTORE, HSET or a Lua script,
// or, where the ACL refuses the scripts, by a WATCH-guarded MULTI/EXEC; see
// write_cmd.go), so a retried write leaves the same final state.
//
// A key that does not exist yet is created with RESTORE of a serialized
// hash, which costs the server half of an HSET; keyspace notifications
// for it are "restore", not "hset". Its encoding (listpack or hash table)
// is the one HSET of the same fields would give under the server's
// hash-max-listpack-entries and hash-max-listpack-value.
type WriteMode string

// The write modes.
const (
	ModeReplace WriteMode = "replace"
	ModeAppend  WriteMode = "append"
	ModeSkip    WriteMode = "skip"
)

// ParseWriteMode parses "replace", "append" or "skip" (case-insensitive).
func ParseWriteMode(s string) (WriteMode, error) {
	m := WriteMode(strings.ToLower(strings.TrimSpace(s)))
	switch m {
	case ModeReplace, ModeAppend, ModeSkip:
		return m, nil
	}
	return "", fmt.Errorf("%w: write mode %q (want replace, append or skip)", ErrInvalidOptions, s)
}

// Defaults of WriteOptions; a zero option means its default.
const (
	DefaultWritePipeline    = 512 // keys per pipeline
	DefaultWriteMaxFailures = 100 // failures listed in WriteStats.Failures
	DefaultWriteInFlight    = 4   // pipelines in flight per master per WriteBatch call
)

// WriteOptions configures WriteBatch.
type WriteOptions struct {
	// Prefix is prepended to every key.
	Prefix string
	// KeyColumns name the columns whose values make the key, joined with
	// ":" and formatted as they are written (codec.FormatCell). A row with
	// a null or empty key value is rejected. Key columns are also written
	// as fields. Empty: the key is Prefix + global row index.
	KeyColumns []string
	// IndexOffset is the global row index of the batch's row 0: automatic
	// keys and the Row of failures count from it, so the chunks of one job
	// never collide.
	IndexOffset uint64
	// Mode is replace (default), append or skip.
	Mode WriteMode
	// TTL gives every written key this expiry (0 = none). At least 1ms.
	TTL time.Duration
	// TTLColumn names a column giving each row's expiry: an integer column
	// is seconds from now, a duration column a span from now, a timestamp
	// or date column the absolute expiry time; a text column holds any of
	// integer seconds, a duration ("90s", "1h30m") or a datetime/date
	// (ParseTTLText). A null cell, an empty text and -1 (scan's _ttl value
	// for "no expiry") mean no expiry. Another non-positive span or a time
	// not in the future rejects the row. The column is not written as a
	// field. Not together with TTL.
	TTLColumn string
	// StripPrefix is removed from the start of the key built from the key
	// columns before Prefix is put in front (so keys read back from scan's
	// _key column, "customer:17", can be loaded as "c2:17"). A key that
	// does not start with it rejects the row. Needs KeyColumns.
	StripPrefix string
	// Exclude names columns that are not written as fields, even when they
	// are key columns (e.g. scan's metadata columns _key, _ttl, _index).
	// Names the batch does not have are ignored.
	Exclude []string
	// Pipeline is the number of keys sent per pipeline (default 512).
	Pipeline int
	// MaxFailures caps the number of rejected and failed rows listed in
	// WriteStats.Failures (default 100); all are counted.
	MaxFailures int
	// InFlight is the number of pipelines one call keeps in flight per
	// master, each on its own connection, so encoding and round trips
	// overlap (default 4). On a cluster each pipeline holds keys of one
	// master. Rows with the same key always share a pipeline lane, so the
	// last such row wins.
	InFlight int
}

// DefaultWriteOptions returns replace mode with the default pipeline size,
// failure cap and concurrency.
func DefaultWriteOptions() WriteOptions {
	return WriteOptions{
		Mode:        ModeReplace,
		Pipeline:    DefaultWritePipeline,
		MaxFailures: DefaultWriteMaxFailures,
		InFlight:    DefaultWriteInFlight,
	}
}

// withDefaults fills zero options with their defaults.
func (o WriteOptions) withDefaults() WriteOptions {
	d := DefaultWriteOptions()
	if o.Mode == "" {
		o.Mode = d.Mode
	}
	if o.Pipeline == 0 {
		o.Pipeline = d.Pipeline
	}
	if o.MaxFailures == 0 {
		o.MaxFailures = d.MaxFailures
	}
	if o.InFlight == 0 {
		o.InFlight = d.InFlight
	}
	return o
}

// Validate checks the options on their own (column names are checked
// against the batch by WriteBatch). Zero values are valid: they mean the
// defaults.
func (o WriteOptions) Validate() error {
	o = o.withDefaults()
	if _, err := ParseWriteMode(string(o.Mode)); err != nil {
		return err
	}
	switch {
	case o.Pipeline < 0:
		return fmt.Errorf("%w: pipeline size %d is negative", ErrInvalidOptions, o.Pipeline)
	case o.MaxFailures < 0:
		return fmt.Errorf("%w: max failures %d is negative", ErrInvalidOptions, o.MaxFailures)
	case o.InFlight < 0 || o.InFlight > 64:
		return fmt.Errorf("%w: in-flight pipelines %d outside 1..64", ErrInvalidOptions, o.InFlight)
	case o.TTL < 0:
		return fmt.Errorf("%w: TTL %v is negative", ErrInvalidOptions, o.TTL)
	case o.TTL > 0 && o.TTL < time.Millisecond:
		return fmt.Errorf("%w: TTL %v is below Redis's 1ms resolution", ErrInvalidOptions, o.TTL)
	case o.TTL > 0 && o.TTLColumn != "":
		return fmt.Errorf("%w: give a fixed TTL or a TTL column, not both", ErrInvalidOptions)
	case o.StripPrefix != "" && len(o.KeyColumns) == 0:
		return fmt.Errorf("%w: a prefix to strip from keys needs key columns", ErrInvalidOptions)
	}
	seen := map[string]bool{}
	for i, k := range o.KeyColumns {
		switch {
		case k == "":
			return fmt.Errorf("%w: key column %d has an empty name", ErrInvalidOptions, i+1)
		case seen[k]:
			return fmt.Errorf("%w: key column %q is listed twice", ErrInvalidOptions, k)
		case k == o.TTLColumn:
			return fmt.Errorf("%w: column %q cannot be both a key column and the TTL column", ErrInvalidOptions, k)
		}
		seen[k] = true
	}
	return nil
}

// KeyFailure is one row that was rejected before sending or failed in
// Redis.
type KeyFailure struct {
	Key string `json:"key"` // "" when the row has no usable key
	Row int64  `json:"row"` // global row index (IndexOffset + row in the batch)
	Err string `json:"err"` // reason, or the Redis error
}

// WriteStats counts what WriteBatch did. Rows = Written + Skipped + Failed
// + Rejected once the call returns without error.
type WriteStats struct {
	Rows     int64        `json:"rows"`     // rows of the batch handled
	Written  int64        `json:"written"`  // keys written
	Skipped  int64        `json:"skipped"`  // existing keys left alone (skip mode)
	Failed   int64        `json:"failed"`   // keys Redis refused (e.g. WRONGTYPE)
	Rejected int64        `json:"rejected"` // rows never sent: null/empty key, all fields null, bad value, expiry in the past
	Failures []KeyFailure `json:"failures,omitempty"`
}

// Merge adds o's counts to s and keeps at most maxFailures failures, those
// of the lowest rows (maxFailures <= 0 keeps DefaultWriteMaxFailures).
func (s *WriteStats) Merge(o WriteStats, maxFailures int) {
	if maxFailures <= 0 {
		maxFailures = DefaultWriteMaxFailures
	}
	s.Rows += o.Rows
	s.Written += o.Written
	s.Skipped += o.Skipped
	s.Failed += o.Failed
	s.Rejected += o.Rejected
	s.Failures = append(s.Failures, o.Failures...)
	slices.SortStableFunc(s.Failures, func(a, b KeyFailure) int {
		switch {
		case a.Row < b.Row:
			return -1
		case a.Row > b.Row:
			return 1
		}
		return 0
	})
	if len(s.Failures) > maxFailures {
		s.Failures = slices.Clip(s.Failures[:maxFailures])
	}
}

// WriteBatch writes each row of rec as one Redis hash (see WriteOptions and
// WriteMode for keys, modes and expiry). Null cells are not written.
//
// Rows that cannot be written as asked are counted, never written under a
// made-up key, and listed (up to MaxFailures) in the stats: rows with a
// null or empty key value, rows whose every field is null (Redis cannot
// hold an empty hash; in replace mode an existing key is left as it is),
// rows with a cell that cannot be formatted, and rows whose expiry is not
// in the future are Rejected; keys Redis refuses (e.g. WRONGTYPE) are
// Failed, and the other rows are written.
//
// A problem with the batch itself (unknown key column, unsupported column
// type), a command the ACL user may not run and that has no replacement
// (an *AccessError of ErrNoPermission naming it: no key is counted as
// failed for it), or a problem with the connection (server down, cluster
// failing, out of memory, context cancelled) is returned as an error, with
// the stats of the work done so far (after a cancelled context they are
// exact: no new pipeline is sent, and those already sent are read to their
// end); the whole batch can then be written again: every
// mode is idempotent (skip counts the keys of the first attempt as
// skipped the second time).
//
// Several rows with the same key are applied in row order (the last
// replace wins). A relative TTL counts from the moment of the write, so a
// retry extends it. An absolute expiry that passes between the check and
// the write makes Redis drop the key at once; it is still counted as
// written.
func WriteBatch(ctx context.Context, c *Client, rec arrow.RecordBatch, opts WriteOptions) (WriteStats, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return WriteStats{}, err
	}
	rw, err := newRowWriter(rec.Schema(), opts)
	if err != nil {
		return WriteStats{}, err
	}
	ex := newWriteExecutor(ctx, c, opts)
	stats := rw.run(ex, rec)
	lanes, err := ex.wait()
	for _, ls := range lanes {
		stats.Merge(ls, opts.MaxFailures)
	}
	return stats, err
}

// rowWriter turns rows into commands: key, fields and expiry of each row,
// or the reason the row is rejected.
type rowWriter struct {
	opts    WriteOptions
	enc     *codec.RowEncoder
	keyCols []int // Arrow column index per key column
	ttl     ttlReader
	fixed   expiry // opts.TTL, if set
	keyBuf  []byte
}

func newRowWriter(s *arrow.Schema, opts WriteOptions) (*rowWriter, error) {
	rw := &rowWriter{opts: opts}
	for _, name := range opts.KeyColumns {
		idx := s.FieldIndices(name)
		if len(idx) == 0 {
			return nil, fmt.Errorf("%w: key column %q is not a column of the input (columns: %s)", ErrInvalidOptions, name, writeColumnList(s))
		}
		if len(idx) > 1 {
			return nil, fmt.Errorf("%w: key column %q names %d columns of the input; rename them", ErrInvalidOptions, name, len(idx))
		}
		rw.keyCols = append(rw.keyCols, idx[0])
	}
	var encOpts codec.EncoderOptions
	for _, name := range opts.Exclude {
		if len(s.FieldIndices(name)) > 0 {
			encOpts.Exclude = append(encOpts.Exclude, name)
		}
	}
	if opts.TTLColumn != "" {
		idx := s.FieldIndices(opts.TTLColumn)
		if len(idx) != 1 {
			return nil, fmt.Errorf("%w: TTL column %q is not a column of the input (columns: %s)", ErrInvalidOptions, opts.TTLColumn, writeColumnList(s))
		}
		r, err := newTTLReader(s.Field(idx[0]), idx[0])
		if err != nil {
			return nil, err
		}
		rw.ttl = r
		encOpts.Exclude = append(encOpts.Exclude, opts.TTLColumn)
	}
	enc, err := codec.NewRowEncoder(s, encOpts)
	if err != nil {
		return nil, fmt.Errorf("writing hashes: %w", err)
	}
	rw.enc = enc
	if opts.TTL > 0 {
		rw.fixed = expiry{kind: expireIn, ms: opts.TTL.Milliseconds()}
	}
	return rw, nil
}

func writeColumnList(s *arrow.Schema) string {
	names := make([]string, 0, s.NumFields())
	for _, f := range s.Fields() {
		names = append(names, strconv.Quote(f.Name))
	}
	if len(names) > 20 {
		names = append(names[:20], "…")
	}
	return strings.Join(names, ", ")
}

// run encodes every row of rec into the executor's pipelines. It returns
// the stats of the rows it handled itself (all rows counted, rejections);
// the executor counts the outcome of the rows it sent.
func (rw *rowWriter) run(ex *writeExecutor, rec arrow.RecordBatch) WriteStats {
	var st WriteStats
	n := int(rec.NumRows())
	if rw.ttl != nil {
		rw.ttl.bind(rec)
	}
	var nowMS int64
	for row := 0; row < n; row++ {
		if row%1024 == 0 {
			nowMS = time.Now().UnixMilli()
		}
		global := int64(rw.opts.IndexOffset) + int64(row)
		key, reason := rw.key(rec, row)
		if reason != "" {
			st.Rows++
			st.reject(KeyFailure{Key: key, Row: global, Err: reason}, rw.opts.MaxFailures)
			continue
		}
		exp := rw.fixed
		if rw.ttl != nil {
			if exp, reason = rw.ttl.at(row, nowMS); reason != "" {
				st.Rows++
				st.reject(KeyFailure{Key: key, Row: global, Err: reason}, rw.opts.MaxFailures)
				continue
			}
		}
		lane := ex.lane(key)
		b := ex.batch(lane)
		if b == nil {
			break // the executor stopped: its error is returned by wait
		}
		st.Rows++
		mark := len(b.strs)
		strs, err := rw.enc.AppendRow(append(b.strs, key), rec, row)
		switch {
		case err != nil:
			reason = err.Error()
		case len(strs) == mark+1:
			reason = "every field is null: Redis cannot hold an empty hash, nothing written"
		}
		if reason != "" {
			clear(strs[mark:])
			b.strs = strs[:mark]
			st.reject(KeyFailure{Key: key, Row: global, Err: reason}, rw.opts.MaxFailures)
			continue
		}
		b.strs = strs
		b.cmds = append(b.cmds, batchCmd{row: global, start: mark, end: len(strs), exp: exp})
		ex.added(lane)
	}
	ex.flush()
	return st
}

func (st *WriteStats) reject(f KeyFailure, max int) {
	st.Rejected++
	if len(st.Failures) < max {
		st.Failures = append(st.Failures, f)
	}
}

// key builds the row's key, or returns why the row has none.
func (rw *rowWriter) key(rec arrow.RecordBatch, row int) (key, reason string) {
	b := append(rw.keyBuf[:0], rw.opts.Prefix...)
	if len(rw.keyCols) == 0 {
		b = strconv.AppendUint(b, rw.opts.IndexOffset+uint64(row), 10)
		rw.keyBuf = b
		return string(b), ""
	}
	for i, ci := range rw.keyCols {
		v, ok, err := codec.FormatCell(rec.Column(ci), row)
		name := rw.opts.KeyColumns[i]
		switch {
		case err != nil:
			return "", fmt.Sprintf("key column %q: %v", name, err)
		case !ok:
			return "", fmt.Sprintf("key column %q is null", name)
		case v == "":
			return "", fmt.Sprintf("key column %q is empty", name)
		}
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, v...)
	}
	rw.keyBuf = b
	if sp := rw.opts.StripPrefix; sp != "" {
		value := b[len(rw.opts.Prefix):]
		if !strings.HasPrefix(string(value), sp) {
			return "", fmt.Sprintf("key %q does not start with the prefix to strip %q", clipKey(string(value)), sp)
		}
		b = append(b[:len(rw.opts.Prefix)], value[len(sp):]...)
		rw.keyBuf = b
		if len(value) == len(sp) {
			return "", fmt.Sprintf("key %q is empty once %q is stripped", clipKey(string(value)), sp)
		}
	}
	return string(b), ""
}

// clipKey shortens a key for messages.
func clipKey(k string) string {
	if len(k) > 80 {
		return k[:80] + "…"
	}
	return k
}
