package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
)

// Field is one named, typed hash field. Its JSON form is
// {"name":"age","type":"int64"}; a name that is not valid UTF-8 (JSON
// strings cannot hold it) is written in the escaped form with
// "name_escaped":true, e.g. {"name":"caf\\xe9","type":"utf8","name_escaped":true}.
type Field struct {
	Name string `json:"name"`
	Type Type   `json:"type"`
}

// fieldJSON is the JSON form of a Field.
type fieldJSON struct {
	Name        string `json:"name"`
	Type        Type   `json:"type"`
	NameEscaped bool   `json:"name_escaped,omitempty"`
}

// MarshalJSON writes the JSON form, escaping a name that is not valid UTF-8.
func (f Field) MarshalJSON() ([]byte, error) {
	v := fieldJSON{Name: f.Name, Type: f.Type}
	if !utf8.ValidString(f.Name) {
		v.Name, v.NameEscaped = EscapeBytes(f.Name), true
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads the JSON form.
func (f *Field) UnmarshalJSON(b []byte) error {
	var v fieldJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	name, err := jsonName(v.Name, v.NameEscaped)
	if err != nil {
		return err
	}
	*f = Field{Name: name, Type: v.Type}
	return nil
}

// jsonName returns a name read from JSON, unescaped if escaped is set.
func jsonName(name string, escaped bool) (string, error) {
	if !escaped {
		return name, nil
	}
	return UnescapeBytes(name)
}

// Schema is an ordered list of uniquely named fields. Its JSON form,
// {"fields":[{"name":"age","type":"int64"},...]}, is the schema file format.
type Schema struct {
	Fields []Field `json:"fields"`
}

// NewSchema returns a schema of the given fields after validating them:
// at least one field, names non-empty and unique, types valid. A name may
// hold any bytes (Redis field names are byte strings); one that is not
// valid UTF-8 is written in the escaped form (EscapeBytes) in schema files
// and as an Arrow column name (EscapeInvalid).
func NewSchema(fields ...Field) (*Schema, error) {
	s := &Schema{Fields: append([]Field(nil), fields...)}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// Validate checks the rules NewSchema enforces.
func (s *Schema) Validate() error {
	if s == nil || len(s.Fields) == 0 {
		return fmt.Errorf("%w: no fields", ErrInvalidSchema)
	}
	seen := make(map[string]int, len(s.Fields))
	for i, f := range s.Fields {
		if err := checkName(f.Name); err != nil {
			return fmt.Errorf("%w: field %d: %s", ErrInvalidSchema, i+1, err)
		}
		if !f.Type.Valid() {
			return fmt.Errorf("field %d %q: %w %s", i+1, f.Name, ErrUnknownType, f.Type)
		}
		if j, dup := seen[f.Name]; dup {
			return fmt.Errorf("%w: field %q appears twice (fields %d and %d)", ErrInvalidSchema, f.Name, j+1, i+1)
		}
		seen[f.Name] = i
	}
	return nil
}

func checkName(name string) error {
	if name == "" {
		return errors.New("empty field name")
	}
	return nil
}

// ParseSchemaSpec parses the command-line form "name:type,name:type,...".
// Entries are separated by commas; within an entry the type follows the
// last colon, so names may contain colons (but not commas: use a schema
// file for those). Spaces around names and types are ignored. Type names
// are those ParseType accepts. Errors are *SpecError values naming the
// entry, its byte offset and what is wrong.
func ParseSchemaSpec(spec string) (*Schema, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, &SpecError{Offset: -1, Msg: `empty schema spec (write name:type,..., e.g. "name:utf8,age:int64")`, Err: ErrInvalidSchema}
	}
	var fields []Field
	seen := map[string]int{}
	off := 0
	for n := 1; ; n++ {
		end := strings.IndexByte(spec[off:], ',')
		last := end < 0
		if last {
			end = len(spec)
		} else {
			end += off
		}
		entry := spec[off:end]
		f, err := parseSpecEntry(entry)
		if err != nil {
			err.Entry, err.Offset, err.Text = n, off, entry
			return nil, err
		}
		if prev, dup := seen[f.Name]; dup {
			return nil, &SpecError{Entry: n, Offset: off, Text: entry, Err: ErrInvalidSchema,
				Msg: fmt.Sprintf("field %q already defined in entry %d", f.Name, prev)}
		}
		seen[f.Name] = n
		fields = append(fields, f)
		if last {
			break
		}
		off = end + 1
	}
	return &Schema{Fields: fields}, nil
}

func parseSpecEntry(entry string) (Field, *SpecError) {
	if strings.TrimSpace(entry) == "" {
		return Field{}, &SpecError{Err: ErrInvalidSchema, Msg: "empty entry (stray comma?)"}
	}
	colon := strings.LastIndexByte(entry, ':')
	if colon < 0 {
		return Field{}, &SpecError{Err: ErrInvalidSchema, Msg: `missing ":type" (write name:type, e.g. "age:int64")`}
	}
	name := strings.TrimSpace(entry[:colon])
	if err := checkName(name); err != nil {
		return Field{}, &SpecError{Err: ErrInvalidSchema, Msg: err.Error()}
	}
	t, err := ParseType(entry[colon+1:])
	if err != nil {
		return Field{}, &SpecError{Err: ErrUnknownType, Msg: err.Error()}
	}
	return Field{Name: name, Type: t}, nil
}

// ReadSchemaFile reads a JSON schema file: {"fields":[{"name":..,"type":..}]}.
// The output of inference ({"fields":[...],"inference":{...}}) is accepted
// unchanged; the "inference" section is ignored.
func ReadSchemaFile(path string) (*Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading schema file: %w", err)
	}
	return ParseSchemaJSON(b, path)
}

// ParseSchemaJSON parses the JSON schema file form; source names the input
// in errors (a path, or "" for "schema JSON").
func ParseSchemaJSON(b []byte, source string) (*Schema, error) {
	if source == "" {
		source = "schema JSON"
	}
	if !utf8.Valid(b) {
		return nil, &SpecError{Source: source, Offset: -1, Err: ErrInvalidSchema,
			Msg: fmt.Sprintf(`byte %d is not valid UTF-8: write a field name that is not UTF-8 escaped (\\ for a backslash, \xHH per byte) with "name_escaped":true`, invalidUTF8Offset(b))}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, &SpecError{Source: source, Offset: -1, Err: ErrInvalidSchema, Msg: jsonErrorMsg(b, err) +
			` (want {"fields":[{"name":"age","type":"int64"},...]})`}
	}
	for k := range top {
		if k != "fields" && k != "inference" {
			return nil, &SpecError{Source: source, Offset: -1, Err: ErrInvalidSchema,
				Msg: fmt.Sprintf(`unexpected key %q (a schema file has "fields" and optionally "inference")`, k)}
		}
	}
	raw, ok := top["fields"]
	if !ok {
		return nil, &SpecError{Source: source, Offset: -1, Err: ErrInvalidSchema, Msg: `missing "fields" (want {"fields":[{"name":"age","type":"int64"},...]})`}
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, &SpecError{Source: source, Offset: -1, Err: ErrInvalidSchema, Msg: `"fields" must be a list of {"name":..,"type":..} objects`}
	}
	if len(entries) == 0 {
		return nil, &SpecError{Source: source, Offset: -1, Err: ErrInvalidSchema, Msg: `"fields" is empty`}
	}
	fields := make([]Field, 0, len(entries))
	seen := map[string]int{}
	for i, e := range entries {
		var fe struct {
			Name        *string `json:"name"`
			Type        *string `json:"type"`
			NameEscaped bool    `json:"name_escaped"`
		}
		dec := json.NewDecoder(bytes.NewReader(e))
		dec.DisallowUnknownFields()
		text := string(e)
		if err := dec.Decode(&fe); err != nil {
			return nil, &SpecError{Source: source, Entry: i + 1, Offset: -1, Text: text, Err: ErrInvalidSchema,
				Msg: fmt.Sprintf(`want {"name":..,"type":..}: %v`, err)}
		}
		if fe.Name == nil || fe.Type == nil {
			return nil, &SpecError{Source: source, Entry: i + 1, Offset: -1, Text: text, Err: ErrInvalidSchema,
				Msg: `needs both "name" and "type"`}
		}
		name, err := jsonName(*fe.Name, fe.NameEscaped)
		if err == nil {
			err = checkName(name)
		}
		if err != nil {
			return nil, &SpecError{Source: source, Entry: i + 1, Offset: -1, Text: text, Err: ErrInvalidSchema, Msg: err.Error()}
		}
		fe.Name = &name
		t, err := ParseType(*fe.Type)
		if err != nil {
			return nil, &SpecError{Source: source, Entry: i + 1, Offset: -1, Text: text, Err: ErrUnknownType, Msg: err.Error()}
		}
		if prev, dup := seen[*fe.Name]; dup {
			return nil, &SpecError{Source: source, Entry: i + 1, Offset: -1, Text: text, Err: ErrInvalidSchema,
				Msg: fmt.Sprintf("field %q already defined by field %d", *fe.Name, prev)}
		}
		seen[*fe.Name] = i + 1
		fields = append(fields, Field{Name: *fe.Name, Type: t})
	}
	return &Schema{Fields: fields}, nil
}

// invalidUTF8Offset is the byte offset of the first invalid UTF-8 in b.
func invalidUTF8Offset(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// jsonErrorMsg describes a JSON decoding error with line and column.
func jsonErrorMsg(b []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(b)) {
		return "invalid JSON: " + err.Error()
	}
	line, col := 1, 1
	for _, c := range b[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("invalid JSON at line %d column %d: %v", line, col, err)
}

// LoadSchemaArg interprets a command-line schema argument: "@path" reads
// the JSON schema file at path, anything else is parsed as a spec.
func LoadSchemaArg(arg string) (*Schema, error) {
	if p, ok := strings.CutPrefix(arg, "@"); ok {
		if p == "" {
			return nil, &SpecError{Offset: -1, Err: ErrInvalidSchema, Msg: `"@" needs a file path, e.g. @schema.json`}
		}
		return ReadSchemaFile(p)
	}
	return ParseSchemaSpec(arg)
}

// Spec returns the command-line form "name:type,...". It parses back to
// the same schema unless a name contains a comma or surrounding spaces.
func (s *Schema) Spec() string {
	var b strings.Builder
	for i, f := range s.Fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(f.Name)
		b.WriteByte(':')
		b.WriteString(f.Type.String())
	}
	return b.String()
}

// String returns Spec().
func (s *Schema) String() string { return s.Spec() }

// Names returns the field names in order.
func (s *Schema) Names() []string {
	names := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		names[i] = f.Name
	}
	return names
}

// Index returns the position of the named field, or -1 if absent.
func (s *Schema) Index(name string) int {
	for i, f := range s.Fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// Project returns a schema of the named fields, in the order given.
// Unknown or repeated names are errors.
func (s *Schema) Project(names []string) (*Schema, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: projection of no fields", ErrInvalidSchema)
	}
	out := &Schema{Fields: make([]Field, 0, len(names))}
	seen := map[string]bool{}
	for _, n := range names {
		i := s.Index(n)
		if i < 0 {
			return nil, fmt.Errorf("%w %q (schema has %s)", ErrUnknownField, n, clip(strings.Join(s.Names(), ", "), 200))
		}
		if seen[n] {
			return nil, fmt.Errorf("%w: field %q selected twice", ErrInvalidSchema, n)
		}
		seen[n] = true
		out.Fields = append(out.Fields, s.Fields[i])
	}
	return out, nil
}

// MetaColumns names the metadata columns a scan produces besides the
// schema fields. An empty name means the column is not produced.
type MetaColumns struct {
	Key   string `json:"key"`   // Redis key, utf8, never null
	TTL   string `json:"ttl"`   // remaining TTL in seconds, int64, -1 = no expiry
	Index string `json:"index"` // row number in the output, uint64
	// KeyEncoding: how keys go into the key column ("" = KeyText).
	KeyEncoding KeyEncoding `json:"key_encoding,omitempty"`
}

// KeyEncoding selects the form of Redis keys in the key column, which is
// utf8 and so cannot hold bytes that are not valid UTF-8.
type KeyEncoding string

const (
	// KeyText: a key that is valid UTF-8 as it is; any other key in the
	// escaped form (EscapeBytes), counted by RecordBuilder.NonUTF8Keys.
	// Readable, and lossless unless a valid key itself looks escaped.
	KeyText KeyEncoding = "text"
	// KeyEscape: every key in the escaped form (a backslash doubled,
	// invalid bytes as \xHH): UnescapeBytes gives back every key exactly.
	KeyEscape KeyEncoding = "escape"
)

// ParseKeyEncoding accepts "" (KeyText), "text" and "escape".
func ParseKeyEncoding(s string) (KeyEncoding, error) {
	switch k := KeyEncoding(strings.ToLower(strings.TrimSpace(s))); k {
	case "", KeyText:
		return KeyText, nil
	case KeyEscape:
		return k, nil
	}
	return "", fmt.Errorf("%w: key encoding %q (want text or escape)", ErrInvalidOptions, s)
}

// DefaultMetaColumns returns {Key: "_key", TTL: "_ttl", Index: "_index"}.
func DefaultMetaColumns() MetaColumns {
	return MetaColumns{Key: "_key", TTL: "_ttl", Index: "_index"}
}

// ArrowSchema returns the Arrow schema of scan output: the key column
// (if produced), the schema fields in order (all nullable), then the TTL
// and index columns (if produced). A metadata column named like a schema
// field or like another metadata column is an error wrapping
// ErrColumnCollision.
func (s *Schema) ArrowSchema(meta MetaColumns) (*arrow.Schema, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkMeta(meta); err != nil {
		return nil, err
	}
	if _, err := ParseKeyEncoding(string(meta.KeyEncoding)); err != nil {
		return nil, err
	}
	fields := make([]arrow.Field, 0, len(s.Fields)+3)
	if meta.Key != "" {
		fields = append(fields, arrow.Field{Name: meta.Key, Type: arrow.BinaryTypes.String})
	}
	cols := make(map[string]string, len(s.Fields))
	for _, f := range s.Fields {
		name := EscapeInvalid(f.Name)
		if other, dup := cols[name]; dup {
			return nil, fmt.Errorf("%w: fields %q and %q both give the column name %q (a name that is not valid UTF-8 is written escaped); rename one",
				ErrColumnCollision, other, f.Name, name)
		}
		cols[name] = f.Name
		fields = append(fields, arrow.Field{Name: name, Type: f.Type.ArrowType(), Nullable: true})
	}
	if meta.TTL != "" {
		fields = append(fields, arrow.Field{Name: meta.TTL, Type: arrow.PrimitiveTypes.Int64})
	}
	if meta.Index != "" {
		fields = append(fields, arrow.Field{Name: meta.Index, Type: arrow.PrimitiveTypes.Uint64})
	}
	return arrow.NewSchema(fields, nil), nil
}

func (s *Schema) checkMeta(meta MetaColumns) error {
	kinds := [3]struct{ what, name string }{{"key", meta.Key}, {"TTL", meta.TTL}, {"index", meta.Index}}
	for i, k := range kinds {
		if k.name == "" {
			continue
		}
		if s.Index(k.name) >= 0 {
			return fmt.Errorf("%w: schema field %q has the name of the %s metadata column; rename the field or choose another name for the %s column",
				ErrColumnCollision, k.name, k.what, k.what)
		}
		for _, o := range kinds[:i] {
			if o.name == k.name {
				return fmt.Errorf("%w: the %s and %s metadata columns are both named %q", ErrColumnCollision, o.what, k.what, k.name)
			}
		}
	}
	return nil
}
