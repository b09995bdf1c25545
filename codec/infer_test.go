package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func inferOf(t *testing.T, threshold float64, hashes []map[string]string) *Inference {
	t.Helper()
	in := NewInferrer(InferOptions{Threshold: threshold})
	for _, h := range hashes {
		in.AddHash(h)
	}
	return in.Result()
}

func oneFieldHashes(name string, values ...string) []map[string]string {
	out := make([]map[string]string, len(values))
	for i, v := range values {
		out[i] = map[string]string{name: v}
	}
	return out
}

func field(t *testing.T, r *Inference, name string) FieldInference {
	t.Helper()
	i := r.Schema.Index(name)
	if i < 0 {
		t.Fatalf("field %q not inferred; schema %v", name, r.Schema)
	}
	if r.Fields[i].Name != name {
		t.Fatalf("Fields[%d] is %q, schema says %q", i, r.Fields[i].Name, name)
	}
	return r.Fields[i]
}

func seq(n int, f func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func TestInferTypes(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   Type
		conf   float64
	}{
		{"all ints", seq(100, func(i int) string { return strconv.Itoa(i*37 - 500) }), Int64, 1},
		{"ints and floats", append(seq(50, strconv.Itoa), seq(50, func(i int) string { return fmt.Sprint(float64(i) + 0.25) })...), Float64, 1},
		{"floats with specials", []string{"1.5", "inf", "-inf", "nan", "2"}, Float64, 1},
		{"dates", []string{"2024-01-01", "1969-07-20", "2150-12-31"}, Date, 1},
		{"dates and datetimes", []string{"2024-01-01", "2024-01-01T10:00:00Z", "2024-01-02 08:30:00"}, Datetime, 1},
		{"datetimes with offsets", []string{"2024-01-01T10:00:00+02:00", "2024-01-01T10:00:00.123Z"}, Datetime, 1},
		{"bool words", []string{"true", "false", "TRUE", "no"}, Bool, 1},
		{"bool words and 0/1", []string{"yes", "no", "1", "0"}, Bool, 1},
		{"only 0 and 1", []string{"0", "1", "1", "0"}, Int64, 1},
		{"epoch seconds stay int64", []string{"1700000000", "1700000001"}, Int64, 1},
		{"text", []string{"alice", "bob", "carol"}, Utf8, 1},
		{"ints and dates: ints are epoch seconds", []string{"1700000000", "2024-01-01"}, Datetime, 1},
		{"words and dates", []string{"soon", "2024-01-01"}, Utf8, 1},
		{"ints and words", []string{"1", "one"}, Utf8, 1},
		{"utf8 fallback keeps unicode", []string{"ünï", "✓"}, Utf8, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := inferOf(t, 0.9, oneFieldHashes("f", tc.values...))
			f := field(t, r, "f")
			if f.Type != tc.want || f.Confidence != tc.conf {
				t.Errorf("inferred %s at %v; want %s at %v (candidates %v)", f.Type, f.Confidence, tc.want, tc.conf, f.TypeCandidates)
			}
			if f.Valid != int64(len(tc.values)) || f.Invalid != 0 || f.Nulls != 0 || f.Samples != int64(len(tc.values)) {
				t.Errorf("counts %+v", f)
			}
		})
	}
}

func TestInferThreshold(t *testing.T) {
	values := append(seq(95, strconv.Itoa), "n/a", "unknown", "-", "?", "x")
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(values), func(i, j int) { values[i], values[j] = values[j], values[i] })
	hashes := oneFieldHashes("n", values...)

	r := inferOf(t, 0.9, hashes)
	f := field(t, r, "n")
	if f.Type != Int64 || f.Confidence != 0.95 || f.Valid != 95 || f.Invalid != 5 {
		t.Errorf("threshold 0.9: %s at %v (valid %d invalid %d); want int64 at 0.95", f.Type, f.Confidence, f.Valid, f.Invalid)
	}
	if r.AllConfident {
		t.Errorf("AllConfident with a field at 0.95")
	}
	if got := r.LowConfidenceFields(0.99); !reflect.DeepEqual(got, []string{"n"}) {
		t.Errorf("LowConfidenceFields(0.99) = %v", got)
	}
	if got := r.LowConfidenceFields(0.9); len(got) != 0 {
		t.Errorf("LowConfidenceFields(0.9) = %v", got)
	}
	if f.TypeCandidates[Int64] != 95 || f.TypeCandidates[Float64] != 95 || f.TypeCandidates[Utf8] != 100 || f.TypeCandidates[Bool] != 2 {
		// "0" and "1" are the only bool-vocabulary values among 0..94
		t.Errorf("TypeCandidates = %v", f.TypeCandidates)
	}

	r = inferOf(t, 0.99, hashes)
	f = field(t, r, "n")
	if f.Type != Utf8 || f.Confidence != 1 || !r.AllConfident {
		t.Errorf("threshold 0.99: %s at %v, all confident %v; want utf8 at 1", f.Type, f.Confidence, r.AllConfident)
	}
	// default threshold
	if r := inferOf(t, 0, hashes); field(t, r, "n").Type != Int64 || r.Threshold != DefaultThreshold {
		t.Errorf("zero threshold should mean %v", DefaultThreshold)
	}
}

func TestInferMissingFieldsAreNulls(t *testing.T) {
	// "late" appears only in the last 2 of 10 hashes, "early" only in the
	// first 3, "gap" in every other one, "empty" is present but empty in 4.
	var hashes []map[string]string
	for i := 0; i < 10; i++ {
		h := map[string]string{"id": strconv.Itoa(i)}
		if i >= 8 {
			h["late"] = "1.5"
		}
		if i < 3 {
			h["early"] = "2024-01-01"
		}
		if i%2 == 0 {
			h["gap"] = "yes"
		}
		if i < 4 {
			h["empty"] = ""
		} else {
			h["empty"] = "7"
		}
		hashes = append(hashes, h)
	}
	r := inferOf(t, 0.9, hashes)
	want := map[string]struct {
		typ   Type
		nulls int64
	}{
		"id": {Int64, 0}, "late": {Float64, 8}, "early": {Date, 7}, "gap": {Bool, 5}, "empty": {Int64, 4},
	}
	if r.SampleCount != 10 || len(r.Fields) != len(want) {
		t.Fatalf("SampleCount %d, %d fields", r.SampleCount, len(r.Fields))
	}
	for name, w := range want {
		f := field(t, r, name)
		if f.Type != w.typ || f.Nulls != w.nulls || f.Samples != 10 || f.NullRatio != float64(w.nulls)/10 || f.Confidence != 1 {
			t.Errorf("%s: %+v; want %s with %d nulls", name, f, w.typ, w.nulls)
		}
	}
	// reversing the sample changes nothing but the field order
	rev := make([]map[string]string, len(hashes))
	for i, h := range hashes {
		rev[len(hashes)-1-i] = h
	}
	if r2 := inferOf(t, 0.9, rev); !reflect.DeepEqual(byName(r2), byName(r)) {
		t.Errorf("order of the sample changed the result")
	}
}

func TestInferAllNull(t *testing.T) {
	r := inferOf(t, 0.9, []map[string]string{{"a": "1", "b": ""}, {"a": "2"}})
	b := field(t, r, "b")
	if b.Type != Utf8 || !b.AllNull || b.Confidence != 0 || b.Nulls != 2 {
		t.Errorf("all-null field: %+v", b)
	}
	if r.AllConfident || r.AverageConfidence != 0.5 {
		t.Errorf("AllConfident %v AverageConfidence %v", r.AllConfident, r.AverageConfidence)
	}
	if got := r.LowConfidenceFields(0.5); !reflect.DeepEqual(got, []string{"b"}) {
		t.Errorf("LowConfidenceFields = %v", got)
	}
}

// TestInferNamesNotUTF8: an empty name cannot be a field and is listed in
// Skipped; a name that is not UTF-8 is a field, and survives the JSON of
// the inference (read back as a schema file) and of the Inferrer state.
func TestInferNamesNotUTF8(t *testing.T) {
	r := inferOf(t, 0.9, []map[string]string{{"": "x", "ok": "1", "\xff\\": "2"}})
	if r.Schema.Spec() != "ok:int64,\xff\\:int64" || len(r.Skipped) != 1 {
		t.Errorf("schema %q skipped %v", r.Schema.Spec(), r.Skipped)
	}
	if err := r.Schema.Validate(); err != nil {
		t.Errorf("inferred schema invalid: %v", err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(b) || !strings.Contains(string(b), `"name":"\\xff\\\\","type":"int64","name_escaped":true`) {
		t.Fatalf("inference JSON: %s", b)
	}
	s, err := ParseSchemaJSON(b, "")
	if err != nil || !reflect.DeepEqual(s, r.Schema) {
		t.Fatalf("schema read back = %+v, %v; want %+v", s, err, r.Schema)
	}
	var back Inference
	if err := json.Unmarshal(b, &back); err != nil || back.Fields[1].Name != "\xff\\" {
		t.Fatalf("inference read back: %+v, %v", back.Fields, err)
	}
	in := NewInferrer(InferOptions{})
	in.AddHash(map[string]string{"\xfe": "1"})
	st, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	in2 := NewInferrer(InferOptions{})
	if err := json.Unmarshal(st, in2); err != nil || in2.Result().Schema.Spec() != "\xfe:int64" {
		t.Fatalf("inferrer state %s read back: %v", st, err)
	}
}

func TestInferOverwrite(t *testing.T) {
	values := append(seq(95, strconv.Itoa), seq(5, func(i int) string { return "w" + strconv.Itoa(i) })...)
	var hashes []map[string]string
	for i, v := range values {
		hashes = append(hashes, map[string]string{"n": v, "when": strconv.Itoa(1700000000 + i)})
	}
	r := inferOf(t, 0.9, hashes)
	before := *r.Schema
	before.Fields = append([]Field(nil), r.Schema.Fields...)
	if err := r.Overwrite(map[string]Type{"when": Datetime, "nope": Int64, "zzz": Bool}); !errors.Is(err, ErrUnknownField) {
		t.Fatalf("unknown field: %v", err)
	} else if want := `"nope", "zzz"`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q should list %s", err, want)
	}
	if !reflect.DeepEqual(*r.Schema, before) {
		t.Errorf("failed Overwrite changed the schema")
	}
	if err := r.Overwrite(map[string]Type{"when": Datetime, "n": Float64}); err != nil {
		t.Fatal(err)
	}
	if r.Schema.Spec() != "n:float64,when:datetime" {
		t.Errorf("schema after overwrite: %s", r.Schema.Spec())
	}
	w := field(t, r, "when")
	if w.Type != Datetime || w.InferredType != Int64 || w.Confidence != 1 {
		t.Errorf("when: %+v", w)
	}
	n := field(t, r, "n")
	if n.Type != Float64 || n.InferredType != Int64 || n.Confidence != 0.95 || n.Valid != 95 {
		t.Errorf("n: %+v", n)
	}
	// overwriting to utf8 makes every value valid
	if err := r.Overwrite(map[string]Type{"n": Utf8}); err != nil {
		t.Fatal(err)
	}
	if n := field(t, r, "n"); n.Confidence != 1 || n.InferredType != Int64 || !r.AllConfident || r.AverageConfidence != 1 {
		t.Errorf("n after utf8 overwrite: %+v all %v", n, r.AllConfident)
	}
	// back to the inferred type clears the mark
	if err := r.Overwrite(map[string]Type{"n": Int64}); err != nil {
		t.Fatal(err)
	}
	if n := field(t, r, "n"); n.InferredType != 0 || n.Confidence != 0.95 {
		t.Errorf("n after restoring: %+v", n)
	}
	if err := r.Overwrite(map[string]Type{"n": Type(42)}); !errors.Is(err, ErrUnknownType) {
		t.Errorf("invalid type: %v", err)
	}
	m, err := ParseOverwrites("n:float,when:timestamp")
	if err != nil || !reflect.DeepEqual(m, map[string]Type{"n": Float64, "when": Datetime}) {
		t.Errorf("ParseOverwrites = %v, %v", m, err)
	}
}

// randomHash returns a hash with a random subset of fields of mixed kinds.
func randomHash(rng *rand.Rand) map[string]string {
	gens := map[string]func() string{
		"i": func() string { return strconv.FormatInt(rng.Int64N(1e6)-5e5, 10) },
		"f": func() string { return FormatFloat64(rng.NormFloat64() * 1e3) },
		"b": func() string { return []string{"true", "false", "yes", "0", "1"}[rng.IntN(5)] },
		"d": func() string { return FormatDate(int32(rng.IntN(80000) - 40000)) },
		"t": func() string { return FormatDatetime(rng.Int64N(4e15) - 2e15) },
		"s": func() string { return []string{"a", "", "ü", "12", "x y"}[rng.IntN(5)] },
		"m": func() string { // mostly ints, a few words
			if rng.IntN(20) == 0 {
				return "oops"
			}
			return strconv.Itoa(rng.IntN(100))
		},
	}
	h := map[string]string{}
	for k, g := range gens {
		if rng.IntN(4) != 0 {
			h[k] = g()
		}
	}
	return h
}

func TestInferMergeEqualsWhole(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		n := 50 + rng.IntN(200)
		hashes := make([]map[string]string, n)
		for i := range hashes {
			hashes[i] = randomHash(rng)
		}
		whole := NewInferrer(DefaultInferOptions())
		parts := []*Inferrer{NewInferrer(DefaultInferOptions()), NewInferrer(DefaultInferOptions()), NewInferrer(DefaultInferOptions())}
		for _, h := range hashes {
			whole.AddHash(h)
			parts[rng.IntN(len(parts))].AddHash(h)
		}
		// ship each partial state as JSON, as a worker would
		merged := NewInferrer(DefaultInferOptions())
		for _, p := range parts {
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			var back Inferrer
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("unmarshal %s: %v", b, err)
			}
			merged.Merge(&back)
		}
		want, got := whole.Result(), merged.Result()
		if !reflect.DeepEqual(byName(want), byName(got)) {
			t.Fatalf("seed %d: merged result differs\nwhole:  %s\nmerged: %s", seed, mustJSON(t, want), mustJSON(t, got))
		}
		if got.SampleCount != n {
			t.Fatalf("seed %d: SampleCount %d; want %d", seed, got.SampleCount, n)
		}
		// every field's counts add up
		for _, f := range got.Fields {
			if f.Valid+f.Invalid+f.Nulls != f.Samples {
				t.Fatalf("seed %d: %s: valid %d + invalid %d + nulls %d != samples %d", seed, f.Name, f.Valid, f.Invalid, f.Nulls, f.Samples)
			}
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInferenceJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	in := NewInferrer(InferOptions{Threshold: 0.8})
	for i := 0; i < 200; i++ {
		in.AddHash(randomHash(rng))
	}
	r := in.Result()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	// the file form is a schema file: ReadSchemaFile reads it unchanged
	p := filepath.Join(t.TempDir(), "inferred.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ReadSchemaFile(p)
	if err != nil {
		t.Fatalf("ReadSchemaFile(inference output): %v\n%s", err, b)
	}
	if !reflect.DeepEqual(s, r.Schema) {
		t.Errorf("schema from file %v; want %v", s, r.Schema)
	}
	// and it decodes back into an Inference
	var back Inference
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, r) {
		t.Errorf("Inference JSON round trip differs:\n%s\n%s", mustJSON(t, &back), mustJSON(t, r))
	}
	var top map[string]map[string]any
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`{"inference":`+string(raw["inference"])+`}`), &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sample_count", "average_confidence", "all_confident", "threshold", "fields", "low_confidence_fields"} {
		if _, ok := top["inference"][k]; !ok {
			t.Errorf("inference section lacks %q", k)
		}
	}
	f := top["inference"]["fields"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "type", "samples", "valid", "invalid", "nulls", "null_ratio", "type_candidates", "confidence"} {
		if _, ok := f[k]; !ok {
			t.Errorf("field entry lacks %q: %v", k, f)
		}
	}
}

func TestInferrerStateErrors(t *testing.T) {
	var bad Inferrer
	if err := json.Unmarshal([]byte(`nonsense`), &bad); err == nil {
		t.Errorf("Unmarshal(nonsense) succeeded")
	}
	for _, js := range []string{
		`[1]`,
		`{"threshold":0.9,"hashes":-1,"fields":[]}`,
		`{"threshold":0.9,"hashes":2,"fields":[{"name":"a","values":3,"candidates":{}}]}`,
		`{"threshold":0.9,"hashes":2,"fields":[{"name":"a","values":2,"candidates":{"int64":3}}]}`,
		`{"threshold":0.9,"hashes":2,"fields":[{"name":"a","values":2,"candidates":{"int65":1}}]}`,
		`{"threshold":0.9,"hashes":2,"fields":[{"name":"a","values":1},{"name":"a","values":1}]}`,
	} {
		var in Inferrer
		if err := json.Unmarshal([]byte(js), &in); !errors.Is(err, ErrInvalidState) && !errors.Is(err, ErrUnknownType) {
			t.Errorf("Unmarshal(%s) = %v; want ErrInvalidState", js, err)
		}
	}
	// a zero Inferrer is usable
	var z Inferrer
	z.AddHash(map[string]string{"a": "1"})
	if r := z.Result(); r.Schema.Spec() != "a:int64" || r.Threshold != DefaultThreshold {
		t.Errorf("zero Inferrer result %v %v", r.Schema, r.Threshold)
	}
	if err := (InferOptions{Threshold: 1.5}).Validate(); err == nil {
		t.Errorf("threshold 1.5 accepted")
	}
	if err := DefaultInferOptions().Validate(); err != nil {
		t.Errorf("default options invalid: %v", err)
	}
}

func TestInferAddRow(t *testing.T) {
	in := NewInferrer(DefaultInferOptions())
	in.AddRow([]string{"a", "b"}, []string{"1", ""})
	in.AddRow([]string{"a", "b"}, []string{"2", "x"})
	r := in.Result()
	if r.Schema.Spec() != "a:int64,b:utf8" || field(t, r, "b").Nulls != 1 || r.SampleCount != 2 {
		t.Errorf("AddRow result %s %+v", r.Schema.Spec(), r.Fields)
	}
}

func TestInferInvalidUTF8(t *testing.T) {
	values := append(seq(9, func(i int) string { return "name" + strconv.Itoa(i) }), "\xff\xfe")
	r := inferOf(t, 0.9, oneFieldHashes("s", values...))
	f := field(t, r, "s")
	if f.Type != Utf8 || f.Valid != 9 || f.Invalid != 1 || f.Confidence != 0.9 {
		t.Errorf("field with a non-UTF-8 value: %+v", f)
	}
}

func TestInferThresholdBoundary(t *testing.T) {
	// exactly threshold × values fit: chosen (no float rounding surprises)
	for _, tc := range []struct {
		ints, words int
		threshold   float64
	}{{7, 3, 0.7}, {9, 1, 0.9}, {19, 1, 0.95}, {3, 7, 0.3}, {29, 71, 0.29}, {57, 43, 0.57}} {
		values := append(seq(tc.ints, strconv.Itoa), seq(tc.words, func(i int) string { return "w" + strconv.Itoa(i) })...)
		f := field(t, inferOf(t, tc.threshold, oneFieldHashes("n", values...)), "n")
		if f.Type != Int64 {
			t.Errorf("%d ints + %d words at threshold %v: %s; want int64", tc.ints, tc.words, tc.threshold, f.Type)
		}
		below := field(t, inferOf(t, tc.threshold+0.001, oneFieldHashes("n", values...)), "n")
		if below.Type != Utf8 {
			t.Errorf("%d ints + %d words at threshold %v: %s; want utf8", tc.ints, tc.words, tc.threshold+0.001, below.Type)
		}
	}
}

// byName returns r with its fields sorted by name (for comparisons that do
// not depend on the order fields were first seen).
func byName(r *Inference) *Inference {
	c := *r
	c.Schema = &Schema{Fields: append([]Field(nil), r.Schema.Fields...)}
	c.Fields = append([]FieldInference(nil), r.Fields...)
	sort.Slice(c.Schema.Fields, func(i, j int) bool { return c.Schema.Fields[i].Name < c.Schema.Fields[j].Name })
	sort.Slice(c.Fields, func(i, j int) bool { return c.Fields[i].Name < c.Fields[j].Name })
	return &c
}

// Regression (issue 8, item 14): fields came out sorted by name (c0, c1,
// c10, c100, ...) instead of in the order first seen.
func TestInferFieldOrderFirstSeen(t *testing.T) {
	// rows: the header order is kept
	in := NewInferrer(DefaultInferOptions())
	in.AddRow([]string{"zeta", "alpha", "mid"}, []string{"1", "x", "2024-01-01"})
	if got := in.Result().Schema.Names(); !reflect.DeepEqual(got, []string{"zeta", "alpha", "mid"}) {
		t.Errorf("row order: %v", got)
	}
	// hashes: fields new in one hash in natural order, later ones after
	in = NewInferrer(DefaultInferOptions())
	h := map[string]string{}
	for i := 0; i <= 100; i++ {
		h[fmt.Sprintf("c%d", i)] = "1"
	}
	in.AddHash(h)
	in.AddHash(map[string]string{"b_late": "x", "c5": "2"})
	got := in.Result().Schema.Names()
	if len(got) != 102 || got[0] != "c0" || got[1] != "c1" || got[2] != "c2" || got[10] != "c10" || got[100] != "c100" || got[101] != "b_late" {
		t.Errorf("hash order: %v", got)
	}
	// the order survives the JSON state and merging (receiver's first)
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var back Inferrer
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	m := NewInferrer(DefaultInferOptions())
	m.AddHash(map[string]string{"first": "1"})
	m.Merge(&back)
	names := m.Result().Schema.Names()
	if names[0] != "first" || names[1] != "c0" || names[102] != "b_late" {
		t.Errorf("merged order: %v", names)
	}
}

// Regression (issue 8, item 1): numbers whose text a number column would
// change (leading zeros, a leading +) infer as utf8.
func TestInferLeadingZerosAreText(t *testing.T) {
	for _, vals := range [][]string{{"0049123", "12"}, {"01234", "02345"}, {"+4912345", "5"}, {"-007"}, {"00.5", "1.5"}} {
		in := NewInferrer(DefaultInferOptions())
		for _, v := range vals {
			in.AddHash(map[string]string{"f": v})
		}
		if typ := in.Result().Schema.Fields[0].Type; typ != Utf8 {
			t.Errorf("%q: inferred %s; want utf8", vals, typ)
		}
	}
	for _, vals := range [][]string{{"0", "10", "-5"}, {"0.5", "-0.25", "0"}} {
		in := NewInferrer(DefaultInferOptions())
		for _, v := range vals {
			in.AddHash(map[string]string{"f": v})
		}
		if typ := in.Result().Schema.Fields[0].Type; typ == Utf8 {
			t.Errorf("%q: inferred utf8; want a number", vals)
		}
	}
}
