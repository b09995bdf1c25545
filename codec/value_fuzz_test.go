package codec

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzParseSchemaSpec(f *testing.F) {
	for _, s := range []string{
		"name:utf8,age:int64,joined:date", " a : int , b:timestamp", "a:b:c:float", "", ",", "a", ":int64",
		"a:int64,a:utf8", "a:int65", "名前:utf8", "a:utf8,", "a:\xff", "\x00:bool",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseSchemaSpec(spec)
		if err != nil {
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SpecError", err)
			}
			if se.Entry > 0 {
				if se.Offset < 0 || se.Offset > len(spec) || !strings.HasPrefix(spec[se.Offset:], se.Text) {
					t.Fatalf("error %v: offset %d / text %q do not point into the spec", err, se.Offset, se.Text)
				}
				if !strings.Contains(err.Error(), "entry "+strconv.Itoa(se.Entry)) {
					t.Fatalf("error %q does not name entry %d", err, se.Entry)
				}
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted an invalid schema %v: %v", s, err)
		}
		again, err := ParseSchemaSpec(s.Spec())
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("Spec() %q does not parse back: %v, %v", s.Spec(), again, err)
		}
	})
}

// FuzzParseValue runs every parser on arbitrary input: no panics; every
// accepted value formats to a canonical string that parses back to the
// same value; and the parsers agree with strconv and package time where
// those implement the same rule.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{
		"0", "-9223372036854775808", "9223372036854775808", "+1", "1.5", "-0", "1e400", "inf", "-Infinity", "NaN", "1_0", "0x10",
		"true", "Y", "no", "2024-02-29", "2023-02-29", "+10000-01-01", "-0001-12-31", "2024-05-01T12:30:45.123456789+02:00",
		"2024-05-01 12:30:45", "2024-05-01T12:30Z", "1714566645", "1714566645000", "-290308-12-21T19:59:05.224192Z", "", " 1",
		"2024-05-01T12:30:45,5Z", "9999-12-31T23:59:59.999999999-23:59",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, ok := ParseInt64(s); ok {
			if back, ok2 := ParseInt64(FormatInt64(v)); !ok2 || back != v {
				t.Fatalf("int64 %q → %d → %q", s, v, FormatInt64(v))
			}
		}
		want, err := strconv.ParseInt(s, 10, 64)
		if v, ok := ParseInt64(s); ok != (err == nil) || (ok && v != want) {
			t.Fatalf("ParseInt64(%q) = %d, %v; strconv says %d, %v", s, v, ok, want, err)
		}

		if v, ok := ParseFloat64(s); ok {
			back, ok2 := ParseFloat64(FormatFloat64(v))
			if !ok2 || (math.Float64bits(back) != math.Float64bits(v) && !(math.IsNaN(v) && math.IsNaN(back))) {
				t.Fatalf("float64 %q → %v → %q → %v", s, v, FormatFloat64(v), back)
			}
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				if sv, err := strconv.ParseFloat(s, 64); err != nil || sv != v {
					t.Fatalf("ParseFloat64(%q) = %v; strconv says %v, %v", s, v, sv, err)
				}
			}
		}

		if v, ok := ParseBool(s); ok {
			if back, ok2 := ParseBool(FormatBool(v)); !ok2 || back != v {
				t.Fatalf("bool %q", s)
			}
		}

		d, okd := ParseDate(s)
		if okd {
			if back, ok2 := ParseDate(FormatDate(d)); !ok2 || back != d {
				t.Fatalf("date %q → %d → %q", s, d, FormatDate(d))
			}
		}
		if len(s) == 10 && s[0] != '+' && s[0] != '-' {
			tm, err := time.Parse("2006-01-02", s)
			if (err == nil) != okd || (okd && int64(d) != floorDiv(tm.Unix(), 86400)) {
				t.Fatalf("ParseDate(%q) = %d, %v; time says %v, %v", s, d, okd, tm, err)
			}
		}

		us, okt := ParseDatetime(s)
		if okt {
			if back, ok2 := ParseDatetime(FormatDatetime(us)); !ok2 || back != us {
				t.Fatalf("datetime %q → %d → %q", s, us, FormatDatetime(us))
			}
		}
		if okd && !okt && int64(d) < 100_000_000 && int64(d) > -100_000_000 {
			t.Fatalf("%q is a date but not a datetime", s)
		}
		// the inferrer's shortcut classification agrees with the parsers
		if s != "" {
			in := NewInferrer(DefaultInferOptions())
			in.AddHash(map[string]string{"f": s})
			got := in.fields["f"].cand
			var want [numKinds]int64
			if utf8.ValidString(s) {
				want[Utf8] = 1
			}
			if _, ok := ParseInt64(s); ok {
				want[Int64] = 1
			}
			if _, ok := ParseFloat64(s); ok {
				want[Float64] = 1
			}
			if _, ok := ParseBool(s); ok {
				want[Bool] = 1
			}
			if okd {
				want[Date] = 1
			}
			if okt {
				want[Datetime] = 1
			}
			if _, num := ParseFloat64(s); num && numberKeepsText(s) {
				want = [numKinds]int64{} // 007, +1: kept as text
				want[Utf8] = 1
			}
			if got != want {
				t.Fatalf("inferrer candidates for %q = %v; parsers say %v", s, got, want)
			}
		}

		// time.Parse also takes a one-digit hour, which RFC 3339 does not
		// allow; compare only two-digit hours.
		if tm, err := time.Parse(time.RFC3339Nano, s); err == nil && len(s) > 13 && s[13] == ':' {
			if !okt || us != tm.UnixMicro() {
				t.Fatalf("ParseDatetime(%q) = %d, %v; time.Parse(RFC3339) says %d", s, us, okt, tm.UnixMicro())
			}
		}
	})
}

func FuzzParseSchemaJSON(f *testing.F) {
	for _, s := range []string{
		`{"fields":[{"name":"a","type":"int64"}]}`, `{"fields":[{"name":"a","type":"int64"}],"inference":{"sample_count":1}}`,
		`{"fields":[]}`, `{}`, `[]`, `{"fields":[{"name":"a"}]}`, "{\n\"fields\": [\n{\"name\": 1}]}", `{"fields":[{"name":"a","type":"int64"},{"name":"a","type":"utf8"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSchemaJSON(b, "fuzz.json")
		if err != nil {
			var se *SpecError
			if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), "fuzz.json: ") {
				t.Fatalf("error %v is not a *SpecError naming the source", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted an invalid schema: %v", err)
		}
	})
}

// FuzzInferrerState feeds arbitrary partial states (as a coordinator gets
// them from workers): either an error, or a state whose result is sound.
func FuzzInferrerState(f *testing.F) {
	in := NewInferrer(DefaultInferOptions())
	in.AddHash(map[string]string{"a": "1", "b": "x", "c": "2024-01-01"})
	in.AddHash(map[string]string{"a": "2.5"})
	good, _ := in.MarshalJSON()
	f.Add(good)
	f.Add([]byte(`{"threshold":0.5,"hashes":3,"fields":[{"name":"a","values":3,"candidates":{"utf8":3,"bool":2}}]}`))
	f.Add([]byte(`{"hashes":1,"fields":[{"name":"","values":1,"candidates":{"utf8":1}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var st Inferrer
		if err := st.UnmarshalJSON(b); err != nil {
			return
		}
		r := st.Result()
		for _, fi := range r.Fields {
			if fi.Valid < 0 || fi.Invalid < 0 || fi.Nulls < 0 || fi.Valid+fi.Invalid+fi.Nulls != fi.Samples ||
				fi.Confidence < 0 || fi.Confidence > 1 || math.IsNaN(fi.Confidence) {
				t.Fatalf("unsound field %+v from %s", fi, b)
			}
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("result does not marshal: %v", err)
		}
	})
}
