package shard_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/redis/go-redis/v9"

	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/internal/redistest"
	"github.com/redstage/redstage/shard"
)

// keyState is what a test compares of one key: type, hash fields, and
// whether it expires.
func keyState(t *testing.T, rdb redis.UniversalClient, key string) string {
	t.Helper()
	ctx := context.Background()
	typ, err := rdb.Type(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	ttl, err := rdb.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	s := fmt.Sprintf("%s ttl=%v", typ, ttl > 0)
	if typ == "hash" {
		m, err := rdb.HGetAll(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range sortedKeys(m) {
			s += " " + k + "=" + m[k]
		}
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}

// seedExisting creates the keys a write meets under prefix p: 0 a hash
// with an expiry, 1 a list, 2 nothing, 3 a hash without expiry, 4 a hash
// whose row is too long for a listpack.
func seedExisting(t *testing.T, rdb redis.UniversalClient, p string) {
	t.Helper()
	ctx := context.Background()
	pipe := rdb.Pipeline()
	pipe.HSet(ctx, p+"0", "a", "old", "z", "keep")
	pipe.Expire(ctx, p+"0", time.Hour)
	pipe.RPush(ctx, p+"1", "x")
	pipe.HSet(ctx, p+"3", "a", "old", "z", "keep")
	pipe.HSet(ctx, p+"4", "z", "keep")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestWriteWithoutEval: a user allowed RESTORE (or not) but denied
// EVAL/EVALSHA/SCRIPT writes every mode, with and without expiries, to the
// same final state as a user with scripts, and a second run (a retried
// task) leaves that state unchanged.
func TestWriteWithoutEval(t *testing.T) {
	s := redistest.StartServer(t)
	admin := s.Client()
	users := map[string]string{
		"noeval":        s.ACLUser(t, "noeval", "+@all", "-eval", "-evalsha", "-script", "-eval_ro", "-evalsha_ro"),
		"noeval_norest": s.ACLUser(t, "noeval_norest", "+@all", "-eval", "-evalsha", "-script", "-eval_ro", "-evalsha_ro", "-restore"),
	}
	ref := dialWriteTarget(t, s.URL(), admin)
	long := strings.Repeat("L", 100)
	key := []any{"0", "1", "2", "3", "4"}
	a := []any{"new0", "new1", "new2", "new3", "new4"}
	b := []any{"b", "b", nil, "b", long}
	ttl := []any{int64(3600), nil, int64(60), nil, int64(60)}
	rec := wrecord(t, wcol{"k", arrow.BinaryTypes.String, key}, wcol{"a", arrow.BinaryTypes.String, a},
		wcol{"b", arrow.BinaryTypes.String, b}, wcol{"ttl", arrow.PrimitiveTypes.Int64, ttl})
	for name, url := range users {
		w := dialWriteTarget(t, url, admin)
		for _, mode := range []shard.WriteMode{shard.ModeReplace, shard.ModeAppend, shard.ModeSkip} {
			for _, ttlCol := range []string{"", "ttl"} {
				t.Run(fmt.Sprintf("%s/%s/ttl=%q", name, mode, ttlCol), func(t *testing.T) {
					p := fmt.Sprintf("%s:%s:%s:", name, mode, ttlCol)
					rp := "ref:" + p
					seedExisting(t, admin, p)
					seedExisting(t, admin, rp)
					opts := shard.WriteOptions{Prefix: p, KeyColumns: []string{"k"}, Mode: mode, TTLColumn: ttlCol, Pipeline: 2}
					before := commandCalls(t, w, "watch", "evalsha")
					got := write(t, w, rec, opts)
					after := commandCalls(t, w, "watch", "evalsha")
					opts.Prefix = rp
					want := write(t, ref, rec, opts)
					if got.Written != want.Written || got.Skipped != want.Skipped || got.Failed != want.Failed || got.Failed != 1 {
						t.Fatalf("without EVAL: %+v; with EVAL: %+v (want the list key failed, nothing else)", got, want)
					}
					// Append without expiry is HSET, skip with RESTORE a TYPE probe:
					// neither needs a script.
					if (mode != shard.ModeAppend || ttlCol != "") && (mode != shard.ModeSkip || name == "noeval_norest") {
						if after["watch"] == before["watch"] {
							t.Errorf("no WATCH sent: the keys did not take the path without scripts")
						}
					}
					first := map[string]string{}
					for _, k := range key {
						first[k.(string)] = keyState(t, admin, p+k.(string))
						if r := keyState(t, admin, rp+k.(string)); first[k.(string)] != r {
							t.Errorf("key %s: without EVAL %q; with EVAL %q", k, first[k.(string)], r)
						}
					}
					opts.Prefix = p
					again := write(t, w, rec, opts)
					if again.Failed != 1 || again.Written+again.Skipped != got.Written+got.Skipped {
						t.Errorf("second run %+v; first %+v", again, got)
					}
					for _, k := range key {
						if st := keyState(t, admin, p+k.(string)); st != first[k.(string)] {
							t.Errorf("key %s after a second run: %q; after the first %q", k, st, first[k.(string)])
						}
					}
				})
			}
		}
	}
}

// TestWriteReadOnlyUser: a user who may not write gets one error naming a
// refused command, typed ErrNoPermission; no key is counted as failed and
// nothing is written.
func TestWriteReadOnlyUser(t *testing.T) {
	s := redistest.StartServer(t)
	url := s.ACLUser(t, "reader", "+@read", "+@connection", "+info")
	w := dialWriteTarget(t, url, s.Client())
	vals := make([]any, 100)
	for i := range vals {
		vals[i] = int64(i)
	}
	rec := wrecord(t, wcol{"v", arrow.PrimitiveTypes.Int64, vals})
	for _, mode := range []shard.WriteMode{shard.ModeReplace, shard.ModeAppend, shard.ModeSkip} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		st, err := shard.WriteBatch(ctx, w.client, rec, shard.WriteOptions{Prefix: "ro:", Mode: mode})
		cancel()
		var ae *shard.AccessError
		if !errors.Is(err, shard.ErrNoPermission) || !errors.As(err, &ae) || ae.Command == "" {
			t.Fatalf("%s: err %v; want an AccessError of ErrNoPermission naming the command", mode, err)
		}
		if !strings.Contains(err.Error(), strings.ToUpper(ae.Command)) {
			t.Errorf("%s: message %q does not name %s", mode, err, strings.ToUpper(ae.Command))
		}
		if st.Failed != 0 || st.Written != 0 {
			t.Errorf("%s: stats %+v; want no key counted", mode, st)
		}
	}
	if keys := keysWithPrefix(t, w, "ro:"); len(keys) != 0 {
		t.Fatalf("read-only user wrote %d keys", len(keys))
	}
}

// TestWriteListpackLimits: with non-default hash-max-listpack-value and
// -entries, keys written by WriteBatch (new keys through RESTORE, existing
// ones replaced) have the encoding HSET gives the same fields, also after
// DEBUG RELOAD, whether or not the user may read the configuration.
func TestWriteListpackLimits(t *testing.T) {
	s := redistest.StartServerWith(t, redistest.ServerOptions{Extra: []string{
		"hash-max-listpack-value 16", "hash-max-listpack-entries 4", "enable-debug-command yes"}})
	admin := s.Client()
	ctx := context.Background()
	urls := map[string]string{
		"default":  s.URL(),
		"noconfig": s.ACLUser(t, "noconfig", "+@all", "-config"),
	}
	v := func(n int) string { return strings.Repeat("v", n) }
	// Rows: long values (63, 17 bytes), values at the limit, too many fields.
	cols := []wcol{{"k", arrow.BinaryTypes.String, []any{"long63", "long17", "at16", "many", "short"}}}
	for f := range 5 {
		vals := []any{v(63), v(17), v(16), "x", "1"}
		if f >= 3 {
			vals = []any{nil, nil, nil, "y", nil} // only "many" has 5 fields
		}
		cols = append(cols, wcol{"f" + strconv.Itoa(f), arrow.BinaryTypes.String, vals})
	}
	rec := wrecord(t, cols...)
	for user, url := range urls {
		w := dialWriteTarget(t, url, admin)
		for _, mode := range []shard.WriteMode{shard.ModeReplace, shard.ModeSkip} {
			p := user + ":" + string(mode) + ":"
			if mode == shard.ModeReplace {
				// Existing keys: replaced through the restore script.
				for _, k := range cols[0].vals {
					admin.HSet(ctx, p+k.(string), "old", "x")
				}
			}
			write(t, w, rec, shard.WriteOptions{Prefix: p, KeyColumns: []string{"k"}, Mode: mode})
			for _, k := range cols[0].vals {
				key := p + k.(string)
				m, err := admin.HGetAll(ctx, key).Result()
				if err != nil {
					t.Fatal(err)
				}
				ref := "hset:" + key
				admin.Del(ctx, ref)
				admin.HSet(ctx, ref, m)
				checkEncoding(t, admin, key, ref, "after the write")
			}
		}
	}
	if err := admin.Do(ctx, "debug", "reload").Err(); err != nil {
		t.Fatal(err)
	}
	for user := range urls {
		for _, mode := range []shard.WriteMode{shard.ModeReplace, shard.ModeSkip} {
			for _, k := range cols[0].vals {
				key := user + ":" + string(mode) + ":" + k.(string)
				checkEncoding(t, admin, key, "hset:"+key, "after DEBUG RELOAD")
			}
		}
	}
}

func checkEncoding(t *testing.T, rdb *redis.Client, key, ref, when string) {
	t.Helper()
	ctx := context.Background()
	got, err := rdb.ObjectEncoding(ctx, key).Result()
	if err != nil {
		t.Fatalf("OBJECT ENCODING %s: %v", key, err)
	}
	want, err := rdb.ObjectEncoding(ctx, ref).Result()
	if err != nil {
		t.Fatalf("OBJECT ENCODING %s: %v", ref, err)
	}
	if got != want {
		t.Errorf("%s %s: encoding %s; HSET of the same fields gives %s", key, when, got, want)
	}
}

// TestDialRefusals: credentials, a missing INFO permission and a database
// out of range are each reported as their own error kind (not as an
// unreachable server), naming what to fix.
func TestDialRefusals(t *testing.T) {
	s := redistest.StartServerWith(t, redistest.ServerOptions{Password: "secret"})
	noInfo := s.ACLUser(t, "noinfo", "+@all", "-info")
	host := s.Addr()
	tests := []struct {
		name, url string
		kind      error
		want      string
	}{
		{"noauth", "redis://" + host, shard.ErrAuth, "needs a password"},
		{"wrongpass", "redis://:wrong@" + host, shard.ErrAuth, "wrong user name or password"},
		{"wronguser", "redis://nobody:secret@" + host, shard.ErrAuth, "wrong user name or password"},
		{"no INFO", noInfo, shard.ErrNoPermission, "may not run INFO"},
		{"bad db", "redis://:secret@" + host + "/99", shard.ErrBadDB, "database"},
	}
	kinds := []error{shard.ErrAuth, shard.ErrNoPermission, shard.ErrBadDB}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := shard.Dial(ctx, tt.url)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			for _, k := range kinds {
				if errors.Is(err, k) != (k == tt.kind) {
					t.Errorf("errors.Is(err, %v) = %v; err %v", k, errors.Is(err, k), err)
				}
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("message %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("message %q shows the password", err)
			}
		})
	}
}

// TestScanDeleteRefusals: a user without SCAN gets ErrNoPermission naming
// SCAN from ScanPartition and DeletePartition; a read-only user's delete
// fails naming UNLINK, deleting nothing.
func TestScanDeleteRefusals(t *testing.T) {
	s := redistest.StartServer(t)
	ctx := context.Background()
	for i := range 50 {
		s.Client().HSet(ctx, "acl:"+strconv.Itoa(i), "f", i)
	}
	check := func(t *testing.T, err error, cmd string) {
		t.Helper()
		var ae *shard.AccessError
		if !errors.As(err, &ae) || !errors.Is(err, shard.ErrNoPermission) || ae.Command != cmd {
			t.Fatalf("err %v; want ErrNoPermission for %s", err, cmd)
		}
		if !strings.Contains(err.Error(), strings.ToUpper(cmd)) {
			t.Errorf("message %q does not name %s", err, strings.ToUpper(cmd))
		}
	}
	plan := func(t *testing.T, c *shard.Client) shard.Partition {
		parts, err := shard.PlanScan(ctx, c, shard.PlanOptions{Tasks: 1, Pattern: "acl:*"})
		if err != nil {
			t.Fatal(err)
		}
		return parts[0]
	}
	t.Run("no scan", func(t *testing.T) {
		w := dialWriteTarget(t, s.ACLUser(t, "noscan", "+@all", "-scan"), s.Client())
		p := plan(t, w.client)
		schema, err := codec.ParseSchemaSpec("f:int64")
		if err != nil {
			t.Fatal(err)
		}
		_, err = shard.ScanPartition(ctx, w.client, p, shard.ScanOptions{Pattern: "acl:*", Schema: schema}, func(arrow.RecordBatch) error { return nil })
		check(t, err, "scan")
		_, err = shard.DeletePartition(ctx, w.client, p, shard.DeleteOptions{Pattern: "acl:*"})
		check(t, err, "scan")
	})
	t.Run("read only delete", func(t *testing.T) {
		w := dialWriteTarget(t, s.ACLUser(t, "ro", "+@read", "+@connection", "+info", "+memory|stats"), s.Client())
		p := plan(t, w.client)
		ds, err := shard.DeletePartition(ctx, w.client, p, shard.DeleteOptions{Pattern: "acl:*"})
		check(t, err, "unlink")
		if ds.Deleted != 0 {
			t.Errorf("deleted %d", ds.Deleted)
		}
		if n := len(keysWithPrefix(t, w, "acl:")); n != 50 {
			t.Errorf("%d keys left; want 50", n)
		}
	})
}

// TestDeleteTypes: delete removes the keys of the chosen type (hash by
// default, or all) and counts the matching keys of other types it left.
func TestDeleteTypes(t *testing.T) {
	s := redistest.StartServer(t)
	ctx := context.Background()
	rdb := s.Client()
	seed := func() {
		rdb.FlushAll(ctx)
		for i := range 30 {
			n := strconv.Itoa(i)
			rdb.HSet(ctx, "t:h"+n, "f", n)
			if i < 10 {
				rdb.Set(ctx, "t:s"+n, n, 0)
				rdb.RPush(ctx, "t:l"+n, n)
				rdb.SAdd(ctx, "t:set"+n, n)
			}
		}
		rdb.Set(ctx, "other:s", "x", 0)
	}
	c := dialWriteTarget(t, s.URL(), rdb).client
	tests := []struct {
		typ                    string
		matched, other, remain int64
	}{
		{"", 30, 30, 31},
		{"hash", 30, 30, 31},
		{"string", 10, 50, 51},
		{"all", 60, 0, 1},
		{"any", 60, 0, 1},
	}
	for _, tt := range tests {
		for _, dry := range []bool{true, false} {
			seed()
			parts, err := shard.PlanScan(ctx, c, shard.PlanOptions{Tasks: 4, Pattern: "t:*"})
			if err != nil {
				t.Fatal(err)
			}
			var sum shard.DeleteStats
			for _, p := range parts {
				ds, err := shard.DeletePartition(ctx, c, p, shard.DeleteOptions{Pattern: "t:*", Type: tt.typ, DryRun: dry})
				if err != nil {
					t.Fatal(err)
				}
				sum.Matched += ds.Matched
				sum.Deleted += ds.Deleted
				sum.OtherTypes += ds.OtherTypes
			}
			deleted := tt.matched
			remain := tt.remain
			if dry {
				deleted, remain = 0, 61
			}
			if sum.Matched != tt.matched || sum.OtherTypes != tt.other || sum.Deleted != deleted {
				t.Errorf("type %q dry %v: %+v; want matched %d other %d deleted %d", tt.typ, dry, sum, tt.matched, tt.other, deleted)
			}
			if n := rdb.DBSize(ctx).Val(); n != remain {
				t.Errorf("type %q dry %v: %d keys left; want %d", tt.typ, dry, n, remain)
			}
		}
	}
	if _, err := shard.ParseDeleteType("lists"); !errors.Is(err, shard.ErrInvalidOptions) {
		t.Errorf("ParseDeleteType(lists): %v", err)
	}
}

// TestCheckWrite: the check before a load names a refused command exactly
// when no write path is left for the mode, and runs nothing.
func TestCheckWrite(t *testing.T) {
	s := redistest.StartServer(t)
	ctx := context.Background()
	users := map[string]string{
		"all":      s.URL(),
		"reader":   s.ACLUser(t, "reader", "+@read", "+@connection", "+info", "+multi", "+discard"),
		"noeval":   s.ACLUser(t, "noeval", "+@all", "-eval", "-evalsha", "-script"),
		"noevalwa": s.ACLUser(t, "noevalwa", "+@all", "-eval", "-evalsha", "-script", "-watch"),
		"hsetonly": s.ACLUser(t, "hsetonly", "+@connection", "+info", "+multi", "+discard", "+hset"),
		// Without MULTI only RESTORE and EVALSHA can be probed safely; HSET
		// is taken as allowed (WriteBatch reports it if not).
		"nomulti": s.ACLUser(t, "nomulti", "+@read", "+@connection", "+info"),
	}
	type mode struct {
		m   shard.WriteMode
		ttl time.Duration
	}
	modes := []mode{{shard.ModeReplace, 0}, {shard.ModeSkip, 0}, {shard.ModeAppend, 0}, {shard.ModeAppend, time.Hour}}
	// want: the refused command named per mode ("" = the check passes).
	want := map[string][]string{
		"all":      {"", "", "", ""},
		"reader":   {"hset", "hset", "hset", "hset"},
		"noeval":   {"", "", "", ""},
		"noevalwa": {"evalsha", "", "", "evalsha"},
		"hsetonly": {"evalsha", "evalsha", "", "evalsha"},
		"nomulti":  {"evalsha", "evalsha", "", "evalsha"},
	}
	for name, url := range users {
		w := dialWriteTarget(t, url, s.Client())
		for i, m := range modes {
			err := shard.CheckWrite(ctx, w.client, shard.WriteOptions{Prefix: "chk:", Mode: m.m, TTL: m.ttl})
			var ae *shard.AccessError
			switch {
			case want[name][i] == "" && err != nil:
				t.Errorf("%s %s ttl %v: %v; want the check to pass", name, m.m, m.ttl, err)
			case want[name][i] != "" && (!errors.As(err, &ae) || ae.Command != want[name][i] || !errors.Is(err, shard.ErrNoPermission)):
				t.Errorf("%s %s ttl %v: %v; want ErrNoPermission naming %s", name, m.m, m.ttl, err, want[name][i])
			}
		}
	}
	if n := s.Client().DBSize(ctx).Val(); n != 0 {
		t.Errorf("the check left %d keys", n)
	}
}
