package cluster

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redstage/redstage/codec"
)

func TestJobSpecValidate(t *testing.T) {
	schema, err := codec.ParseSchemaSpec("name:utf8,age:int64")
	if err != nil {
		t.Fatal(err)
	}
	const url = "redis://127.0.0.1:6379"
	scan := func(p string) *ScanSpec {
		return &ScanSpec{Pattern: p, Schema: schema, Meta: codec.DefaultMetaColumns()}
	}
	cases := []struct {
		name string
		spec JobSpec
		want string // "" = valid; else a substring of the error
	}{
		{"scan ok", JobSpec{Kind: KindScan, Redis: url, Scan: scan("user:*")}, ""},
		{"rediss ok", JobSpec{Kind: KindScan, Redis: "rediss://u:p@h:6380/2", Scan: scan("*")}, ""},
		{"no redis", JobSpec{Kind: KindScan, Scan: scan("*")}, "redis URL missing"},
		{"bad scheme", JobSpec{Kind: KindScan, Redis: "http://h:1", Scan: scan("*")}, `scheme "http"`},
		{"password redacted", JobSpec{Kind: KindScan, Redis: "ftp://u:secret@h", Scan: scan("*")}, "xxxxx"},
		{"no kind", JobSpec{Redis: url}, "kind missing"},
		{"unknown kind", JobSpec{Kind: "search", Redis: url}, `"search"`},
		{"kind without options", JobSpec{Kind: KindScan, Redis: url}, "without scan options"},
		{"two kinds", JobSpec{Kind: KindScan, Redis: url, Scan: scan("*"), Delete: &DeleteSpec{Pattern: "*"}}, "exactly one kind"},
		{"empty pattern", JobSpec{Kind: KindScan, Redis: url, Scan: scan("")}, "pattern is empty"},
		{"unclosed class", JobSpec{Kind: KindDelete, Redis: url, Delete: &DeleteSpec{Pattern: "user:[ab"}}, "never closed"},
		{"lone backslash", JobSpec{Kind: KindDelete, Redis: url, Delete: &DeleteSpec{Pattern: `a\`}}, "backslash"},
		{"scan without schema", JobSpec{Kind: KindScan, Redis: url, Scan: &ScanSpec{Pattern: "*"}}, "without a schema"},
		{"meta collision", JobSpec{Kind: KindScan, Redis: url, Scan: &ScanSpec{Pattern: "*", Schema: schema, Meta: codec.MetaColumns{Key: "name"}}}, "collision"},
		{"tasks negative", JobSpec{Kind: KindScan, Redis: url, Tasks: -1, Scan: scan("*")}, "tasks -1"},
		{"infer threshold", JobSpec{Kind: KindInfer, Redis: url, Infer: &InferSpec{Pattern: "*", Threshold: 1.5}}, "threshold 1.5"},
		{"infer ok", JobSpec{Kind: KindInfer, Redis: url, Infer: &InferSpec{Pattern: "*"}}, ""},
		{"load ok", JobSpec{Kind: KindLoad, Redis: url, Load: &LoadSpec{KeyColumns: []string{"id"}, Columns: []string{"id", "x"}}}, ""},
		{"load bad mode", JobSpec{Kind: KindLoad, Redis: url, Load: &LoadSpec{Mode: "upsert"}}, `"upsert"`},
		{"load ttl both", JobSpec{Kind: KindLoad, Redis: url, Load: &LoadSpec{TTL: time.Second, TTLColumn: "t"}}, "not both"},
		{"load dup key", JobSpec{Kind: KindLoad, Redis: url, Load: &LoadSpec{KeyColumns: []string{"a", "a"}}}, "twice"},
		{"load key absent", JobSpec{Kind: KindLoad, Redis: url, Load: &LoadSpec{KeyColumns: []string{"id"}, Columns: []string{"ident"}}}, `key column "id"`},
		{"load ttl column absent", JobSpec{Kind: KindLoad, Redis: url, Load: &LoadSpec{TTLColumn: "exp", Columns: []string{"id"}}}, `ttl column "exp"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.spec.Normalize()
			err := c.spec.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrInvalidSpec containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error %q leaks the password", err)
			}
		})
	}
}

func TestValidatePattern(t *testing.T) {
	ok := []string{"*", "user:*", `a\[b`, "[abc]x", "[^a]*", "[]]", "[]", `[a\]]`, "h?llo", `x\\`}
	bad := []string{"", "[", "a[bc", "[^", `abc\`, `[a\]`}
	for _, p := range ok {
		if err := validatePattern(p); err != nil {
			t.Errorf("validatePattern(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range bad {
		if err := validatePattern(p); err == nil {
			t.Errorf("validatePattern(%q) = nil, want an error", p)
		}
	}
}

// FuzzValidatePattern: patterns come from users; validation never panics
// and an accepted pattern has balanced classes.
func FuzzValidatePattern(f *testing.F) {
	for _, s := range []string{"*", "user:[a-z]*", `\`, "[", "[]", "[^]]x", `a\[`, "??*[!]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if err := validatePattern(p); err == nil && p == "" {
			t.Fatal("empty pattern accepted")
		}
	})
}

func TestRetryPolicyDelay(t *testing.T) {
	p := retryPolicy{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := p.delay(i + 1); got != w*time.Millisecond {
			t.Errorf("delay(%d) = %s, want %s", i+1, got, w*time.Millisecond)
		}
	}
}

func TestBitset(t *testing.T) {
	var b bitset
	set := []int{0, 7, 8, 63, 1000}
	for _, i := range set {
		b.set(i)
	}
	for i := 0; i < 1100; i++ {
		want := false
		for _, s := range set {
			want = want || s == i
		}
		if b.has(i) != want {
			t.Fatalf("has(%d) = %v, want %v", i, b.has(i), want)
		}
	}
}

func TestCountsAdd(t *testing.T) {
	var c counts
	for i := 0; i < 3; i++ {
		o := counts{Rows: 10, Written: 9, Failed: 1, Nulls: map[string]int64{"age": 2}}
		for k := 0; k < 60; k++ {
			o.FailedKeys = append(o.FailedKeys, KeyFailure{Key: "k", Row: int64(k)})
		}
		c.add(o)
	}
	if c.Rows != 30 || c.Written != 27 || c.Failed != 3 || c.Nulls["age"] != 6 {
		t.Fatalf("sums wrong: %+v", c)
	}
	if len(c.FailedKeys) != maxRecordedFailures {
		t.Fatalf("kept %d failed keys, want the cap %d", len(c.FailedKeys), maxRecordedFailures)
	}
}

func TestJobIDs(t *testing.T) {
	seen := map[string]bool{}
	now := time.Date(2026, 5, 11, 14, 22, 33, 0, time.UTC)
	for i := 0; i < 1000; i++ {
		id := newJobID(now)
		if !validToken(id) || !strings.HasPrefix(id, "260511-142233-") || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
}
