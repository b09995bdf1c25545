package shard

import (
	"context"
	"testing"

	"github.com/redstage/redstage/internal/redistest"
)

func TestGlobTable(t *testing.T) {
	tests := []struct {
		pattern, key string
		want         bool
	}{
		{"", "anything", true},
		{"*", "", true},
		{"user:*", "user:1", true},
		{"user:*", "users:1", false},
		{"h?llo", "hello", true},
		{"h?llo", "hllo", false},
		{"h[ae]llo", "hallo", true},
		{"h[ae]llo", "hillo", false},
		{"h[^e]llo", "hallo", true},
		{"h[^e]llo", "hello", false},
		{"h[a-b]llo", "hbllo", true},
		{"h[b-a]llo", "hbllo", true}, // reversed range
		{"h[a-b]llo", "hcllo", false},
		{`h\*llo`, "h*llo", true},
		{`h\*llo`, "hello", false},
		{`[\]]`, "]", true},
		{`[\-]`, "-", true},
		{"[abc", "a", true}, // unterminated set ends at the pattern's end
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"**a", "a", true},
		{`\`, `\`, true},
		{"k[\x80-\xff]", "k\xa0", true},
		{"k[a-\xff]", "kb", false}, // 0xff is -1 as a C char: range is -1..'a'
		{"k[a-\xff]", "k\xff", true},
		{"user:{42}:*", "user:{42}:x", true},
	}
	for _, tt := range tests {
		if got := CompileGlob(tt.pattern).Match(tt.key); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.key, got, tt.want)
		}
	}
}

func TestPatternSlot(t *testing.T) {
	tests := []struct {
		pattern string
		ok      bool
		sameAs  string
	}{
		{"user:{42}:*", true, "{42}"},
		{"{abc}*", true, "abc"},
		{"u*{42}", false, ""},
		{"{}*", false, ""},
		{"{4?}*", false, ""},
		{"no-tag*", false, ""},
		{`u\{x}*`, false, ""},
		{"{a}{b}*", true, "a"},
	}
	for _, tt := range tests {
		slot, ok := PatternSlot(tt.pattern)
		if ok != tt.ok || (ok && slot != KeySlot(tt.sameAs)) {
			t.Errorf("PatternSlot(%q) = %d, %v; want ok=%v slot of %q", tt.pattern, slot, ok, tt.ok, tt.sameAs)
		}
	}
}

// FuzzGlob compares Match with the server's own matcher (KEYS on a
// database holding exactly the key).
func FuzzGlob(f *testing.F) {
	seeds := [][2]string{
		{"*", ""}, {"**", ""}, {"a*", "a"}, {"*a*", "bab"}, {"?", ""}, {"[", "["}, {"[a", "a"},
		{"[^", "x"}, {"[^]", "]"}, {"[]]", "]"}, {"[a-]", "-"}, {"[-a]", "a"}, {`[\`, `\`},
		{`\`, `\`}, {`\\`, `\`}, {`a\`, `a\`}, {"[z-a]", "m"}, {"[a-\xff]", "b"}, {"[\x80-a]", "\x90"},
		{"*[", "x["}, {"x*?y", "xay"}, {"[^a-c]*", "d"}, {"a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaa"},
		{"[[]", "["}, {"\x00*", "\x00a"}, {"[\x00]", "\x00"}, {"user:[0-9]*", "user:42"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	srv := redistest.StartServer(f)
	c := srv.Client()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, pattern, key string) {
		if len(pattern) > 40 || len(key) > 40 {
			return
		}
		pipe := c.TxPipeline()
		pipe.FlushDB(ctx)
		pipe.Set(ctx, key, "1", 0)
		keys := pipe.Keys(ctx, pattern)
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		want := len(keys.Val()) == 1
		if got := CompileGlob(pattern).Match(key); got != want && pattern != "" {
			t.Fatalf("Match(%q, %q) = %v, server says %v", pattern, key, got, want)
		}
	})
}
