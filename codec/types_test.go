package codec

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestParseType(t *testing.T) {
	tests := []struct {
		in   string
		want Type
	}{
		{"utf8", Utf8}, {"string", Utf8}, {"str", Utf8}, {"text", Utf8}, {"UTF8", Utf8},
		{"int64", Int64}, {"int", Int64}, {"integer", Int64}, {"long", Int64}, {"i64", Int64}, {"Int64", Int64},
		{"float64", Float64}, {"float", Float64}, {"double", Float64}, {"f64", Float64},
		{"bool", Bool}, {"boolean", Bool}, {"BOOL", Bool},
		{"date", Date}, {"date32", Date},
		{"datetime", Datetime}, {"timestamp", Datetime}, {" datetime ", Datetime},
	}
	for _, tc := range tests {
		got, err := ParseType(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseType(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "int32", "varchar", "dt", "utf-8", "float32"} {
		_, err := ParseType(bad)
		if !errors.Is(err, ErrUnknownType) {
			t.Errorf("ParseType(%q) error = %v; want ErrUnknownType", bad, err)
		}
	}
}

func TestTypeStringArrowJSON(t *testing.T) {
	want := map[Type]struct {
		name string
		dt   arrow.DataType
	}{
		Utf8:     {"utf8", arrow.BinaryTypes.String},
		Int64:    {"int64", arrow.PrimitiveTypes.Int64},
		Float64:  {"float64", arrow.PrimitiveTypes.Float64},
		Bool:     {"bool", arrow.FixedWidthTypes.Boolean},
		Date:     {"date", arrow.FixedWidthTypes.Date32},
		Datetime: {"datetime", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	}
	if len(want) != len(Types) {
		t.Fatalf("Types has %d entries, test knows %d", len(Types), len(want))
	}
	for _, ty := range Types {
		w := want[ty]
		if ty.String() != w.name {
			t.Errorf("%d.String() = %q; want %q", ty, ty.String(), w.name)
		}
		if !arrow.TypeEqual(ty.ArrowType(), w.dt) {
			t.Errorf("%s.ArrowType() = %v; want %v", ty, ty.ArrowType(), w.dt)
		}
		b, err := json.Marshal(ty)
		if err != nil || string(b) != `"`+w.name+`"` {
			t.Errorf("json.Marshal(%s) = %s, %v", ty, b, err)
		}
		var back Type
		if err := json.Unmarshal(b, &back); err != nil || back != ty {
			t.Errorf("json.Unmarshal(%s) = %v, %v", b, back, err)
		}
	}
	var zero Type
	if zero.Valid() || zero.ArrowType() != nil {
		t.Errorf("zero Type should be invalid with nil ArrowType")
	}
	if _, err := json.Marshal(zero); err == nil {
		t.Errorf("marshaling the zero Type should fail")
	}
	var back Type
	if err := json.Unmarshal([]byte(`"nonsense"`), &back); !errors.Is(err, ErrUnknownType) {
		t.Errorf("unmarshal of unknown type name: %v", err)
	}
}
