package codec

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

func TestRecordBuilder(t *testing.T) {
	mem := leakCheckedMem(t)
	s := mustSpec(t, "name:utf8,age:int64,score:float64,ok:bool,born:date,seen:datetime")
	b, err := NewRecordBuilder(mem, s, BuilderOptions{Meta: DefaultMetaColumns()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	rows := []struct {
		key     string
		values  []string
		present []bool
		ttl     int64
	}{
		{"u:1", []string{"Ann", "42", "1.5", "yes", "1990-01-02", "2024-05-01T12:30:45Z"}, nil, -1},
		// absent fields are null
		{"u:2", []string{"", "", "", "", "", ""}, []bool{false, false, false, false, false, false}, 100},
		// empty strings: "" for utf8, null for the other types, not invalid
		{"u:3", []string{"", "", "", "", "", ""}, []bool{true, true, true, true, true, true}, 5},
		// unparsable values: null and counted
		{"u:4", []string{"Bob", "4.5", "abc", "maybe", "1990-02-30", "yesterday"}, nil, -1},
		{"u:5", []string{"Ünïcødé ✓", "-9223372036854775808", "-inf", "F", "1969-12-31", "1700000000"}, nil, 7},
	}
	for i, r := range rows {
		if err := b.Append(r.key, r.values, r.present, r.ttl, uint64(i)); err != nil {
			t.Fatalf("Append %s: %v", r.key, err)
		}
	}
	if b.Len() != len(rows) {
		t.Fatalf("Len() = %d; want %d", b.Len(), len(rows))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	if b.Len() != 0 {
		t.Errorf("Len() after NewRecordBatch = %d; want 0", b.Len())
	}
	if !rec.Schema().Equal(b.ArrowSchema()) || rec.NumRows() != int64(len(rows)) || rec.NumCols() != 9 {
		t.Fatalf("record schema %v rows %d", rec.Schema(), rec.NumRows())
	}
	keys := rec.Column(0).(*array.String)
	names := rec.Column(1).(*array.String)
	ages := rec.Column(2).(*array.Int64)
	scores := rec.Column(3).(*array.Float64)
	oks := rec.Column(4).(*array.Boolean)
	borns := rec.Column(5).(*array.Date32)
	seens := rec.Column(6).(*array.Timestamp)
	ttls := rec.Column(7).(*array.Int64)
	idx := rec.Column(8).(*array.Uint64)

	for i, r := range rows {
		if keys.Value(i) != r.key || ttls.Value(i) != r.ttl || idx.Value(i) != uint64(i) {
			t.Errorf("row %d meta = %q %d %d", i, keys.Value(i), ttls.Value(i), idx.Value(i))
		}
	}
	// row 0: all valid
	if names.Value(0) != "Ann" || ages.Value(0) != 42 || scores.Value(0) != 1.5 || !oks.Value(0) ||
		borns.Value(0) != arrow.Date32(civilDays(1990, 1, 2)) ||
		seens.Value(0) != arrow.Timestamp(time.Date(2024, 5, 1, 12, 30, 45, 0, time.UTC).UnixMicro()) {
		t.Errorf("row 0 values wrong: %v", rec)
	}
	// row 1: absent → all null
	for c := 1; c <= 6; c++ {
		if !rec.Column(c).IsNull(1) {
			t.Errorf("row 1 column %d should be null", c)
		}
	}
	// row 2: "" is a utf8 value, null elsewhere
	if names.IsNull(2) || names.Value(2) != "" {
		t.Errorf("row 2: empty utf8 should be a valid empty string")
	}
	for c := 2; c <= 6; c++ {
		if !rec.Column(c).IsNull(2) {
			t.Errorf("row 2 column %d should be null for an empty string", c)
		}
	}
	// row 3: invalid → null
	if names.Value(3) != "Bob" {
		t.Errorf("row 3 name = %q", names.Value(3))
	}
	for c := 2; c <= 6; c++ {
		if !rec.Column(c).IsNull(3) {
			t.Errorf("row 3 column %d should be null (invalid value)", c)
		}
	}
	// row 4
	if names.Value(4) != "Ünïcødé ✓" || ages.Value(4) != math.MinInt64 || !math.IsInf(scores.Value(4), -1) || oks.Value(4) ||
		borns.Value(4) != -1 || seens.Value(4) != 1_700_000_000_000_000 {
		t.Errorf("row 4 values wrong: %v", rec)
	}
	wantInvalid := map[string]int64{"age": 1, "score": 1, "ok": 1, "born": 1, "seen": 1}
	if got := b.Invalid(); !mapsEqual(got, wantInvalid) {
		t.Errorf("Invalid() = %v; want %v", got, wantInvalid)
	}
	// counts are cumulative across batches
	if err := b.Append("u:6", []string{"x", "nope", "1", "1", "2024-01-01", "2024-01-01"}, nil, -1, 6); err != nil {
		t.Fatal(err)
	}
	rec2 := b.NewRecordBatch()
	defer rec2.Release()
	wantInvalid["age"] = 2
	if got := b.Invalid(); !mapsEqual(got, wantInvalid) {
		t.Errorf("Invalid() after second batch = %v; want %v", got, wantInvalid)
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestRecordBuilderStrict(t *testing.T) {
	mem := leakCheckedMem(t)
	s := mustSpec(t, "name:utf8,age:int64,when:datetime")
	b, err := NewRecordBuilder(mem, s, BuilderOptions{Meta: MetaColumns{Key: "_key"}, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	if err := b.Append("k1", []string{"a", "1", "2024-01-01"}, nil, 0, 0); err != nil {
		t.Fatal(err)
	}
	// absent and empty values are nulls, not errors, in strict mode
	if err := b.Append("k2", []string{"b", "", "x"}, []bool{true, true, false}, 0, 0); err != nil {
		t.Fatalf("strict mode rejected a null: %v", err)
	}
	err = b.Append("k3", []string{"c", "12", "not a time"}, nil, 0, 0)
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("Append error = %v; want *ParseError", err)
	}
	if *pe != (ParseError{Key: "k3", Field: "when", Value: "not a time", Want: Datetime}) {
		t.Errorf("ParseError = %+v", *pe)
	}
	for _, part := range []string{`"k3"`, `"when"`, `"not a time"`, "datetime"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %s", err, part)
		}
	}
	if b.Len() != 2 {
		t.Errorf("rejected row was appended: Len() = %d", b.Len())
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	if rec.NumRows() != 2 || rec.Column(0).(*array.String).Value(1) != "k2" {
		t.Errorf("record after strict rejection: %v", rec)
	}
	for c := int64(0); c < rec.NumCols(); c++ {
		if rec.Column(int(c)).Len() != 2 {
			t.Errorf("column %d has %d values; the rejected row leaked into it", c, rec.Column(int(c)).Len())
		}
	}
}

func TestRecordBuilderAppendMap(t *testing.T) {
	mem := leakCheckedMem(t)
	s := mustSpec(t, "a:int64,b:utf8")
	b, err := NewRecordBuilder(mem, s, BuilderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	if b.ArrowSchema().NumFields() != 2 || b.Schema() != s {
		t.Fatalf("no meta columns expected: %v", b.ArrowSchema())
	}
	b.Reserve(100)
	if err := b.AppendMap("k", map[string]string{"a": "7", "extra": "ignored"}, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.AppendMap("k2", map[string]string{"b": "x"}, 0, 0); err != nil {
		t.Fatal(err)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	a := rec.Column(0).(*array.Int64)
	bs := rec.Column(1).(*array.String)
	if a.Value(0) != 7 || !bs.IsNull(0) || !a.IsNull(1) || bs.Value(1) != "x" {
		t.Errorf("AppendMap record: %v", rec)
	}
}

func TestRecordBuilderErrors(t *testing.T) {
	mem := leakCheckedMem(t)
	s := mustSpec(t, "a:int64,_key:utf8")
	if _, err := NewRecordBuilder(mem, s, BuilderOptions{Meta: DefaultMetaColumns()}); !errors.Is(err, ErrColumnCollision) {
		t.Errorf("collision: %v", err)
	}
	b, err := NewRecordBuilder(mem, s, BuilderOptions{Meta: MetaColumns{Key: "key"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	if err := b.Append("k", []string{"1"}, nil, 0, 0); !errors.Is(err, ErrSchemaMismatch) {
		t.Errorf("short values: %v", err)
	}
	if err := b.Append("k", []string{"1", "x"}, []bool{true}, 0, 0); !errors.Is(err, ErrSchemaMismatch) {
		t.Errorf("short present: %v", err)
	}
	if b.Len() != 0 {
		t.Errorf("a failed Append added a row")
	}
}

func TestRecordBuilderInvalidUTF8(t *testing.T) {
	mem := leakCheckedMem(t)
	b, err := NewRecordBuilder(mem, mustSpec(t, "s:utf8"), BuilderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	for _, v := range []string{"ok", "\xff\xfe", "caf\xc3\xa9", "trunc\xc3"} {
		if err := b.Append("k", []string{v}, nil, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	s := rec.Column(0).(*array.String)
	if s.Value(0) != "ok" || !s.IsNull(1) || s.Value(2) != "café" || !s.IsNull(3) {
		t.Errorf("column %v", s)
	}
	if got := b.Invalid(); !mapsEqual(got, map[string]int64{"s": 2}) {
		t.Errorf("Invalid() = %v", got)
	}
	strict, err := NewRecordBuilder(mem, mustSpec(t, "s:utf8"), BuilderOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Release()
	var pe *ParseError
	if err := strict.Append("k", []string{"\xff"}, nil, 0, 0); !errors.As(err, &pe) || pe.Want != Utf8 {
		t.Errorf("strict invalid UTF-8: %v", err)
	}
}
