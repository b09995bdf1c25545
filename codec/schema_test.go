package codec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestParseSchemaSpec(t *testing.T) {
	tests := []struct {
		spec string
		want []Field
	}{
		{"name:utf8,age:int64,joined:date", []Field{{"name", Utf8}, {"age", Int64}, {"joined", Date}}},
		{" name : string , age:INT ", []Field{{"name", Utf8}, {"age", Int64}}},
		{"a:b:float64", []Field{{"a:b", Float64}}}, // the type follows the last colon
		{"ts:timestamp,ok:boolean", []Field{{"ts", Datetime}, {"ok", Bool}}},
		{"名前:utf8", []Field{{"名前", Utf8}}},
	}
	for _, tc := range tests {
		s, err := ParseSchemaSpec(tc.spec)
		if err != nil {
			t.Errorf("ParseSchemaSpec(%q): %v", tc.spec, err)
			continue
		}
		if !reflect.DeepEqual(s.Fields, tc.want) {
			t.Errorf("ParseSchemaSpec(%q) = %v; want %v", tc.spec, s.Fields, tc.want)
		}
		again, err := ParseSchemaSpec(s.Spec())
		if err != nil || !reflect.DeepEqual(again.Fields, s.Fields) {
			t.Errorf("Spec round trip of %q: %q → %v, %v", tc.spec, s.Spec(), again, err)
		}
	}
}

func TestParseSchemaSpecErrors(t *testing.T) {
	tests := []struct {
		spec     string
		sentinel error
		entry    int
		offset   int
		contains string
	}{
		{"", ErrInvalidSchema, 0, -1, "empty schema spec"},
		{"   ", ErrInvalidSchema, 0, -1, "empty schema spec"},
		{"name:utf8,age:int65", ErrUnknownType, 2, 10, `unknown type "int65"`},
		{"name", ErrInvalidSchema, 1, 0, `missing ":type"`},
		{"name:utf8,,age:int64", ErrInvalidSchema, 2, 10, "empty entry"},
		{"name:utf8,", ErrInvalidSchema, 2, 10, "empty entry"},
		{":int64", ErrInvalidSchema, 1, 0, "empty field name"},
		{"a:int64,b:utf8,a:bool", ErrInvalidSchema, 3, 15, `"a" already defined in entry 1`},
		{"a:", ErrUnknownType, 1, 0, "unknown type"},
		{"a:\xff", ErrUnknownType, 1, 0, "unknown type"},
	}
	for _, tc := range tests {
		_, err := ParseSchemaSpec(tc.spec)
		var se *SpecError
		if !errors.As(err, &se) {
			t.Errorf("ParseSchemaSpec(%q) error = %v; want *SpecError", tc.spec, err)
			continue
		}
		if !errors.Is(err, tc.sentinel) || se.Entry != tc.entry || se.Offset != tc.offset || !strings.Contains(err.Error(), tc.contains) {
			t.Errorf("ParseSchemaSpec(%q) error = %v (entry %d offset %d); want %v, entry %d offset %d, containing %q",
				tc.spec, err, se.Entry, se.Offset, tc.sentinel, tc.entry, tc.offset, tc.contains)
		}
		if tc.entry > 0 && !strings.Contains(err.Error(), "entry ") {
			t.Errorf("error %q does not name the entry", err)
		}
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadSchemaFile(t *testing.T) {
	p := writeTemp(t, "s.json", `{"fields":[{"name":"name","type":"utf8"},{"name":"age","type":"int"},{"name":"joined","type":"date"}]}`)
	s, err := ReadSchemaFile(p)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := ParseSchemaSpec("name:utf8,age:int64,joined:date")
	if !reflect.DeepEqual(s, spec) {
		t.Errorf("file schema %v differs from spec schema %v", s, spec)
	}
	// the marshaled schema is the file form
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `{"fields":[{"name":"name","type":"utf8"},{"name":"age","type":"int64"},{"name":"joined","type":"date"}]}` {
		t.Errorf("json.Marshal(schema) = %s", got)
	}
	// LoadSchemaArg: @file and spec
	for _, arg := range []string{"@" + p, "name:utf8,age:int64,joined:date"} {
		got, err := LoadSchemaArg(arg)
		if err != nil || !reflect.DeepEqual(got, spec) {
			t.Errorf("LoadSchemaArg(%q) = %v, %v", arg, got, err)
		}
	}
	if _, err := LoadSchemaArg("@"); !errors.Is(err, ErrInvalidSchema) {
		t.Errorf("LoadSchemaArg(@) = %v", err)
	}
	if _, err := LoadSchemaArg("@" + filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestReadSchemaFileErrors(t *testing.T) {
	tests := []struct {
		content  string
		sentinel error
		contains []string
	}{
		{`{"fields":[{"name":"a","type":"int64"},`, ErrInvalidSchema, []string{"line 1", "invalid JSON"}},
		{"{\n  \"fields\": [\n    {\"name\": \"a\", \"type\": \"int64\"}\n    {\"name\": \"b\"}\n  ]\n}", ErrInvalidSchema, []string{"line 4", "invalid JSON"}},
		{`{}`, ErrInvalidSchema, []string{`missing "fields"`}},
		{`{"fields":[]}`, ErrInvalidSchema, []string{`"fields" is empty`}},
		{`{"fields":{}}`, ErrInvalidSchema, []string{`must be a list`}},
		{`{"fields":[{"name":"a","type":"int65"}]}`, ErrUnknownType, []string{"field 1", `"int65"`}},
		{`{"fields":[{"name":"a","type":"int64"},{"name":"b"}]}`, ErrInvalidSchema, []string{"field 2", `needs both "name" and "type"`}},
		{`{"fields":[{"name":"a","typ":"int64"}]}`, ErrInvalidSchema, []string{"field 1", `unknown field "typ"`}},
		{`{"fields":[{"name":"","type":"int64"}]}`, ErrInvalidSchema, []string{"field 1", "empty field name"}},
		{`{"fields":[{"name":"a","type":"int64"},{"name":"a","type":"utf8"}]}`, ErrInvalidSchema, []string{"field 2", "already defined by field 1"}},
		{`{"fields":[{"name":"a","type":"int64"}],"feilds":[]}`, ErrInvalidSchema, []string{`unexpected key "feilds"`}},
		{`[{"name":"a","type":"int64"}]`, ErrInvalidSchema, []string{"invalid JSON"}},
	}
	for _, tc := range tests {
		p := writeTemp(t, "bad.json", tc.content)
		_, err := ReadSchemaFile(p)
		if !errors.Is(err, tc.sentinel) {
			t.Errorf("ReadSchemaFile(%s) = %v; want %v", tc.content, err, tc.sentinel)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, p) {
			t.Errorf("error %q does not name the file", msg)
		}
		for _, c := range tc.contains {
			if !strings.Contains(msg, c) {
				t.Errorf("ReadSchemaFile(%s) error %q does not contain %q", tc.content, msg, c)
			}
		}
	}
}

func TestNewSchemaAndAccessors(t *testing.T) {
	if _, err := NewSchema(); !errors.Is(err, ErrInvalidSchema) {
		t.Errorf("NewSchema() = %v", err)
	}
	if _, err := NewSchema(Field{"a", Int64}, Field{"a", Utf8}); !errors.Is(err, ErrInvalidSchema) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := NewSchema(Field{"", Int64}); !errors.Is(err, ErrInvalidSchema) {
		t.Errorf("empty name: %v", err)
	}
	if _, err := NewSchema(Field{"a", Type(99)}); !errors.Is(err, ErrUnknownType) {
		t.Errorf("bad type: %v", err)
	}
	fields := []Field{{"a", Int64}, {"b", Utf8}, {"c", Date}}
	s, err := NewSchema(fields...)
	if err != nil {
		t.Fatal(err)
	}
	fields[0].Name = "mutated"
	if s.Fields[0].Name != "a" {
		t.Errorf("NewSchema must copy its arguments")
	}
	if got := s.Names(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("Names() = %v", got)
	}
	if s.Index("b") != 1 || s.Index("zz") != -1 {
		t.Errorf("Index: b=%d zz=%d", s.Index("b"), s.Index("zz"))
	}
	if s.Spec() != "a:int64,b:utf8,c:date" {
		t.Errorf("Spec() = %q", s.Spec())
	}
	p, err := s.Project([]string{"c", "a"})
	if err != nil || !reflect.DeepEqual(p.Fields, []Field{{"c", Date}, {"a", Int64}}) {
		t.Errorf("Project = %v, %v", p, err)
	}
	if _, err := s.Project([]string{"a", "nope"}); !errors.Is(err, ErrUnknownField) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Project unknown: %v", err)
	}
	if _, err := s.Project([]string{"a", "a"}); !errors.Is(err, ErrInvalidSchema) {
		t.Errorf("Project repeated: %v", err)
	}
	if _, err := s.Project(nil); !errors.Is(err, ErrInvalidSchema) {
		t.Errorf("Project none: %v", err)
	}
}

func TestArrowSchema(t *testing.T) {
	s, _ := ParseSchemaSpec("name:utf8,age:int64,score:float64,ok:bool,d:date,ts:datetime")
	as, err := s.ArrowSchema(DefaultMetaColumns())
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		dt   arrow.DataType
	}{
		{"_key", arrow.BinaryTypes.String},
		{"name", arrow.BinaryTypes.String},
		{"age", arrow.PrimitiveTypes.Int64},
		{"score", arrow.PrimitiveTypes.Float64},
		{"ok", arrow.FixedWidthTypes.Boolean},
		{"d", arrow.FixedWidthTypes.Date32},
		{"ts", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{"_ttl", arrow.PrimitiveTypes.Int64},
		{"_index", arrow.PrimitiveTypes.Uint64},
	}
	if as.NumFields() != len(want) {
		t.Fatalf("ArrowSchema has %d fields: %v", as.NumFields(), as)
	}
	for i, w := range want {
		f := as.Field(i)
		if f.Name != w.name || !arrow.TypeEqual(f.Type, w.dt) {
			t.Errorf("field %d = %s %v; want %s %v", i, f.Name, f.Type, w.name, w.dt)
		}
	}
	// no meta columns
	as, err = s.ArrowSchema(MetaColumns{})
	if err != nil || as.NumFields() != 6 || as.Field(0).Name != "name" {
		t.Errorf("ArrowSchema(no meta) = %v, %v", as, err)
	}
	// custom names
	as, err = s.ArrowSchema(MetaColumns{Key: "id", Index: "row"})
	if err != nil || as.NumFields() != 8 || as.Field(0).Name != "id" || as.Field(7).Name != "row" {
		t.Errorf("ArrowSchema(custom) = %v, %v", as, err)
	}
	// collisions
	s2, _ := ParseSchemaSpec("_key:utf8,x:int64")
	_, err = s2.ArrowSchema(DefaultMetaColumns())
	if !errors.Is(err, ErrColumnCollision) || !strings.Contains(err.Error(), `"_key"`) || !strings.Contains(err.Error(), "key metadata column") {
		t.Errorf("collision error = %v", err)
	}
	if _, err := s2.ArrowSchema(MetaColumns{Key: "k", TTL: "_ttl"}); err != nil {
		t.Errorf("renamed key column should avoid the collision: %v", err)
	}
	s3, _ := ParseSchemaSpec("x:int64,_ttl:int64")
	if _, err := s3.ArrowSchema(DefaultMetaColumns()); !errors.Is(err, ErrColumnCollision) || !strings.Contains(err.Error(), "TTL") {
		t.Errorf("ttl collision error = %v", err)
	}
	if _, err := s.ArrowSchema(MetaColumns{Key: "m", TTL: "m"}); !errors.Is(err, ErrColumnCollision) {
		t.Errorf("meta/meta collision error = %v", err)
	}
	if _, err := (&Schema{}).ArrowSchema(DefaultMetaColumns()); !errors.Is(err, ErrInvalidSchema) {
		t.Errorf("empty schema: %v", err)
	}
}
