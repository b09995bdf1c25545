package codec

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultThreshold is the default share of non-null sampled values that
// must parse under a type for inference to choose it when not all do.
const DefaultThreshold = 0.9

// InferOptions configures an Inferrer.
type InferOptions struct {
	// Threshold in (0, 1]: when no type other than utf8 fits every non-null
	// value, the most specific type that fits at least this share of them is
	// chosen (with confidence below 1). Zero means DefaultThreshold.
	Threshold float64 `json:"threshold"`
}

// DefaultInferOptions returns InferOptions{Threshold: 0.9}.
func DefaultInferOptions() InferOptions { return InferOptions{Threshold: DefaultThreshold} }

// Validate checks that Threshold is 0 (default) or within (0, 1].
func (o InferOptions) Validate() error {
	if math.IsNaN(o.Threshold) || o.Threshold < 0 || o.Threshold > 1 {
		return fmt.Errorf("inference threshold %v: must be within (0, 1], e.g. 0.9", o.Threshold)
	}
	return nil
}

func (o InferOptions) threshold() float64 {
	t := o.Threshold
	switch {
	case t == 0 || math.IsNaN(t):
		return DefaultThreshold
	case t < 0:
		return math.SmallestNonzeroFloat64
	case t > 1:
		return 1
	}
	return t
}

// Inferrer accumulates evidence about field types over a sample of hashes.
// It is not safe for concurrent use; use one per goroutine and Merge them.
// Its state marshals to JSON (workers send partial states, a coordinator
// unmarshals and merges them); merging is order independent.
type Inferrer struct {
	opts   InferOptions
	hashes int64
	fields map[string]*fieldCounts
	order  []string // field names in the order first seen
}

// fieldCounts is the evidence about one field.
type fieldCounts struct {
	values int64           // non-empty values seen
	cand   [numKinds]int64 // how many of them parse as each type (index = Type)
}

const numKinds = int(Datetime) + 1

// NewInferrer returns an empty Inferrer. A zero Threshold means
// DefaultThreshold; thresholds outside (0, 1] are clamped into it (call
// InferOptions.Validate to reject them instead).
func NewInferrer(opts InferOptions) *Inferrer {
	opts.Threshold = opts.threshold()
	return &Inferrer{opts: opts, fields: map[string]*fieldCounts{}}
}

// SampleCount returns the number of hashes added (including merged ones).
func (in *Inferrer) SampleCount() int64 { return in.hashes }

// AddHash adds one sampled hash. A field absent from the hash, or present
// with an empty value, counts as a null for that field, whether the field
// was seen before or only appears in later hashes.
//
// Redis does not keep the field order of large hashes, so fields first
// seen in the same hash are taken in natural order (c2 before c10).
func (in *Inferrer) AddHash(m map[string]string) {
	in.hashes++
	var fresh []string
	for k, v := range m {
		if _, seen := in.fields[k]; !seen {
			fresh = append(fresh, k)
			continue
		}
		in.add(k, v)
	}
	sort.Slice(fresh, func(i, j int) bool { return naturalLess(fresh[i], fresh[j]) })
	for _, k := range fresh {
		in.add(k, m[k])
	}
}

// naturalLess orders strings with runs of ASCII digits compared as
// numbers: "c2" < "c10"; ties (leading zeros) fall back to byte order.
func naturalLess(a, b string) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			ei, ej := digitRun(a, i), digitRun(b, j)
			na, nb := strings.TrimLeft(a[i:ei], "0"), strings.TrimLeft(b[j:ej], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			i, j = ei, ej
			continue
		}
		if a[i] != b[j] {
			return a[i] < b[j]
		}
		i++
		j++
	}
	if len(a)-i != len(b)-j {
		return len(a)-i < len(b)-j
	}
	return a < b
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digitRun(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// AddRow adds one sampled row given as parallel name and value slices (for
// tabular sources); an empty value is a null.
func (in *Inferrer) AddRow(names, values []string) {
	in.hashes++
	for i, k := range names {
		if i < len(values) {
			in.add(k, values[i])
		}
	}
}

func (in *Inferrer) add(k, v string) {
	if in.fields == nil {
		in.fields = map[string]*fieldCounts{}
	}
	fc := in.fields[k]
	if fc == nil {
		fc = &fieldCounts{}
		in.fields[k] = fc
		in.order = append(in.order, k)
	}
	if v == "" {
		return
	}
	fc.values++
	if !utf8.ValidString(v) {
		return // fits no type, not even utf8
	}
	fc.cand[Utf8]++
	if numberKeepsText(v) {
		if _, ok := ParseFloat64(v); ok {
			return // 007, +49 123: a number column would drop the zeros or sign
		}
	}
	if _, ok := ParseInt64(v); ok {
		// every int64 text is also a float64 text
		fc.cand[Int64]++
		fc.cand[Float64]++
		if v == "0" || v == "1" {
			fc.cand[Bool]++
		}
		if _, ok := ParseDatetime(v); ok { // epoch seconds or milliseconds
			fc.cand[Datetime]++
		}
		return
	}
	if _, ok := ParseFloat64(v); ok {
		fc.cand[Float64]++
		return // no other type's text is a float text
	}
	if len(v) <= 5 {
		if _, ok := ParseBool(v); ok {
			fc.cand[Bool]++
			return
		}
	}
	if len(v) >= 10 { // the shortest date or datetime text is YYYY-MM-DD
		if _, ok := ParseDate(v); ok {
			fc.cand[Date]++
		}
		if _, ok := ParseDatetime(v); ok {
			fc.cand[Datetime]++
		}
	}
}

// numberKeepsText reports whether v, if it is a number, has text that a
// number column would not keep: a leading + or a leading zero before
// another digit (0049123, 01234, -007, 00.5). Such values are utf8 to
// inference (phone numbers, zip codes, account numbers).
func numberKeepsText(v string) bool {
	if v == "" {
		return false
	}
	if v[0] == '+' {
		return true
	}
	if v[0] == '-' {
		v = v[1:]
	}
	return len(v) >= 2 && v[0] == '0' && isDigit(v[1])
}

// Merge adds other's evidence to in. The threshold of in is kept; fields
// new to in follow its own in other's order.
func (in *Inferrer) Merge(other *Inferrer) {
	if other == nil {
		return
	}
	if in.fields == nil {
		in.fields = map[string]*fieldCounts{}
	}
	in.hashes += other.hashes
	for _, k := range other.names() {
		o := other.fields[k]
		fc := in.fields[k]
		if fc == nil {
			fc = &fieldCounts{}
			in.fields[k] = fc
			in.order = append(in.order, k)
		}
		fc.values += o.values
		for i := range fc.cand {
			fc.cand[i] += o.cand[i]
		}
	}
}

// names returns the field names in the order first seen.
func (in *Inferrer) names() []string {
	if len(in.order) == len(in.fields) {
		return in.order
	}
	seen := make(map[string]bool, len(in.order))
	names := make([]string, 0, len(in.fields))
	for _, k := range in.order {
		if _, ok := in.fields[k]; ok && !seen[k] {
			seen[k] = true
			names = append(names, k)
		}
	}
	var rest []string
	for k := range in.fields {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return naturalLess(rest[i], rest[j]) })
	in.order = append(names, rest...)
	return in.order
}

// preference lists the types from most to least specific. int64 precedes
// bool, so a field whose values are all "0"/"1" is int64; a field mixing
// 0/1 with words like "yes" or "false" fits only bool and becomes bool.
// int64 and float64 precede datetime, so integers stay numbers although
// they also parse as epoch seconds.
var preference = [...]Type{Int64, Bool, Float64, Date, Datetime}

// choose returns the inferred type of a field and whether it fit all values.
func (fc *fieldCounts) choose(threshold float64) Type {
	if fc.values == 0 {
		return Utf8
	}
	for _, t := range preference {
		if fc.cand[t] == fc.values {
			return t
		}
	}
	for _, t := range preference {
		// a small tolerance so that, e.g., 7 of 10 meets 0.7 despite rounding
		if float64(fc.cand[t])/float64(fc.values) >= threshold-1e-12 {
			return t
		}
	}
	return Utf8
}

// Result computes the inference over the evidence so far. Fields are in
// the order first seen (see AddHash, AddRow and Merge). A field name that
// is not valid UTF-8 is a field like any other (its JSON form is escaped,
// see Field); an empty field name cannot be a schema field and is listed
// in Skipped instead.
func (in *Inferrer) Result() *Inference {
	names := in.names()
	r := &Inference{
		Schema:      &Schema{Fields: make([]Field, 0, len(names))},
		SampleCount: int(in.hashes),
		Threshold:   in.opts.threshold(),
		Fields:      make([]FieldInference, 0, len(names)),
	}
	for _, name := range names {
		if checkName(name) != nil {
			r.Skipped = append(r.Skipped, strconv.Quote(name))
			continue
		}
		fc := in.fields[name]
		fi := FieldInference{
			Name:           name,
			Samples:        in.hashes,
			Nulls:          in.hashes - fc.values,
			TypeCandidates: make(map[Type]int64, len(Types)),
			AllNull:        fc.values == 0,
		}
		for _, t := range Types {
			fi.TypeCandidates[t] = fc.cand[t]
		}
		if in.hashes > 0 {
			fi.NullRatio = float64(fi.Nulls) / float64(in.hashes)
		}
		fi.setType(fc.choose(r.Threshold))
		r.Schema.Fields = append(r.Schema.Fields, Field{Name: name, Type: fi.Type})
		r.Fields = append(r.Fields, fi)
	}
	r.summarize()
	return r
}

// Inference is the result of schema inference. Its JSON form is the schema
// file form plus an "inference" section, so ReadSchemaFile accepts it.
type Inference struct {
	Schema            *Schema
	SampleCount       int
	AverageConfidence float64 // mean of the fields' confidence
	AllConfident      bool    // every field has confidence 1 (no all-null field)
	Threshold         float64
	Fields            []FieldInference // in schema order
	Skipped           []string         // quoted names that cannot be fields
}

// FieldInference is the evidence and decision for one field.
type FieldInference struct {
	Name    string `json:"name"`
	Type    Type   `json:"type"`
	Samples int64  `json:"samples"` // sampled hashes
	Valid   int64  `json:"valid"`   // non-null values that parse as Type
	Invalid int64  `json:"invalid"` // non-null values that do not (null when scanned)
	Nulls   int64  `json:"nulls"`   // hashes lacking the field or with an empty value
	// NullRatio = Nulls / Samples.
	NullRatio float64 `json:"null_ratio"`
	// TypeCandidates: how many non-null values parse as each type.
	TypeCandidates map[Type]int64 `json:"type_candidates"`
	// Confidence = Valid / (Valid + Invalid); 0 for an all-null field.
	Confidence float64 `json:"confidence"`
	// AllNull: no non-null value was sampled; the type (utf8) is a guess.
	AllNull bool `json:"all_null,omitempty"`
	// InferredType is the inferred type when Overwrite changed Type.
	InferredType Type `json:"inferred_type,omitempty"`
}

// fieldInferenceJSON is the JSON form of a FieldInference.
type fieldInferenceJSON struct {
	fieldInferencePlain
	NameEscaped bool `json:"name_escaped,omitempty"`
}

type fieldInferencePlain FieldInference

// MarshalJSON writes the fields above; a name that is not valid UTF-8 is
// escaped and flagged "name_escaped":true, as in Field.
func (fi FieldInference) MarshalJSON() ([]byte, error) {
	v := fieldInferenceJSON{fieldInferencePlain: fieldInferencePlain(fi)}
	if !utf8.ValidString(fi.Name) {
		v.Name, v.NameEscaped = EscapeBytes(fi.Name), true
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (fi *FieldInference) UnmarshalJSON(b []byte) error {
	var v fieldInferenceJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	name, err := jsonName(v.Name, v.NameEscaped)
	if err != nil {
		return err
	}
	*fi = FieldInference(v.fieldInferencePlain)
	fi.Name = name
	return nil
}

// setType sets the type and the figures that depend on it.
func (fi *FieldInference) setType(t Type) {
	fi.Type = t
	nonNull := fi.Samples - fi.Nulls
	fi.Valid = fi.TypeCandidates[t]
	fi.Invalid = nonNull - fi.Valid
	fi.Confidence = 0
	if nonNull > 0 {
		fi.Confidence = float64(fi.Valid) / float64(nonNull)
	}
}

func (r *Inference) summarize() {
	r.AverageConfidence, r.AllConfident = 0, true
	// Summed in ascending order, so the average does not depend on the
	// field order (which depends on the order hashes were seen).
	conf := make([]float64, len(r.Fields))
	for i, f := range r.Fields {
		conf[i] = f.Confidence
		if f.Confidence < 1 {
			r.AllConfident = false
		}
	}
	sort.Float64s(conf)
	for _, c := range conf {
		r.AverageConfidence += c
	}
	if len(r.Fields) > 0 {
		r.AverageConfidence /= float64(len(r.Fields))
	}
}

// LowConfidenceFields returns, in schema order, the names of the fields
// whose confidence is below threshold (all-null fields have confidence 0);
// a name that is not valid UTF-8 in the escaped form (EscapeInvalid).
func (r *Inference) LowConfidenceFields(threshold float64) []string {
	var out []string
	for _, f := range r.Fields {
		if f.Confidence < threshold {
			out = append(out, EscapeInvalid(f.Name))
		}
	}
	return out
}

// Overwrite sets the types of the named fields, recomputing their valid
// and invalid counts and confidence from the sampled evidence. A name that
// is not an inferred field is an error (wrapping ErrUnknownField) and then
// nothing is changed.
func (r *Inference) Overwrite(types map[string]Type) error {
	var unknown []string
	for name, t := range types {
		i := r.Schema.Index(name)
		if i < 0 {
			unknown = append(unknown, strconv.Quote(name))
			continue
		}
		if !t.Valid() {
			return fmt.Errorf("overwriting field %q: %w %s", name, ErrUnknownType, t)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("overwriting types: %w %s (inferred fields: %s)", ErrUnknownField,
			strings.Join(unknown, ", "), clip(strings.Join(r.Schema.Names(), ", "), 200))
	}
	for name, t := range types {
		i := r.Schema.Index(name)
		fi := &r.Fields[i]
		if fi.Type == t {
			continue
		}
		if fi.InferredType == 0 {
			fi.InferredType = fi.Type
		} else if fi.InferredType == t {
			fi.InferredType = 0
		}
		fi.setType(t)
		r.Schema.Fields[i].Type = t
	}
	r.summarize()
	return nil
}

// ParseOverwrites parses "name:type,..." (the schema spec syntax) into a
// map for Overwrite.
func ParseOverwrites(spec string) (map[string]Type, error) {
	s, err := ParseSchemaSpec(spec)
	if err != nil {
		return nil, err
	}
	m := make(map[string]Type, len(s.Fields))
	for _, f := range s.Fields {
		m[f.Name] = f.Type
	}
	return m, nil
}

type inferenceSection struct {
	SampleCount       int              `json:"sample_count"`
	Threshold         float64          `json:"threshold"`
	AverageConfidence float64          `json:"average_confidence"`
	AllConfident      bool             `json:"all_confident"`
	LowConfidence     []string         `json:"low_confidence_fields"`
	Skipped           []string         `json:"skipped_fields,omitempty"`
	Fields            []FieldInference `json:"fields"`
}

// MarshalJSON writes {"fields":[{"name":..,"type":..},...],"inference":{...}}.
func (r *Inference) MarshalJSON() ([]byte, error) {
	low := r.LowConfidenceFields(r.Threshold)
	if low == nil {
		low = []string{}
	}
	schema := r.Schema
	if schema == nil {
		schema = &Schema{}
	}
	fields := schema.Fields
	if fields == nil {
		fields = []Field{}
	}
	return json.Marshal(struct {
		Fields    []Field          `json:"fields"`
		Inference inferenceSection `json:"inference"`
	}{fields, inferenceSection{
		SampleCount: r.SampleCount, Threshold: r.Threshold, AverageConfidence: r.AverageConfidence,
		AllConfident: r.AllConfident, LowConfidence: low, Skipped: r.Skipped, Fields: r.Fields,
	}})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Inference) UnmarshalJSON(b []byte) error {
	var v struct {
		Fields    []Field          `json:"fields"`
		Inference inferenceSection `json:"inference"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Inference{
		Schema: &Schema{Fields: v.Fields}, SampleCount: v.Inference.SampleCount, Threshold: v.Inference.Threshold,
		AverageConfidence: v.Inference.AverageConfidence, AllConfident: v.Inference.AllConfident,
		Fields: v.Inference.Fields, Skipped: v.Inference.Skipped,
	}
	if len(r.Fields) != len(r.Schema.Fields) {
		return fmt.Errorf("%w: inference has %d field entries for %d schema fields", ErrInvalidSchema, len(r.Fields), len(r.Schema.Fields))
	}
	return nil
}

// inferrerState is the JSON form of an Inferrer.
type inferrerState struct {
	Threshold float64            `json:"threshold"`
	Hashes    int64              `json:"hashes"`
	Fields    []fieldCountsState `json:"fields"`
}

type fieldCountsState struct {
	Name        string         `json:"name"`
	NameEscaped bool           `json:"name_escaped,omitempty"` // Name is in the escaped form
	Values      int64          `json:"values"`
	Candidates  map[Type]int64 `json:"candidates"`
}

// MarshalJSON writes the accumulated state (fields in the order first seen).
func (in *Inferrer) MarshalJSON() ([]byte, error) {
	st := inferrerState{Threshold: in.opts.threshold(), Hashes: in.hashes, Fields: make([]fieldCountsState, 0, len(in.fields))}
	for _, name := range in.names() {
		fc := in.fields[name]
		c := make(map[Type]int64, len(Types))
		for _, t := range Types {
			if fc.cand[t] != 0 || t == Utf8 {
				c[t] = fc.cand[t]
			}
		}
		st.Fields = append(st.Fields, fieldCountsState{Name: name, Values: fc.values, Candidates: c})
	}
	for i, f := range st.Fields {
		if !utf8.ValidString(f.Name) {
			st.Fields[i].Name, st.Fields[i].NameEscaped = EscapeBytes(f.Name), true
		}
	}
	return json.Marshal(st)
}

// UnmarshalJSON restores a state written by MarshalJSON, checking that its
// counts are consistent.
func (in *Inferrer) UnmarshalJSON(b []byte) error {
	var st inferrerState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidState, err)
	}
	if st.Hashes < 0 {
		return fmt.Errorf("%w: negative hash count %d", ErrInvalidState, st.Hashes)
	}
	fields := make(map[string]*fieldCounts, len(st.Fields))
	order := make([]string, 0, len(st.Fields))
	for _, f := range st.Fields {
		name, err := jsonName(f.Name, f.NameEscaped)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidState, err)
		}
		f.Name = name
		order = append(order, f.Name)
		if _, dup := fields[f.Name]; dup {
			return fmt.Errorf("%w: field %q listed twice", ErrInvalidState, f.Name)
		}
		if f.Values < 0 || f.Values > st.Hashes {
			return fmt.Errorf("%w: field %q has %d values in %d hashes", ErrInvalidState, f.Name, f.Values, st.Hashes)
		}
		fc := &fieldCounts{values: f.Values}
		for t, n := range f.Candidates {
			if !t.Valid() || n < 0 || n > f.Values {
				return fmt.Errorf("%w: field %q: candidate count %s=%d of %d values", ErrInvalidState, f.Name, t, n, f.Values)
			}
			fc.cand[t] = n
		}
		fields[f.Name] = fc
	}
	*in = Inferrer{opts: InferOptions{Threshold: st.Threshold}, hashes: st.Hashes, fields: fields, order: order}
	in.opts.Threshold = in.opts.threshold()
	return nil
}
