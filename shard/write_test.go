package shard_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/redis/go-redis/v9"

	"github.com/redstage/redstage/internal/redistest"
	"github.com/redstage/redstage/shard"
)

// writeTarget is one deployment the write suite runs against.
type writeTarget struct {
	client *shard.Client
	rdb    redis.UniversalClient // independent client to check the result
}

func dialWriteTarget(t *testing.T, url string, rdb redis.UniversalClient) *writeTarget {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := shard.Dial(ctx, url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return &writeTarget{client: c, rdb: rdb}
}

// TestWrite runs the write suite on a standalone server and on a
// 3-master cluster.
func TestWrite(t *testing.T) {
	deployments := []struct {
		name  string
		start func(t *testing.T) *writeTarget
	}{
		{"standalone", func(t *testing.T) *writeTarget {
			// Deep checks of every RESTORE payload the suite sends.
			s := redistest.StartServerWith(t, redistest.ServerOptions{Extra: []string{"sanitize-dump-payload yes"}})
			return dialWriteTarget(t, s.URL(), s.Client())
		}},
		{"cluster", func(t *testing.T) *writeTarget {
			c := redistest.StartCluster(t, redistest.ClusterOptions{})
			return dialWriteTarget(t, c.URL(), c.Client())
		}},
	}
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			w := d.start(t)
			// New keys are written with RESTORE; the HSET/script path
			// (existing keys, old servers) and the watch path (scripts
			// refused) must give the same results.
			for _, path := range []string{"restore", "no-restore", "no-scripts", "no-restore-no-scripts"} {
				t.Run(path, func(t *testing.T) {
					defer shard.SetWriteRestore(!strings.HasPrefix(path, "no-restore"))()
					defer shard.SetWriteScripts(!strings.HasSuffix(path, "no-scripts"))()
					for _, tc := range writeSuite {
						t.Run(tc.name, func(t *testing.T) {
							tc.run(t, w, "w:"+d.name+":"+path+":"+tc.name+":")
						})
					}
				})
			}
		})
	}
}

var writeSuite = []struct {
	name string
	run  func(t *testing.T, w *writeTarget, prefix string)
}{
	{"modes", testWriteModes},
	{"fixed-ttl", testWriteFixedTTL},
	{"ttl-seconds-column", testWriteTTLSeconds},
	{"ttl-absolute-column", testWriteTTLAbsolute},
	{"ttl-text-column", testWriteTTLText},
	{"strip-prefix-exclude", testWriteStripPrefixExclude},
	{"automatic-keys", testWriteAutomaticKeys},
	{"nulls", testWriteNulls},
	{"bad-keys", testWriteBadKeys},
	{"composite-key", testWriteCompositeKey},
	{"wrongtype", testWriteWrongType},
	{"retry-idempotent", testWriteRetry},
	{"duplicate-keys", testWriteDuplicateKeys},
	{"many-fields", testWriteManyFields},
	{"noscript", testWriteNoScript},
	{"many-keys", testWriteManyKeys},
	{"round-trip-scan", testWriteScanRoundTrip},
	{"write-paths", testWritePaths},
}

// ---- record building ----

// wcol is one column: values are nil for null, otherwise a Go value fitting
// the Arrow type (string, int64, float64, bool, time.Time for dates and
// timestamps, time.Duration for durations).
type wcol struct {
	name string
	typ  arrow.DataType
	vals []any
}

func wrecord(t testing.TB, cols ...wcol) arrow.RecordBatch {
	t.Helper()
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.name, Type: c.typ, Nullable: true}
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	for i, c := range cols {
		for _, v := range c.vals {
			if v == nil {
				b.Field(i).AppendNull()
				continue
			}
			switch fb := b.Field(i).(type) {
			case *array.StringBuilder:
				fb.Append(v.(string))
			case *array.Int64Builder:
				fb.Append(v.(int64))
			case *array.Int32Builder:
				fb.Append(int32(v.(int)))
			case *array.Float64Builder:
				fb.Append(v.(float64))
			case *array.BooleanBuilder:
				fb.Append(v.(bool))
			case *array.Date32Builder:
				fb.Append(arrow.Date32FromTime(v.(time.Time)))
			case *array.TimestampBuilder:
				ts, err := arrow.TimestampFromTime(v.(time.Time), c.typ.(*arrow.TimestampType).Unit)
				if err != nil {
					t.Fatal(err)
				}
				fb.Append(ts)
			case *array.DurationBuilder:
				d := v.(time.Duration)
				fb.Append(arrow.Duration(d / c.typ.(*arrow.DurationType).Unit.Multiplier()))
			default:
				t.Fatalf("wrecord: no case for %T", fb)
			}
		}
	}
	rec := b.NewRecordBatch()
	t.Cleanup(rec.Release)
	return rec
}

func strs(v ...string) []any {
	out := make([]any, len(v))
	for i, s := range v {
		if s == "<null>" {
			continue
		}
		out[i] = s
	}
	return out
}

// ---- checks ----

func write(t *testing.T, w *writeTarget, rec arrow.RecordBatch, opts shard.WriteOptions) shard.WriteStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := shard.WriteBatch(ctx, w.client, rec, opts)
	if err != nil {
		t.Fatalf("WriteBatch: %v (stats %+v)", err, st)
	}
	if sum := st.Written + st.Skipped + st.Failed + st.Rejected; sum != st.Rows || st.Rows != rec.NumRows() {
		t.Fatalf("stats do not add up: %+v (batch has %d rows)", st, rec.NumRows())
	}
	return st
}

func wantCounts(t *testing.T, st shard.WriteStats, written, skipped, failed, rejected int64) {
	t.Helper()
	if st.Written != written || st.Skipped != skipped || st.Failed != failed || st.Rejected != rejected {
		t.Fatalf("stats %+v; want written %d skipped %d failed %d rejected %d", st, written, skipped, failed, rejected)
	}
}

func hgetall(t *testing.T, w *writeTarget, key string) map[string]string {
	t.Helper()
	m, err := w.rdb.HGetAll(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("HGETALL %s: %v", key, err)
	}
	return m
}

func wantHash(t *testing.T, w *writeTarget, key string, want map[string]string) {
	t.Helper()
	if got := hgetall(t, w, key); !maps.Equal(got, want) {
		t.Fatalf("hash %s = %v; want %v", key, got, want)
	}
}

func pttl(t *testing.T, w *writeTarget, key string) time.Duration {
	t.Helper()
	d, err := w.rdb.PTTL(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("PTTL %s: %v", key, err)
	}
	return d
}

func exists(t *testing.T, w *writeTarget, key string) bool {
	t.Helper()
	n, err := w.rdb.Exists(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("EXISTS %s: %v", key, err)
	}
	return n == 1
}

// keysWithPrefix lists the keys under prefix on every master.
func keysWithPrefix(t *testing.T, w *writeTarget, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	collect := func(c redis.UniversalClient) error {
		it := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for it.Next(ctx) {
			keys = append(keys, it.Val())
		}
		return it.Err()
	}
	var err error
	if cc, ok := w.rdb.(*redis.ClusterClient); ok {
		var mu = make(chan struct{}, 1)
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			mu <- struct{}{}
			defer func() { <-mu }()
			return collect(m)
		})
	} else {
		err = collect(w.rdb)
	}
	if err != nil {
		t.Fatalf("SCAN %s*: %v", prefix, err)
	}
	slices.Sort(keys)
	return keys
}

// hashState is a hash's content and its absolute expiry (-1: none).
type hashState struct {
	fields string
	expire time.Duration
}

// snapshot returns every hash under prefix with its expiry.
func snapshot(t *testing.T, w *writeTarget, prefix string) map[string]hashState {
	t.Helper()
	out := map[string]hashState{}
	for _, k := range keysWithPrefix(t, w, prefix) {
		m := hgetall(t, w, k)
		var sb strings.Builder
		for _, n := range slices.Sorted(maps.Keys(m)) {
			fmt.Fprintf(&sb, "%s=%s;", n, m[n])
		}
		exp, err := w.rdb.PExpireTime(context.Background(), k).Result()
		if err != nil {
			t.Fatalf("PEXPIRETIME %s: %v", k, err)
		}
		out[k] = hashState{sb.String(), exp}
	}
	return out
}

// sameState reports whether two snapshots hold the same hashes, with
// expiries present on the same keys and within slack of each other (a TTL
// column gives seconds from the time of the write).
func sameState(t *testing.T, a, b map[string]hashState, slack time.Duration) bool {
	t.Helper()
	same := len(a) == len(b)
	for k, x := range a {
		y, ok := b[k]
		d := x.expire - y.expire
		if !ok || x.fields != y.fields || (x.expire < 0) != (y.expire < 0) || d > slack || d < -slack {
			t.Errorf("%s: first %+v, then %+v", k, x, y)
			same = false
		}
	}
	return same
}

// ---- cases ----

func testWriteModes(t *testing.T, w *writeTarget, prefix string) {
	ctx := context.Background()
	rec := wrecord(t,
		wcol{"id", arrow.BinaryTypes.String, strs("a", "b")},
		wcol{"x", arrow.PrimitiveTypes.Int64, []any{int64(1), int64(2)}},
		wcol{"y", arrow.BinaryTypes.String, strs("new", "<null>")},
	)
	tests := []struct {
		mode             shard.WriteMode
		wantA            map[string]string // "a" existed with old fields and a TTL
		wantTTL          bool              // a's TTL survives
		written, skipped int64
	}{
		{shard.ModeReplace, map[string]string{"id": "a", "x": "1", "y": "new"}, false, 2, 0},
		{shard.ModeAppend, map[string]string{"id": "a", "x": "1", "y": "new", "old": "keep"}, true, 2, 0},
		{shard.ModeSkip, map[string]string{"x": "9", "old": "keep"}, true, 1, 1},
		{"", map[string]string{"id": "a", "x": "1", "y": "new"}, false, 2, 0}, // default: replace
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			p := prefix + string(tt.mode) + ":"
			if err := w.rdb.HSet(ctx, p+"a", "x", "9", "old", "keep").Err(); err != nil {
				t.Fatal(err)
			}
			if err := w.rdb.Expire(ctx, p+"a", time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			st := write(t, w, rec, shard.WriteOptions{Prefix: p, KeyColumns: []string{"id"}, Mode: tt.mode})
			wantCounts(t, st, tt.written, tt.skipped, 0, 0)
			wantHash(t, w, p+"a", tt.wantA)
			wantHash(t, w, p+"b", map[string]string{"id": "b", "x": "2"})
			if d := pttl(t, w, p+"a"); (d > 0) != tt.wantTTL {
				t.Errorf("PTTL of the existing key = %v; want expiry kept: %v", d, tt.wantTTL)
			}
			if d := pttl(t, w, p+"b"); d != -1 {
				t.Errorf("PTTL of the new key = %v; want -1 (no expiry)", d)
			}
		})
	}
}

func testWriteFixedTTL(t *testing.T, w *writeTarget, prefix string) {
	rec := wrecord(t, wcol{"id", arrow.BinaryTypes.String, strs("a", "b", "c")}, wcol{"v", arrow.PrimitiveTypes.Int64, []any{int64(1), nil, int64(3)}})
	for _, mode := range []shard.WriteMode{shard.ModeReplace, shard.ModeAppend, shard.ModeSkip} {
		p := prefix + string(mode) + ":"
		ttl := 90 * time.Second
		before := time.Now()
		st := write(t, w, rec, shard.WriteOptions{Prefix: p, KeyColumns: []string{"id"}, Mode: mode, TTL: ttl})
		wantCounts(t, st, 3, 0, 0, 0)
		for _, k := range []string{"a", "b", "c"} {
			d := pttl(t, w, p+k)
			if elapsed := time.Since(before); d <= ttl-elapsed-time.Second || d > ttl {
				t.Errorf("%s: PTTL %s = %v; want within (%v, %v]", mode, k, d, ttl-elapsed, ttl)
			}
		}
	}
}

func testWriteTTLSeconds(t *testing.T, w *writeTarget, prefix string) {
	rec := wrecord(t,
		wcol{"id", arrow.BinaryTypes.String, strs("a", "b", "c", "d", "e")},
		wcol{"ttl", arrow.PrimitiveTypes.Int64, []any{int64(100), int64(5000), nil, int64(0), int64(-3)}},
		wcol{"v", arrow.BinaryTypes.String, strs("1", "2", "3", "4", "5")},
	)
	before := time.Now()
	st := write(t, w, rec, shard.WriteOptions{Prefix: prefix, KeyColumns: []string{"id"}, TTLColumn: "ttl"})
	wantCounts(t, st, 3, 0, 0, 2)
	elapsed := time.Since(before)
	for k, secs := range map[string]int{"a": 100, "b": 5000} {
		want := time.Duration(secs) * time.Second
		if d := pttl(t, w, prefix+k); d <= want-elapsed-time.Second || d > want {
			t.Errorf("PTTL %s = %v; want about %v", k, d, want)
		}
	}
	if d := pttl(t, w, prefix+"c"); d != -1 {
		t.Errorf("null TTL: PTTL = %v; want -1 (no expiry)", d)
	}
	wantHash(t, w, prefix+"a", map[string]string{"id": "a", "v": "1"}) // the TTL column is not a field
	for i, k := range []string{"d", "e"} {
		if exists(t, w, prefix+k) {
			t.Errorf("row with non-positive TTL was written as %s", k)
		}
		f := st.Failures[i]
		if f.Key != prefix+k || f.Row != int64(3+i) || !strings.Contains(f.Err, "not a positive TTL") {
			t.Errorf("failure %d = %+v; want key %s row %d 'not a positive TTL'", i, f, prefix+k, 3+i)
		}
	}
}

func testWriteTTLAbsolute(t *testing.T, w *writeTarget, prefix string) {
	ctx := context.Background()
	now := time.Now().UTC()
	at := now.Add(2 * time.Hour).Truncate(time.Millisecond)
	day := now.AddDate(0, 0, 3).Truncate(24 * time.Hour)
	tests := []struct {
		name string
		typ  arrow.DataType
		val  time.Time
		want time.Time // expiry time, or zero: rejected
	}{
		{"timestamp-us", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, at.Add(750 * time.Microsecond), at},
		{"timestamp-s", &arrow.TimestampType{Unit: arrow.Second}, at.Truncate(time.Second), at.Truncate(time.Second)},
		{"timestamp-ns", &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, at, at},
		{"date", arrow.FixedWidthTypes.Date32, day, day},
		{"past", &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, now.Add(-time.Minute), time.Time{}},
		{"past-date", arrow.FixedWidthTypes.Date32, now.AddDate(0, 0, -1), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := prefix + tt.name + ":"
			rec := wrecord(t, wcol{"id", arrow.BinaryTypes.String, strs("k")}, wcol{"exp", tt.typ, []any{tt.val}})
			st := write(t, w, rec, shard.WriteOptions{Prefix: p, KeyColumns: []string{"id"}, TTLColumn: "exp"})
			if tt.want.IsZero() {
				wantCounts(t, st, 0, 0, 0, 1)
				if !strings.Contains(st.Failures[0].Err, "not in the future") || exists(t, w, p+"k") {
					t.Fatalf("expiry in the past: %+v, key exists %v", st.Failures, exists(t, w, p+"k"))
				}
				return
			}
			wantCounts(t, st, 1, 0, 0, 0)
			got, err := w.rdb.PExpireTime(ctx, p+"k").Result()
			if err != nil {
				t.Fatal(err)
			}
			if want := time.Duration(tt.want.UnixMilli()) * time.Millisecond; got != want {
				t.Fatalf("PEXPIRETIME = %v; want %v (%s)", got, want, tt.want)
			}
		})
	}
	t.Run("duration", func(t *testing.T) {
		p := prefix + "duration:"
		rec := wrecord(t, wcol{"id", arrow.BinaryTypes.String, strs("k", "z")},
			wcol{"exp", &arrow.DurationType{Unit: arrow.Microsecond}, []any{45 * time.Minute, time.Duration(0)}})
		st := write(t, w, rec, shard.WriteOptions{Prefix: p, KeyColumns: []string{"id"}, TTLColumn: "exp"})
		wantCounts(t, st, 1, 0, 0, 1)
		if d := pttl(t, w, p+"k"); d <= 44*time.Minute || d > 45*time.Minute {
			t.Fatalf("PTTL = %v; want about 45m", d)
		}
	})
}

func testWriteAutomaticKeys(t *testing.T, w *writeTarget, prefix string) {
	const n = 700
	mk := func(base int) arrow.RecordBatch {
		vals := make([]any, n)
		for i := range vals {
			vals[i] = int64(base + i)
		}
		return wrecord(t, wcol{"v", arrow.PrimitiveTypes.Int64, vals})
	}
	// Two chunks of one job, the second first: keys come from the global
	// row index, not from the order of the calls.
	st2 := write(t, w, mk(n), shard.WriteOptions{Prefix: prefix, IndexOffset: n, Pipeline: 64})
	st1 := write(t, w, mk(0), shard.WriteOptions{Prefix: prefix, IndexOffset: 0, Pipeline: 64})
	wantCounts(t, st1, n, 0, 0, 0)
	wantCounts(t, st2, n, 0, 0, 0)
	keys := keysWithPrefix(t, w, prefix)
	if len(keys) != 2*n {
		t.Fatalf("%d keys; want %d (the chunks collided or lost rows)", len(keys), 2*n)
	}
	for i := 0; i < 2*n; i++ {
		wantHash(t, w, prefix+strconv.Itoa(i), map[string]string{"v": strconv.Itoa(i)})
	}
}

func testWriteNulls(t *testing.T, w *writeTarget, prefix string) {
	ctx := context.Background()
	rec := wrecord(t,
		wcol{"a", arrow.BinaryTypes.String, strs("x", "<null>", "<null>")},
		wcol{"b", arrow.PrimitiveTypes.Float64, []any{nil, 2.5, nil}},
		wcol{"c", arrow.FixedWidthTypes.Boolean, []any{nil, nil, nil}},
	)
	// Row 2 has every field null: rejected in every mode, and an existing
	// key under its name is left as it is.
	if err := w.rdb.HSet(ctx, prefix+"2", "keep", "me").Err(); err != nil {
		t.Fatal(err)
	}
	st := write(t, w, rec, shard.WriteOptions{Prefix: prefix})
	wantCounts(t, st, 2, 0, 0, 1)
	wantHash(t, w, prefix+"0", map[string]string{"a": "x"})
	wantHash(t, w, prefix+"1", map[string]string{"b": "2.5"})
	wantHash(t, w, prefix+"2", map[string]string{"keep": "me"})
	if f := st.Failures; len(f) != 1 || f[0].Row != 2 || f[0].Key != prefix+"2" || !strings.Contains(f[0].Err, "every field is null") {
		t.Fatalf("failures %+v; want row 2 'every field is null'", f)
	}
}

func testWriteBadKeys(t *testing.T, w *writeTarget, prefix string) {
	rec := wrecord(t,
		wcol{"id", arrow.BinaryTypes.String, strs("ok1", "<null>", "", "ok2", "<null>", "<null>")},
		wcol{"v", arrow.PrimitiveTypes.Int64, []any{int64(1), int64(2), int64(3), int64(4), int64(5), int64(6)}},
	)
	st := write(t, w, rec, shard.WriteOptions{Prefix: prefix, KeyColumns: []string{"id"}, IndexOffset: 1000, MaxFailures: 2})
	wantCounts(t, st, 2, 0, 0, 4)
	want := []shard.KeyFailure{
		{Row: 1001, Err: `key column "id" is null`},
		{Row: 1002, Err: `key column "id" is empty`},
	}
	if !slices.Equal(st.Failures, want) {
		t.Fatalf("failures %+v; want %+v (capped at 2, lowest rows)", st.Failures, want)
	}
	if keys := keysWithPrefix(t, w, prefix); !slices.Equal(keys, []string{prefix + "ok1", prefix + "ok2"}) {
		t.Fatalf("keys %v; want only the two good rows (no made-up keys)", keys)
	}
}

func testWriteCompositeKey(t *testing.T, w *writeTarget, prefix string) {
	rec := wrecord(t,
		wcol{"country", arrow.BinaryTypes.String, strs("de", "fr", "fr")},
		wcol{"n", arrow.PrimitiveTypes.Int64, []any{int64(7), int64(-1), nil}},
		wcol{"day", arrow.FixedWidthTypes.Date32, []any{time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}},
	)
	st := write(t, w, rec, shard.WriteOptions{Prefix: prefix, KeyColumns: []string{"country", "n", "day"}})
	wantCounts(t, st, 2, 0, 0, 1)
	wantHash(t, w, prefix+"de:7:2024-02-29", map[string]string{"country": "de", "n": "7", "day": "2024-02-29"})
	wantHash(t, w, prefix+"fr:-1:1969-12-31", map[string]string{"country": "fr", "n": "-1", "day": "1969-12-31"})
	if f := st.Failures; len(f) != 1 || f[0].Row != 2 || f[0].Err != `key column "n" is null` {
		t.Fatalf("failures %+v", f)
	}
}

func testWriteWrongType(t *testing.T, w *writeTarget, prefix string) {
	ctx := context.Background()
	for _, mode := range []shard.WriteMode{shard.ModeReplace, shard.ModeAppend, shard.ModeSkip} {
		for _, ttl := range []time.Duration{0, time.Hour} {
			t.Run(fmt.Sprintf("%s-ttl%v", mode, ttl > 0), func(t *testing.T) {
				p := fmt.Sprintf("%s%s:%v:", prefix, mode, ttl > 0)
				if err := w.rdb.RPush(ctx, p+"b", "l1", "l2").Err(); err != nil {
					t.Fatal(err)
				}
				rec := wrecord(t, wcol{"id", arrow.BinaryTypes.String, strs("a", "b", "c")}, wcol{"v", arrow.BinaryTypes.String, strs("1", "2", "3")})
				st := write(t, w, rec, shard.WriteOptions{Prefix: p, KeyColumns: []string{"id"}, Mode: mode, TTL: ttl})
				wantCounts(t, st, 2, 0, 1, 0)
				if f := st.Failures; len(f) != 1 || f[0].Key != p+"b" || f[0].Row != 1 || !strings.HasPrefix(f[0].Err, "WRONGTYPE") {
					t.Fatalf("failures %+v; want key %sb row 1 WRONGTYPE", f, p)
				}
				if l, err := w.rdb.LRange(ctx, p+"b", 0, -1).Result(); err != nil || !slices.Equal(l, []string{"l1", "l2"}) {
					t.Fatalf("the list was touched: %v %v", l, err)
				}
				if d := pttl(t, w, p+"b"); d != -1 {
					t.Fatalf("the list got an expiry: %v", d)
				}
				wantHash(t, w, p+"a", map[string]string{"id": "a", "v": "1"})
				wantHash(t, w, p+"c", map[string]string{"id": "c", "v": "3"})
			})
		}
	}
}

func testWriteRetry(t *testing.T, w *writeTarget, prefix string) {
	ctx := context.Background()
	n := 300
	ids, vals, ttls := make([]any, n), make([]any, n), make([]any, n)
	for i := range n {
		ids[i] = fmt.Sprintf("k%d", i%250) // some keys twice: last row wins
		if i%7 != 0 {
			vals[i] = fmt.Sprintf("v%d", i)
		}
		if i%3 == 0 {
			ttls[i] = int64(3600 + i)
		}
	}
	rec := wrecord(t, wcol{"id", arrow.BinaryTypes.String, ids}, wcol{"v", arrow.BinaryTypes.String, vals}, wcol{"ttl", arrow.PrimitiveTypes.Int64, ttls})
	for _, mode := range []shard.WriteMode{shard.ModeReplace, shard.ModeAppend, shard.ModeSkip} {
		t.Run(string(mode), func(t *testing.T) {
			p := prefix + string(mode) + ":"
			// Some keys exist before, with other fields.
			for i := 0; i < 250; i += 10 {
				if err := w.rdb.HSet(ctx, fmt.Sprintf("%sk%d", p, i), "old", "x", "v", "old").Err(); err != nil {
					t.Fatal(err)
				}
			}
			opts := shard.WriteOptions{Prefix: p, KeyColumns: []string{"id"}, Mode: mode, TTLColumn: "ttl", Pipeline: 32}
			write(t, w, rec, opts)
			first := snapshot(t, w, p)
			start := time.Now()
			st := write(t, w, rec, opts)
			if !sameState(t, first, snapshot(t, w, p), time.Since(start)+time.Second) {
				t.Fatal("a retried write changed the state")
			}
			if len(first) != 250 {
				t.Fatalf("%d keys; want 250", len(first))
			}
			if mode == shard.ModeSkip && st.Skipped != int64(n) {
				t.Fatalf("retry in skip mode: %+v; want every row skipped", st)
			}
		})
	}
}

func testWriteDuplicateKeys(t *testing.T, w *writeTarget, prefix string) {
	n := 2000
	ids, vals := make([]any, n), make([]any, n)
	for i := range n {
		ids[i] = fmt.Sprintf("k%d", i%20)
		vals[i] = int64(i)
	}
	rec := wrecord(t, wcol{"id", arrow.BinaryTypes.String, ids}, wcol{"v", arrow.PrimitiveTypes.Int64, vals})
	st := write(t, w, rec, shard.WriteOptions{Prefix: prefix, KeyColumns: []string{"id"}, Pipeline: 8, InFlight: 4})
	wantCounts(t, st, int64(n), 0, 0, 0)
	for k := range 20 {
		wantHash(t, w, fmt.Sprintf("%sk%d", prefix, k), map[string]string{"id": fmt.Sprintf("k%d", k), "v": strconv.Itoa(n - 20 + k)})
	}
}

func testWriteManyFields(t *testing.T, w *writeTarget, prefix string) {
	// More values than Lua's unpack takes at once: the script writes in chunks.
	const nf = 3001
	cols := []wcol{{"id", arrow.BinaryTypes.String, strs("wide")}}
	want := map[string]string{"id": "wide"}
	for i := range nf {
		name := fmt.Sprintf("f%04d", i)
		cols = append(cols, wcol{name, arrow.PrimitiveTypes.Int64, []any{int64(i)}})
		want[name] = strconv.Itoa(i)
	}
	rec := wrecord(t, cols...)
	for _, mode := range []shard.WriteMode{shard.ModeReplace, shard.ModeSkip} {
		p := prefix + string(mode) + ":"
		st := write(t, w, rec, shard.WriteOptions{Prefix: p, KeyColumns: []string{"id"}, Mode: mode, TTL: time.Hour})
		wantCounts(t, st, 1, 0, 0, 0)
		wantHash(t, w, p+"wide", want)
	}
}

func testWriteNoScript(t *testing.T, w *writeTarget, prefix string) {
	ctx := context.Background()
	rec := wrecord(t, wcol{"v", arrow.PrimitiveTypes.Int64, []any{int64(1), int64(2), int64(3)}})
	write(t, w, rec, shard.WriteOptions{Prefix: prefix + "1:"})
	// A flushed script cache (as after a restart or failover) is reloaded.
	flush := func(c *redis.Client) error { return c.ScriptFlush(ctx).Err() }
	var err error
	if cc, ok := w.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return flush(m) })
	} else {
		err = flush(w.rdb.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
	st := write(t, w, rec, shard.WriteOptions{Prefix: prefix + "2:"})
	wantCounts(t, st, 3, 0, 0, 0)
	wantHash(t, w, prefix+"2:2", map[string]string{"v": "3"})
}

func testWriteManyKeys(t *testing.T, w *writeTarget, prefix string) {
	// Enough keys to spread over every master and several pipelines per lane.
	const n = 5000
	ids, vals := make([]any, n), make([]any, n)
	for i := range n {
		ids[i] = fmt.Sprintf("u%05d", i)
		vals[i] = float64(i) / 4
	}
	rec := wrecord(t, wcol{"id", arrow.BinaryTypes.String, ids}, wcol{"score", arrow.PrimitiveTypes.Float64, vals})
	for _, mode := range []shard.WriteMode{shard.ModeReplace, shard.ModeAppend, shard.ModeSkip} {
		p := prefix + string(mode) + ":"
		st := write(t, w, rec, shard.WriteOptions{Prefix: p, KeyColumns: []string{"id"}, Mode: mode, Pipeline: 100})
		wantCounts(t, st, n, 0, 0, 0)
		keys := keysWithPrefix(t, w, p)
		if len(keys) != n {
			t.Fatalf("%s: %d keys; want %d", mode, len(keys), n)
		}
		for i := 0; i < n; i += 499 {
			wantHash(t, w, fmt.Sprintf("%su%05d", p, i), map[string]string{"id": fmt.Sprintf("u%05d", i), "score": strconv.FormatFloat(float64(i)/4, 'f', -1, 64)})
		}
	}
}

// TestWriteOptionsValidate checks option validation without Redis.
func TestWriteOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts shard.WriteOptions
		want string // "" = valid
	}{
		{"zero", shard.WriteOptions{}, ""},
		{"defaults", shard.DefaultWriteOptions(), ""},
		{"mode", shard.WriteOptions{Mode: "upsert"}, "write mode"},
		{"pipeline", shard.WriteOptions{Pipeline: -1}, "pipeline"},
		{"failures", shard.WriteOptions{MaxFailures: -1}, "max failures"},
		{"inflight", shard.WriteOptions{InFlight: 65}, "in-flight"},
		{"negative ttl", shard.WriteOptions{TTL: -time.Second}, "negative"},
		{"tiny ttl", shard.WriteOptions{TTL: time.Microsecond}, "1ms"},
		{"both ttls", shard.WriteOptions{TTL: time.Second, TTLColumn: "exp"}, "not both"},
		{"empty key column", shard.WriteOptions{KeyColumns: []string{"a", ""}}, "empty name"},
		{"repeated key column", shard.WriteOptions{KeyColumns: []string{"a", "a"}}, "twice"},
		{"key is ttl", shard.WriteOptions{KeyColumns: []string{"a"}, TTLColumn: "a"}, "both a key column and the TTL column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, shard.ErrInvalidOptions) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v; want ErrInvalidOptions mentioning %q", err, tt.want)
			}
		})
	}
}

func TestParseWriteMode(t *testing.T) {
	for in, want := range map[string]shard.WriteMode{"replace": shard.ModeReplace, " Append ": shard.ModeAppend, "SKIP": shard.ModeSkip} {
		if got, err := shard.ParseWriteMode(in); err != nil || got != want {
			t.Errorf("ParseWriteMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fail", "replace,append"} {
		if _, err := shard.ParseWriteMode(in); !errors.Is(err, shard.ErrInvalidOptions) {
			t.Errorf("ParseWriteMode(%q) = %v; want ErrInvalidOptions", in, err)
		}
	}
}

// TestWriteBatchErrors: problems with the batch or the connection are
// returned as errors, not counted per key.
func TestWriteBatchErrors(t *testing.T) {
	s := redistest.StartServer(t)
	w := dialWriteTarget(t, s.URL(), s.Client())
	ctx := context.Background()
	rec := wrecord(t, wcol{"id", arrow.BinaryTypes.String, strs("a")}, wcol{"when", arrow.BinaryTypes.String, strs("soon")},
		wcol{"l", arrow.ListOf(arrow.PrimitiveTypes.Int64), []any{nil}})
	tests := []struct {
		name string
		opts shard.WriteOptions
		want string
	}{
		{"unknown key column", shard.WriteOptions{KeyColumns: []string{"nope"}}, `key column "nope" is not a column`},
		{"unknown ttl column", shard.WriteOptions{TTLColumn: "nope"}, `TTL column "nope" is not a column`},
		{"list ttl column", shard.WriteOptions{TTLColumn: "l"}, `TTL column "l" has type list`},
		{"strip prefix without key", shard.WriteOptions{StripPrefix: "c:"}, "needs key columns"},
		{"list column", shard.WriteOptions{}, `column 3 "l"`},
		{"bad options", shard.WriteOptions{Mode: "nope"}, "write mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := shard.WriteBatch(ctx, w.client, rec, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("WriteBatch = %v; want error containing %q", err, tt.want)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		ok := wrecord(t, wcol{"v", arrow.PrimitiveTypes.Int64, []any{int64(1)}})
		if _, err := shard.WriteBatch(cctx, w.client, ok, shard.WriteOptions{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("WriteBatch with a cancelled context = %v; want context.Canceled", err)
		}
	})
	t.Run("server down", func(t *testing.T) {
		n := 2000
		vals := make([]any, n)
		for i := range vals {
			vals[i] = int64(i)
		}
		many := wrecord(t, wcol{"v", arrow.PrimitiveTypes.Int64, vals})
		s.Kill()
		st, err := shard.WriteBatch(ctx, w.client, many, shard.WriteOptions{Prefix: "down:"})
		if err == nil || !strings.Contains(err.Error(), s.Addr()) {
			t.Fatalf("WriteBatch with the server down = %v; want an error naming %s", err, s.Addr())
		}
		if st.Failed != 0 || st.Written != 0 {
			t.Fatalf("a connection error was counted per key: %+v", st)
		}
	})
}

// TestWriteClusterNodeDown: a master that cannot be reached fails the
// write with an error naming a node, instead of failing its keys one by
// one.
func TestWriteClusterNodeDown(t *testing.T) {
	cl := redistest.StartCluster(t, redistest.ClusterOptions{})
	w := dialWriteTarget(t, cl.URL(), cl.Client())
	n := 3000
	vals := make([]any, n)
	for i := range vals {
		vals[i] = int64(i)
	}
	rec := wrecord(t, wcol{"v", arrow.PrimitiveTypes.Int64, vals})
	write(t, w, rec, shard.WriteOptions{Prefix: "up:"})
	down := cl.Masters()[1].Addr()
	cl.KillNode(1)
	for _, mode := range []shard.WriteMode{shard.ModeAppend, shard.ModeReplace} {
		st, err := shard.WriteBatch(context.Background(), w.client, rec, shard.WriteOptions{Prefix: "down:", Mode: mode})
		if err == nil || !strings.Contains(err.Error(), down) {
			t.Fatalf("%s with master %s down: err %v; want an error naming a node", mode, down, err)
		}
		if st.Failed != 0 {
			t.Fatalf("%s: a node error was counted per key: %+v", mode, st)
		}
		t.Logf("%s: %v", mode, err)
	}
}

// commandCalls sums INFO commandstats calls of the commands over every
// master.
func commandCalls(t *testing.T, w *writeTarget, names ...string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	out := map[string]int64{}
	add := func(c *redis.Client) error {
		info, err := c.Info(ctx, "commandstats").Result()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(info, "\n") {
			for _, n := range names {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+n+":calls="); ok {
					v, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
					out[n] += v
				}
			}
		}
		return nil
	}
	var err error
	if cc, ok := w.rdb.(*redis.ClusterClient); ok {
		var mu = make(chan struct{}, 1)
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			mu <- struct{}{}
			defer func() { <-mu }()
			return add(m)
		})
	} else {
		err = add(w.rdb.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// testWritePaths checks which commands write: RESTORE for new keys; for
// keys that exist, the restore script (replace), TYPE (skip) or HSET
// (append); without RESTORE, the write script or HSET.
func testWritePaths(t *testing.T, w *writeTarget, prefix string) {
	const n = 300
	ids, vals := make([]any, n), make([]any, n)
	for i := range n {
		ids[i] = fmt.Sprintf("p%d", i)
		vals[i] = int64(i)
	}
	rec := wrecord(t, wcol{"id", arrow.BinaryTypes.String, ids}, wcol{"v", arrow.PrimitiveTypes.Int64, vals})
	restoreOn := !strings.Contains(prefix, ":no-restore")
	scripts := "evalsha"
	if strings.Contains(prefix, "no-scripts:") {
		scripts = "watch" // the watch path: one WATCH per key here (Pipeline 20, keys of many slots or groups)
	}
	for _, mode := range []shard.WriteMode{shard.ModeReplace, shard.ModeAppend, shard.ModeSkip} {
		p := prefix + string(mode) + ":"
		existing := map[shard.WriteMode]string{shard.ModeReplace: scripts, shard.ModeAppend: "hset", shard.ModeSkip: "type"}[mode]
		if !restoreOn && mode == shard.ModeSkip {
			existing = scripts
		}
		// Warm up: the scripts may have been flushed (the noscript case),
		// and NOSCRIPT replies count as calls.
		warm := wrecord(t, wcol{"id", arrow.BinaryTypes.String, strs("w")})
		write(t, w, warm, shard.WriteOptions{Prefix: p, KeyColumns: []string{"id"}, Mode: mode})
		write(t, w, warm, shard.WriteOptions{Prefix: p, KeyColumns: []string{"id"}, Mode: mode})
		opts := shard.WriteOptions{Prefix: p, KeyColumns: []string{"id"}, Mode: mode, Pipeline: 20, InFlight: 1}
		before := commandCalls(t, w, "restore", existing)
		write(t, w, rec, opts)
		mid := commandCalls(t, w, "restore", existing)
		st := write(t, w, rec, opts)
		after := commandCalls(t, w, "restore", existing)
		if mode == shard.ModeSkip {
			wantCounts(t, st, 0, n, 0, 0)
		} else {
			wantCounts(t, st, n, 0, 0, 0)
		}
		newRestore, newOther := mid["restore"]-before["restore"], mid[existing]-before[existing]
		oldRestore, oldOther := after["restore"]-mid["restore"], after[existing]-mid[existing]
		if existing == "watch" {
			// One WATCH per group of keys (a pipeline's keys on a
			// standalone server, a slot's on a cluster): count keys.
			newOther, oldOther = keysPerCall(newOther, n), keysPerCall(oldOther, n)
		}
		if !restoreOn {
			if newRestore != 0 || oldRestore != 0 || newOther != n || oldOther != n {
				t.Errorf("%s without RESTORE: new keys %d RESTORE, %d %s; existing keys %d RESTORE, %d %s; want 0, %d, 0, %d",
					mode, newRestore, newOther, existing, oldRestore, oldOther, existing, n, n)
			}
			continue
		}
		if newRestore != n || newOther != 0 {
			t.Errorf("%s, new keys: %d RESTORE and %d %s calls; want %d and 0", mode, newRestore, newOther, existing, n)
		}
		if oldOther != n {
			t.Errorf("%s, existing keys: %d %s calls; want %d", mode, oldOther, existing, n)
		}
		// After a pipeline that found its keys present the lane stops
		// trying RESTORE for a while (8 pipelines, then 16), so only a few
		// pipelines per lane are refused with BUSYKEY. The restore script
		// calls RESTORE once per key itself.
		probes := oldRestore
		if mode == shard.ModeReplace {
			probes -= n
		}
		if probes < 0 || probes > n/4 {
			t.Errorf("%s, existing keys: %d RESTORE attempts refused with BUSYKEY; want a few pipelines' worth", mode, probes)
		}
	}
}

// keysPerCall is n when calls lie between n/20 (a pipeline of 20 keys per
// WATCH) and n (one per key), else calls.
func keysPerCall(calls, n int64) int64 {
	if calls >= n/20 && calls <= n {
		return n
	}
	return calls
}

// TestWriteRestoreRefused: a server that refuses RESTORE (the command
// renamed away, or not allowed to the user by an ACL) still gets every
// row, through HSET and the write script.
func TestWriteRestoreRefused(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		extra []string
		setup func(t *testing.T, s *redistest.Server) string // returns the URL to dial
	}{
		{"renamed", []string{`rename-command RESTORE ""`}, func(t *testing.T, s *redistest.Server) string {
			if err := s.Client().Do(ctx, "restore", "x", 0, "payload").Err(); err == nil || !strings.Contains(err.Error(), "unknown command") {
				t.Fatalf("RESTORE on the test server: %v; want it unknown", err)
			}
			return s.URL()
		}},
		{"acl", nil, func(t *testing.T, s *redistest.Server) string {
			if err := s.Client().Do(ctx, "acl", "setuser", "loader", "on", ">secret", "~*", "+@all", "-restore").Err(); err != nil {
				t.Fatal(err)
			}
			return "redis://loader:secret@" + s.Addr()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := redistest.StartServerWith(t, redistest.ServerOptions{Extra: tt.extra})
			w := dialWriteTarget(t, tt.setup(t, s), s.Client())
			const n = 500
			vals := make([]any, n)
			for i := range vals {
				vals[i] = int64(i)
			}
			rec := wrecord(t, wcol{"v", arrow.PrimitiveTypes.Int64, vals})
			for _, mode := range []shard.WriteMode{shard.ModeReplace, shard.ModeAppend, shard.ModeSkip} {
				p := "refused:" + string(mode) + ":"
				st := write(t, w, rec, shard.WriteOptions{Prefix: p, Mode: mode, Pipeline: 64, TTL: time.Hour})
				wantCounts(t, st, n, 0, 0, 0)
				for i := 0; i < n; i += 97 {
					wantHash(t, w, p+strconv.Itoa(i), map[string]string{"v": strconv.Itoa(i)})
				}
			}
		})
	}
}

// TestWriteDuringMigration: keys of a slot that is moving between masters
// (some still on the source, some moved, some new) are all written, in
// every path: go-redis follows ASK for RESTORE, the scripts and TYPE.
func TestWriteDuringMigration(t *testing.T) {
	ctx := context.Background()
	cl := redistest.StartCluster(t, redistest.ClusterOptions{})
	w := dialWriteTarget(t, cl.URL(), cl.Client())
	const prefix = "{mig}:"
	slot := shard.KeySlot(prefix)
	from, err := cl.SlotOwner(ctx, slot)
	if err != nil || from < 0 {
		t.Fatalf("owner of slot %d: %d, %v", slot, from, err)
	}
	to := (from + 1) % 3
	const old, n = 300, 600
	for i := range old {
		if err := w.rdb.HSet(ctx, fmt.Sprintf("%sk%d", prefix, i), "old", "x", "v", "-1").Err(); err != nil {
			t.Fatal(err)
		}
	}
	m, err := cl.BeginMigration(ctx, slot, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if moved, err := m.Step(ctx, 100); err != nil || moved != 100 {
		t.Fatalf("moving 100 keys: %d, %v", moved, err)
	}
	ids, vals := make([]any, n), make([]any, n)
	for i := range n {
		ids[i] = fmt.Sprintf("k%d", i)
		vals[i] = int64(i)
	}
	rec := wrecord(t, wcol{"id", arrow.BinaryTypes.String, ids}, wcol{"v", arrow.PrimitiveTypes.Int64, vals})
	st := write(t, w, rec, shard.WriteOptions{Prefix: prefix, KeyColumns: []string{"id"}, Pipeline: 64})
	wantCounts(t, st, n, 0, 0, 0)
	st = write(t, w, rec, shard.WriteOptions{Prefix: prefix, KeyColumns: []string{"id"}, Mode: shard.ModeSkip, Pipeline: 64})
	wantCounts(t, st, 0, n, 0, 0)
	if err := m.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		wantHash(t, w, fmt.Sprintf("%sk%d", prefix, i), map[string]string{"id": fmt.Sprintf("k%d", i), "v": strconv.Itoa(i)})
	}
}

// Regression (issue 8, item 7): a text TTL column takes integer seconds,
// durations and datetimes; -1 and empty mean no expiry.
func testWriteTTLText(t *testing.T, w *writeTarget, prefix string) {
	at := time.Now().UTC().Add(3 * time.Hour).Truncate(time.Second)
	rec := wrecord(t,
		wcol{"id", arrow.BinaryTypes.String, strs("a", "b", "c", "d", "e", "f", "g", "h")},
		wcol{"ttl", arrow.BinaryTypes.String, strs("100", "90s", "1h30m", at.Format(time.RFC3339), "-1", "<null>", "soon", "2001-01-01")},
		wcol{"v", arrow.BinaryTypes.String, strs("1", "2", "3", "4", "5", "6", "7", "8")},
	)
	before := time.Now()
	st := write(t, w, rec, shard.WriteOptions{Prefix: prefix, KeyColumns: []string{"id"}, TTLColumn: "ttl"})
	wantCounts(t, st, 6, 0, 0, 2)
	elapsed := time.Since(before)
	for k, want := range map[string]time.Duration{"a": 100 * time.Second, "b": 90 * time.Second, "c": 90 * time.Minute} {
		if d := pttl(t, w, prefix+k); d <= want-elapsed-2*time.Second || d > want {
			t.Errorf("PTTL %s = %v; want about %v", k, d, want)
		}
	}
	if d, want := pttl(t, w, prefix+"d"), time.Until(at); d < want-5*time.Second || d > want+time.Second {
		t.Errorf("PTTL d = %v; want about %v (expire at %s)", d, want, at)
	}
	for _, k := range []string{"e", "f"} {
		if d := pttl(t, w, prefix+k); d != -1 {
			t.Errorf("%s: PTTL = %v; want -1 (no expiry)", k, d)
		}
	}
	if len(st.Failures) != 2 || !strings.Contains(st.Failures[0].Err, `"soon" is not a TTL`) || !strings.Contains(st.Failures[1].Err, "not in the future") {
		t.Errorf("failures %+v", st.Failures)
	}
	wantHash(t, w, prefix+"b", map[string]string{"id": "b", "v": "2"})
}

// Regression (issue 8, item 5): scan's _key column can be the key with its
// old prefix replaced, and excluded columns are not written as fields.
func testWriteStripPrefixExclude(t *testing.T, w *writeTarget, prefix string) {
	rec := wrecord(t,
		wcol{"_key", arrow.BinaryTypes.String, strs("customer:1", "customer:2", "other:3", "customer:")},
		wcol{"name", arrow.BinaryTypes.String, strs("a", "b", "c", "d")},
		wcol{"_index", arrow.PrimitiveTypes.Int64, []any{int64(0), int64(1), int64(2), int64(3)}},
	)
	st := write(t, w, rec, shard.WriteOptions{Prefix: prefix, KeyColumns: []string{"_key"}, StripPrefix: "customer:",
		Exclude: []string{"_key", "_ttl", "_index"}})
	wantCounts(t, st, 2, 0, 0, 2)
	wantHash(t, w, prefix+"1", map[string]string{"name": "a"})
	wantHash(t, w, prefix+"2", map[string]string{"name": "b"})
	if !strings.Contains(st.Failures[0].Err, `does not start with the prefix to strip "customer:"`) || !strings.Contains(st.Failures[1].Err, "empty") {
		t.Errorf("failures %+v", st.Failures)
	}
}
