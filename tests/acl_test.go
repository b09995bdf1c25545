package tests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redstage/redstage/internal/redistest"
)

// TestRedisRefusals: authentication failures, missing ACL permissions and
// a database out of range each end with their own exit code and a message
// naming the cause (never "unreachable"), fail without task retries, and
// write or delete nothing.
func TestRedisRefusals(t *testing.T) {
	srv := redistest.StartServerWith(t, redistest.ServerOptions{Password: "secret"})
	ctx := context.Background()
	for i := range 20 {
		srv.Client().HSet(ctx, "keep:"+strconv.Itoa(i), "f", i)
	}
	dir := t.TempDir()
	csv := filepath.Join(dir, "in.csv")
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "%d,n%d\n", i, i)
	}
	if err := os.WriteFile(csv, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	host := srv.Addr()
	reader := srv.ACLUser(t, "reader", "+@read", "+@connection", "+info")
	noScan := srv.ACLUser(t, "noscan", "+@all", "-scan")
	noInfo := srv.ACLUser(t, "noinfo", "+@all", "-info")
	noEvalWatch := srv.ACLUser(t, "noevalwatch", "+@all", "-eval", "-evalsha", "-script", "-watch")
	load := []string{"load", csv, "--key-column", "id", "--prefix", "p:"}
	scan := []string{"scan", "keep:*", "--schema", "f:int64", "-o", filepath.Join(dir, "out.parquet"), "--tasks", "1"}
	tests := []struct {
		name  string
		url   string
		args  []string
		code  int
		msg   []string
		tried bool // the job ran (a summary with attempts)
	}{
		{"NOAUTH", "redis://" + host, load, 11, []string{"authentication failed", "needs a password"}, false},
		{"WRONGPASS", "redis://:wrong@" + host, load, 11, []string{"authentication failed", "wrong user name or password"}, false},
		{"no INFO", noInfo, load, 12, []string{"permission denied", "may not run INFO"}, false},
		{"bad DB", "redis://:secret@" + host + "/99", load, 13, []string{"database out of range", "/99"}, false},
		{"read-only load", reader, load, 12, []string{"permission denied", "may not run EVALSHA", "checked before writing", "refused: MULTI, RESTORE, EVALSHA"}, false},
		{"replace without EVAL or WATCH", noEvalWatch, load, 12, []string{"permission denied", "may not run EVALSHA", "checked before writing"}, false},
		{"no SCAN", noScan, scan, 12, []string{"permission denied", "may not run SCAN"}, true},
		{"read-only delete", reader, []string{"delete", "keep:*"}, 12, []string{"permission denied", "may not run UNLINK"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{}, tt.args...), "--redis", tt.url, "--json")
			r := redstage(t, childEnv(), 2*time.Minute, args...)
			if r.code != tt.code {
				t.Fatalf("exit %d; want %d\n%s", r.code, tt.code, r)
			}
			for _, m := range tt.msg {
				if !strings.Contains(r.stderr, m) {
					t.Errorf("stderr lacks %q:\n%s", m, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "is Redis running") || strings.Contains(r.stderr, "unreachable") {
				t.Errorf("reported as unreachable:\n%s", r.stderr)
			}
			if strings.Contains(r.stderr, "secret") || strings.Contains(r.stdout, "secret") {
				t.Errorf("output shows the password:\n%s", r)
			}
			sum := r.summary(t)
			if got := sum["exit_code"]; got != float64(tt.code) {
				t.Errorf("summary exit_code %v; want %d", got, tt.code)
			}
			if tt.tried {
				// Failed at the first delivery: no task was retried.
				errs, _ := sum["task_errors"].([]any)
				if sum["state"] != "failed" || len(errs) == 0 {
					t.Errorf("state %v, task errors %v; want failed with the task's error", sum["state"], errs)
				}
				for _, e := range errs {
					if d := e.(map[string]any)["delivered"]; d != float64(1) {
						t.Errorf("task error %v: delivered %v times; want once (no retries)", e, d)
					}
				}
				if !strings.Contains(r.stderr, "failed after 1 attempt(s)") {
					t.Errorf("stderr does not say the task failed after 1 attempt:\n%s", r.stderr)
				}
			}
			if n := keyCount(t, serverSize{srv}); n != 20 {
				t.Errorf("%d keys in Redis; want the 20 seeded", n)
			}
		})
	}
}

// TestLoadWithoutEval: a user denied EVAL, EVALSHA and SCRIPT loads new
// keys and then replaces, skips and appends to them, every key written.
func TestLoadWithoutEval(t *testing.T) {
	srv := redistest.StartServer(t)
	url := srv.ACLUser(t, "noeval", "+@all", "-eval", "-evalsha", "-script")
	csv := filepath.Join(t.TempDir(), "in.csv")
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "%d,%s\n", i, strings.Repeat("n", i%100))
	}
	if err := os.WriteFile(csv, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"replace", "replace", "skip", "append"} {
		r := mustRedstage(t, childEnv(), 2*time.Minute, "load", csv, "--key-column", "id", "--prefix", "ne:",
			"--if-exists", mode, "--ttl", "3600", "--redis", url, "--json")
		s := r.summary(t)
		num := func(k string) float64 { f, _ := s[k].(float64); return f }
		if got := num("written") + num("skipped"); got != 2000 || (mode == "skip") != (num("skipped") == 2000) {
			t.Fatalf("%s: written %v skipped %v; want 2000 keys\n%s", mode, s["written"], s["skipped"], r)
		}
	}
	if n := keyCount(t, serverSize{srv}); n != 2000 {
		t.Fatalf("%d keys; want 2000", n)
	}
}

// TestDeleteAndScanOtherTypes: delete removes hashes by default and counts
// the matching keys of other types it left (summary and --json); --type
// all removes every type. scan counts the non-hash keys it skipped.
func TestDeleteAndScanOtherTypes(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	rdb := srv.Client()
	for i := range 30 {
		n := strconv.Itoa(i)
		rdb.HSet(ctx, "t:h"+n, "f", n)
		if i < 10 {
			rdb.Set(ctx, "t:s"+n, n, 0)
			rdb.RPush(ctx, "t:l"+n, n)
		}
	}
	env := childEnv("REDSTAGE_REDIS_URL=" + srv.URL())
	want := func(r result, key string, n float64) {
		t.Helper()
		if got := r.summary(t)[key]; got != n {
			t.Errorf("%s = %v; want %v\n%s", key, got, n, r)
		}
	}
	out := filepath.Join(t.TempDir(), "o.parquet")
	r := mustRedstage(t, env, 2*time.Minute, "scan", "t:*", "--schema", "f:utf8", "-o", out, "--json")
	want(r, "rows", 30)
	want(r, "other_types", 20)
	if !strings.Contains(r.stderr, "non-hash keys skipped") {
		t.Errorf("scan summary does not show the skipped keys:\n%s", r.stderr)
	}

	r = mustRedstage(t, env, 2*time.Minute, "delete", "t:*", "--dry-run", "--json")
	want(r, "matched", 30)
	want(r, "other_types", 20)
	r = mustRedstage(t, env, 2*time.Minute, "delete", "t:*", "--json")
	want(r, "deleted", 30)
	want(r, "other_types", 20)
	if !strings.Contains(r.stderr, "other types left") || !strings.Contains(r.stderr, "--type all") {
		t.Errorf("delete summary does not show the keys of other types:\n%s", r.stderr)
	}
	if n := rdb.DBSize(ctx).Val(); n != 20 {
		t.Fatalf("%d keys left after delete; want the 20 non-hash keys", n)
	}
	r = mustRedstage(t, env, 2*time.Minute, "delete", "t:*", "--type", "string", "--json")
	want(r, "deleted", 10)
	want(r, "other_types", 10)
	r = mustRedstage(t, env, 2*time.Minute, "delete", "t:*", "--type", "all", "--json")
	want(r, "deleted", 10)
	if n := rdb.DBSize(ctx).Val(); n != 0 {
		t.Fatalf("%d keys left after delete --type all", n)
	}
	r = redstage(t, env, time.Minute, "delete", "t:*", "--type", "lists")
	if r.code != 2 || !strings.Contains(r.stderr, "--type") {
		t.Errorf("delete --type lists: want a usage error naming --type\n%s", r)
	}
}

// TestLoadEveryKeyFailed: a load where no row could be written is failed
// (exit 6), not partial.
func TestLoadEveryKeyFailed(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	for i := range 5 {
		srv.Client().RPush(ctx, "l:"+strconv.Itoa(i), "x")
	}
	csv := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(csv, []byte("id,name\n0,a\n1,b\n2,c\n3,d\n4,e\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := redstage(t, childEnv("REDSTAGE_REDIS_URL="+srv.URL()), 2*time.Minute,
		"load", csv, "--key-column", "id", "--prefix", "l:", "--json")
	if r.code != 6 {
		t.Fatalf("exit %d; want 6 (failed)\n%s", r.code, r)
	}
	if s := r.summary(t); s["state"] != "failed" || s["failed"] != float64(5) {
		t.Errorf("summary state %v failed %v; want failed, 5", s["state"], s["failed"])
	}
}
