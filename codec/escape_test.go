package codec

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestEscapeBytes(t *testing.T) {
	for _, c := range []struct{ in, all, invalid string }{
		{"", "", ""},
		{"user:1", "user:1", "user:1"},
		{`a\b`, `a\\b`, `a\b`},
		{"café ☃", "café ☃", "café ☃"},
		{"caf\xe9", `caf\xe9`, `caf\xe9`},
		{"\xff\\\xfe", `\xff\\\xfe`, `\xff\\\xfe`},
		{"\xe2\x82", `\xe2\x82`, `\xe2\x82`},             // truncated 3-byte sequence
		{"\xed\xa0\x80", `\xed\xa0\x80`, `\xed\xa0\x80`}, // surrogate half
		{"ok\x00", "ok\x00", "ok\x00"},                   // NUL is valid UTF-8
	} {
		if got := EscapeBytes(c.in); got != c.all {
			t.Errorf("EscapeBytes(%q) = %q, want %q", c.in, got, c.all)
		}
		if got := EscapeInvalid(c.in); got != c.invalid {
			t.Errorf("EscapeInvalid(%q) = %q, want %q", c.in, got, c.invalid)
		}
		if back, err := UnescapeBytes(c.all); err != nil || back != c.in {
			t.Errorf("UnescapeBytes(%q) = %q, %v; want %q", c.all, back, err, c.in)
		}
	}
}

func TestUnescapeBytesErrors(t *testing.T) {
	for _, in := range []string{`\`, `a\n`, `\x`, `\x4`, `\xg0`, `\u00e9`} {
		if _, err := UnescapeBytes(in); !errors.Is(err, ErrInvalidEscape) {
			t.Errorf("UnescapeBytes(%q) error = %v, want ErrInvalidEscape", in, err)
		}
	}
	if got, err := UnescapeBytes(`\xC3\xA9`); err != nil || got != "é" {
		t.Errorf(`upper-case hex: %q, %v`, got, err)
	}
}

// FuzzEscapeBytes: the escaped form is valid UTF-8 and unescapes to the
// input; EscapeInvalid leaves valid UTF-8 alone.
func FuzzEscapeBytes(f *testing.F) {
	for _, s := range []string{"", "a", `\`, "\xff", `\xff`, "caf\xe9", "☃\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := EscapeBytes(s)
		if !utf8.ValidString(e) {
			t.Fatalf("EscapeBytes(%q) = %q: not valid UTF-8", s, e)
		}
		if back, err := UnescapeBytes(e); err != nil || back != s {
			t.Fatalf("UnescapeBytes(EscapeBytes(%q)) = %q, %v", s, back, err)
		}
		if inv := EscapeInvalid(s); !utf8.ValidString(inv) || (utf8.ValidString(s) && inv != s) {
			t.Fatalf("EscapeInvalid(%q) = %q", s, inv)
		}
		_, _ = UnescapeBytes(s) // never panics
	})
}

// TestSchemaNamesNotUTF8: a field name that is not UTF-8 round-trips
// through the schema file form and the JSON of a job spec, and becomes an
// escaped Arrow column name; a raw invalid byte in a schema file is an
// error, and so is a column name two fields would share.
func TestSchemaNamesNotUTF8(t *testing.T) {
	s, err := NewSchema(Field{Name: "caf\xe9", Type: Utf8}, Field{Name: "n", Type: Int64})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"fields":[{"name":"caf\\xe9","type":"utf8","name_escaped":true},{"name":"n","type":"int64"}]}`; string(b) != want {
		t.Fatalf("JSON %s, want %s", b, want)
	}
	back, err := ParseSchemaJSON(b, "f.json")
	if err != nil || !reflect.DeepEqual(back, s) {
		t.Fatalf("ParseSchemaJSON = %+v, %v", back, err)
	}
	var viaSpec Schema
	if err := json.Unmarshal(b, &viaSpec); err != nil || !reflect.DeepEqual(&viaSpec, s) {
		t.Fatalf("json.Unmarshal = %+v, %v", viaSpec, err)
	}
	as, err := s.ArrowSchema(DefaultMetaColumns())
	if err != nil || as.Field(1).Name != `caf\xe9` {
		t.Fatalf("arrow schema %v, %v", as, err)
	}
	if _, err := ParseSchemaJSON([]byte("{\"fields\":[{\"name\":\"caf\xe9\",\"type\":\"utf8\"}]}"), "raw.json"); !errors.Is(err, ErrInvalidSchema) {
		t.Errorf("raw invalid byte: err = %v, want ErrInvalidSchema", err)
	}
	if _, err := ParseSchemaJSON([]byte(`{"fields":[{"name":"a\\q","type":"utf8","name_escaped":true}]}`), "bad.json"); !errors.Is(err, ErrInvalidSchema) {
		t.Errorf("bad escape: err = %v, want ErrInvalidSchema", err)
	}
	clash, _ := NewSchema(Field{Name: "a\xff", Type: Utf8}, Field{Name: `a\xff`, Type: Utf8})
	if _, err := clash.ArrowSchema(MetaColumns{}); !errors.Is(err, ErrColumnCollision) {
		t.Errorf("escaped name clash: err = %v, want ErrColumnCollision", err)
	}
}

// TestBuilderKeysAndValuesNotUTF8: a key that is not UTF-8 is escaped in
// the key column and counted (KeyText), every key is escaped with
// KeyEscape, and a utf8 value that is not UTF-8 is null and counted
// invalid under its field's escaped name.
func TestBuilderKeysAndValuesNotUTF8(t *testing.T) {
	s, _ := NewSchema(Field{Name: "v\xff", Type: Utf8})
	for _, c := range []struct {
		enc  KeyEncoding
		want []string
	}{
		{KeyText, []string{"ok", `a\b`, `k\xff`}},
		{KeyEscape, []string{"ok", `a\\b`, `k\xff`}},
	} {
		b, err := NewRecordBuilder(memory.DefaultAllocator, s, BuilderOptions{Meta: MetaColumns{Key: "_key", KeyEncoding: c.enc}})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"ok", `a\b`, "k\xff"} {
			if err := b.Append(k, []string{"x\xfe"}, nil, 0, 0); err != nil {
				t.Fatal(err)
			}
		}
		rec := b.NewRecordBatch()
		keys := rec.Column(0).(*array.String)
		for i, want := range c.want {
			if keys.Value(i) != want {
				t.Errorf("%s: key %d = %q, want %q", c.enc, i, keys.Value(i), want)
			}
		}
		if b.NonUTF8Keys() != 1 || rec.Column(1).NullN() != 3 || !reflect.DeepEqual(b.Invalid(), map[string]int64{`v\xff`: 3}) {
			t.Errorf("%s: non-UTF-8 keys %d, nulls %d, invalid %v", c.enc, b.NonUTF8Keys(), rec.Column(1).NullN(), b.Invalid())
		}
		rec.Release()
		b.Release()
	}
	if _, err := ParseKeyEncoding("binary"); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("ParseKeyEncoding(binary) = %v", err)
	}
}
