package codec

import (
	"errors"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/float16"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// fromJSON builds an array of type dt from a JSON list.
func fromJSON(t *testing.T, mem memory.Allocator, dt arrow.DataType, js string) arrow.Array {
	t.Helper()
	a, _, err := array.FromJSON(mem, dt, strings.NewReader(js))
	if err != nil {
		t.Fatalf("FromJSON(%v, %s): %v", dt, js, err)
	}
	return a
}

// TestFormatCellMapping checks, for every supported input type, the codec
// type it maps to and the strings written.
func TestFormatCellMapping(t *testing.T) {
	mem := leakCheckedMem(t)
	tsType := func(u arrow.TimeUnit, tz string) arrow.DataType { return &arrow.TimestampType{Unit: u, TimeZone: tz} }
	tests := []struct {
		name string
		dt   arrow.DataType
		js   string
		want Type
		out  []string // "" entry with null = "<null>"
	}{
		{"int8", arrow.PrimitiveTypes.Int8, `[-128, 127, null]`, Int64, []string{"-128", "127", "<null>"}},
		{"int16", arrow.PrimitiveTypes.Int16, `[-32768, 32767]`, Int64, []string{"-32768", "32767"}},
		{"int32", arrow.PrimitiveTypes.Int32, `[-2147483648, 7]`, Int64, []string{"-2147483648", "7"}},
		{"int64", arrow.PrimitiveTypes.Int64, `[-9223372036854775808, 9223372036854775807]`, Int64, []string{"-9223372036854775808", "9223372036854775807"}},
		{"uint8", arrow.PrimitiveTypes.Uint8, `[0, 255]`, Int64, []string{"0", "255"}},
		{"uint16", arrow.PrimitiveTypes.Uint16, `[65535]`, Int64, []string{"65535"}},
		{"uint32", arrow.PrimitiveTypes.Uint32, `[4294967295]`, Int64, []string{"4294967295"}},
		{"uint64", arrow.PrimitiveTypes.Uint64, `[9223372036854775807, null]`, Int64, []string{"9223372036854775807", "<null>"}},
		{"float32", arrow.PrimitiveTypes.Float32, `[0.1, -2.5, 1e30, null]`, Float64, []string{"0.1", "-2.5", "1e+30", "<null>"}},
		{"float64", arrow.PrimitiveTypes.Float64, `[0.1, 1e-7, 123456789]`, Float64, []string{"0.1", "1e-7", "123456789"}},
		{"bool", arrow.FixedWidthTypes.Boolean, `[true, false, null]`, Bool, []string{"true", "false", "<null>"}},
		{"string", arrow.BinaryTypes.String, `["a", "", "ünï"]`, Utf8, []string{"a", "", "ünï"}},
		{"large_string", arrow.BinaryTypes.LargeString, `["x", null]`, Utf8, []string{"x", "<null>"}},
		{"string_view", arrow.BinaryTypes.StringView, `["a long string that is not inlined", "s"]`, Utf8, []string{"a long string that is not inlined", "s"}},
		{"binary", arrow.BinaryTypes.Binary, `["aGk="]`, Utf8, []string{"hi"}},
		{"large_binary", arrow.BinaryTypes.LargeBinary, `["aGk="]`, Utf8, []string{"hi"}},
		{"date32", arrow.FixedWidthTypes.Date32, `[0, -1, 19844]`, Date, []string{"1970-01-01", "1969-12-31", "2024-05-01"}},
		{"date64", arrow.FixedWidthTypes.Date64, `[0, -86400000, 1714521600000]`, Date, []string{"1970-01-01", "1969-12-31", "2024-05-01"}},
		{"timestamp_s", tsType(arrow.Second, ""), `[0, 1714566645]`, Datetime, []string{"1970-01-01T00:00:00Z", "2024-05-01T12:30:45Z"}},
		{"timestamp_ms_zone", tsType(arrow.Millisecond, "Europe/Paris"), `[1714566645123]`, Datetime, []string{"2024-05-01T12:30:45.123Z"}},
		{"timestamp_us", tsType(arrow.Microsecond, "UTC"), `[1714566645123456, -1]`, Datetime, []string{"2024-05-01T12:30:45.123456Z", "1969-12-31T23:59:59.999999Z"}},
		{"timestamp_ns", tsType(arrow.Nanosecond, ""), `[1714566645123456789, -1]`, Datetime, []string{"2024-05-01T12:30:45.123456Z", "1969-12-31T23:59:59.999999Z"}},
		{"time32_s", arrow.FixedWidthTypes.Time32s, `[45045]`, Utf8, []string{"12:30:45"}},
		{"time32_ms", arrow.FixedWidthTypes.Time32ms, `[45045500, 0]`, Utf8, []string{"12:30:45.500", "00:00:00"}},
		{"time64_us", arrow.FixedWidthTypes.Time64us, `[45045000001]`, Utf8, []string{"12:30:45.000001"}},
		{"time64_ns", arrow.FixedWidthTypes.Time64ns, `[86399999999999, 45045100000000]`, Utf8, []string{"23:59:59.999999999", "12:30:45.100"}},
		{"duration", arrow.FixedWidthTypes.Duration_ms, `[1500, -3]`, Int64, []string{"1500", "-3"}},
		{"decimal128", &arrow.Decimal128Type{Precision: 10, Scale: 2}, `["123.45", "-0.05", "0"]`, Float64, []string{"123.45", "-0.05", "0.00"}},
		{"decimal256", &arrow.Decimal256Type{Precision: 40, Scale: 0}, `["1234567890123456789012345678901234567890"]`, Float64, []string{"1234567890123456789012345678901234567890"}},
		{"decimal32", &arrow.Decimal32Type{Precision: 5, Scale: 3}, `["12.345"]`, Float64, []string{"12.345"}},
		{"decimal64", &arrow.Decimal64Type{Precision: 12, Scale: 1}, `["-7.5"]`, Float64, []string{"-7.5"}},
		{"null", arrow.Null, `[null, null]`, Utf8, []string{"<null>", "<null>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MapArrowType(tc.dt)
			if err != nil || got != tc.want {
				t.Fatalf("MapArrowType(%v) = %v, %v; want %v", tc.dt, got, err, tc.want)
			}
			a := fromJSON(t, mem, tc.dt, tc.js)
			defer a.Release()
			checkCells(t, a, tc.out)
		})
	}
}

func checkCells(t *testing.T, a arrow.Array, want []string) {
	t.Helper()
	if a.Len() != len(want) {
		t.Fatalf("array has %d values; test expects %d", a.Len(), len(want))
	}
	for i, w := range want {
		s, ok, err := FormatCell(a, i)
		if err != nil {
			t.Errorf("FormatCell(%v, %d): %v", a.DataType(), i, err)
			continue
		}
		if w == "<null>" {
			if ok {
				t.Errorf("FormatCell(%v, %d) = %q; want null", a.DataType(), i, s)
			}
			continue
		}
		if !ok || s != w {
			t.Errorf("FormatCell(%v, %d) = %q, %v; want %q", a.DataType(), i, s, ok, w)
		}
	}
}

func TestFormatCellSpecialArrays(t *testing.T) {
	mem := leakCheckedMem(t)

	// float16
	fb := array.NewFloat16Builder(mem)
	fb.Append(float16.New(0.5))
	fb.Append(float16.New(0.1))
	fb.AppendNull()
	f16 := fb.NewArray()
	fb.Release()
	defer f16.Release()
	checkCells(t, f16, []string{"0.5", "0.099975586", "<null>"})

	// dictionary<int8, utf8> → its values
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	if ty, err := MapArrowType(dt); err != nil || ty != Utf8 {
		t.Errorf("MapArrowType(dictionary) = %v, %v", ty, err)
	}
	db := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
	for _, s := range []string{"red", "green", "red"} {
		if err := db.AppendString(s); err != nil {
			t.Fatal(err)
		}
	}
	db.AppendNull()
	dict := db.NewArray()
	db.Release()
	defer dict.Release()
	checkCells(t, dict, []string{"red", "green", "red", "<null>"})

	// fixed size binary: UTF-8 bytes are written, others are an error
	fsb := array.NewFixedSizeBinaryBuilder(mem, &arrow.FixedSizeBinaryType{ByteWidth: 2})
	fsb.Append([]byte("ab"))
	fsb.Append([]byte{0xff, 0xfe})
	fsa := fsb.NewArray()
	fsb.Release()
	defer fsa.Release()
	if s, ok, err := FormatCell(fsa, 0); err != nil || !ok || s != "ab" {
		t.Errorf("FormatCell(fixed_size_binary, 0) = %q, %v, %v", s, ok, err)
	}
	if _, _, err := FormatCell(fsa, 1); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("FormatCell(invalid UTF-8) error = %v; want ErrInvalidUTF8", err)
	}

	// extension types: uuid → canonical text, bool8 → bool
	ub := extensions.NewUUIDBuilder(mem)
	if err := ub.AppendValueFromString("6ba7b810-9dad-11d1-80b4-00c04fd430c8"); err != nil {
		t.Fatal(err)
	}
	ub.AppendNull()
	ua := ub.NewArray()
	ub.Release()
	defer ua.Release()
	if ty, err := MapArrowType(ua.DataType()); err != nil || ty != Utf8 {
		t.Errorf("MapArrowType(uuid) = %v, %v", ty, err)
	}
	checkCells(t, ua, []string{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", "<null>"})

	bb := extensions.NewBool8Builder(mem)
	bb.Append(true)
	bb.Append(false)
	ba := bb.NewArray()
	bb.Release()
	defer ba.Release()
	if ty, err := MapArrowType(ba.DataType()); err != nil || ty != Bool {
		t.Errorf("MapArrowType(bool8) = %v, %v", ty, err)
	}
	checkCells(t, ba, []string{"true", "false"})

	// sliced arrays honour their offset
	ints := fromJSON(t, mem, arrow.PrimitiveTypes.Int64, `[1, 2, null, 4]`)
	defer ints.Release()
	sl := array.NewSlice(ints, 1, 4)
	defer sl.Release()
	checkCells(t, sl, []string{"2", "<null>", "4"})
}

func TestFormatCellErrors(t *testing.T) {
	mem := leakCheckedMem(t)
	u := fromJSON(t, mem, arrow.PrimitiveTypes.Uint64, `[18446744073709551615]`)
	defer u.Release()
	if _, _, err := FormatCell(u, 0); !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), "18446744073709551615") {
		t.Errorf("uint64 overflow error = %v", err)
	}
	if _, _, err := FormatCell(u, 1); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("row beyond the array: %v", err)
	}
	ts := fromJSON(t, mem, &arrow.TimestampType{Unit: arrow.Second}, `[9223372036854775807]`)
	defer ts.Release()
	if _, _, err := FormatCell(ts, 0); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("timestamp[s] overflow error = %v", err)
	}
	tm := fromJSON(t, mem, arrow.FixedWidthTypes.Time32s, `[86400]`)
	defer tm.Release()
	if _, _, err := FormatCell(tm, 0); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("time of day beyond 24h error = %v", err)
	}
	bin := fromJSON(t, mem, arrow.BinaryTypes.Binary, `["/w=="]`) // 0xff
	defer bin.Release()
	if _, _, err := FormatCell(bin, 0); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("invalid UTF-8 error = %v", err)
	}
	lst := fromJSON(t, mem, arrow.ListOf(arrow.PrimitiveTypes.Int64), `[[1,2]]`)
	defer lst.Release()
	if _, _, err := FormatCell(lst, 0); !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("list cell error = %v", err)
	}
	for _, dt := range []arrow.DataType{
		arrow.ListOf(arrow.PrimitiveTypes.Int64),
		arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64}),
		arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64),
		arrow.FixedWidthTypes.MonthInterval,
		&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.ListOf(arrow.PrimitiveTypes.Int8)},
	} {
		if _, err := MapArrowType(dt); !errors.Is(err, ErrUnsupportedType) {
			t.Errorf("MapArrowType(%v) = %v; want ErrUnsupportedType", dt, err)
		}
	}
}

func TestRowEncoder(t *testing.T) {
	mem := leakCheckedMem(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Uint64},
		{Name: "name", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "ttl", Type: arrow.PrimitiveTypes.Int64},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "America/New_York"}, Nullable: true},
	}, nil)
	cols := []arrow.Array{
		fromJSON(t, mem, arrow.PrimitiveTypes.Uint64, `[1, 18446744073709551615]`),
		fromJSON(t, mem, arrow.BinaryTypes.LargeString, `["Ann", null]`),
		fromJSON(t, mem, arrow.PrimitiveTypes.Float32, `[null, 2.5]`),
		fromJSON(t, mem, arrow.PrimitiveTypes.Int64, `[60, 120]`),
		fromJSON(t, mem, &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "America/New_York"}, `[1714566645000000000, null]`),
	}
	rec := array.NewRecordBatch(schema, cols, 2)
	for _, c := range cols {
		c.Release()
	}
	defer rec.Release()

	e, err := NewRowEncoder(schema, EncoderOptions{Exclude: []string{"ttl"}})
	if err != nil {
		t.Fatal(err)
	}
	wantSchema := mustSpec(t, "id:int64,name:utf8,score:float64,at:datetime")
	if !reflect.DeepEqual(e.Schema(), wantSchema) {
		t.Errorf("Schema() = %v; want %v", e.Schema(), wantSchema)
	}
	dst, err := e.AppendRow([]string{"keep"}, rec, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"keep", "id", "1", "name", "Ann", "at", "2024-05-01T12:30:45Z"}; !reflect.DeepEqual(dst, want) {
		t.Errorf("AppendRow(0) = %q; want %q", dst, want)
	}
	_, err = e.AppendRow(nil, rec, 1)
	if !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), `column "id" row 1`) {
		t.Errorf("AppendRow(1) error = %v; want out of range naming column and row", err)
	}
	if _, err := e.AppendRow(nil, rec, 2); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("AppendRow beyond the batch: %v", err)
	}

	// a record with a different shape is rejected
	other := array.NewRecordBatch(arrow.NewSchema(schema.Fields()[:1], nil), []arrow.Array{rec.Column(0)}, 2)
	defer other.Release()
	if _, err := e.AppendRow(nil, other, 0); !errors.Is(err, ErrSchemaMismatch) {
		t.Errorf("mismatched record: %v", err)
	}
}

func TestNewRowEncoderErrors(t *testing.T) {
	s := arrow.NewSchema([]arrow.Field{
		{Name: "ok", Type: arrow.PrimitiveTypes.Int64},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	}, nil)
	_, err := NewRowEncoder(s, EncoderOptions{})
	if !errors.Is(err, ErrUnsupportedType) || !strings.Contains(err.Error(), `"tags"`) || !strings.Contains(err.Error(), "flatten") {
		t.Errorf("unsupported column error = %v", err)
	}
	if e, err := NewRowEncoder(s, EncoderOptions{Exclude: []string{"tags"}}); err != nil || e.Schema().Spec() != "ok:int64" {
		t.Errorf("excluding the list column should work: %v", err)
	}
	if _, err := NewRowEncoder(s, EncoderOptions{Exclude: []string{"nope"}}); !errors.Is(err, ErrUnknownField) {
		t.Errorf("unknown excluded column: %v", err)
	}
	dup := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "a", Type: arrow.BinaryTypes.String}}, nil)
	if _, err := NewRowEncoder(dup, EncoderOptions{}); !errors.Is(err, ErrInvalidSchema) || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("duplicate column error = %v", err)
	}
	empty := arrow.NewSchema([]arrow.Field{{Name: "", Type: arrow.PrimitiveTypes.Int64}}, nil)
	if _, err := NewRowEncoder(empty, EncoderOptions{}); !errors.Is(err, ErrInvalidSchema) {
		t.Errorf("empty column name error = %v", err)
	}
}

func TestDecimalText(t *testing.T) {
	tests := []struct {
		unscaled int64
		scale    int32
		want     string
	}{
		{12345, 2, "123.45"}, {-5, 2, "-0.05"}, {5, 3, "0.005"}, {0, 2, "0.00"}, {7, 0, "7"},
		{7, -3, "7000"}, {0, -3, "0"}, {-100, 1, "-10.0"}, {math.MaxInt64, 0, "9223372036854775807"},
	}
	for _, tc := range tests {
		if got := decimalText(bigInt(tc.unscaled), tc.scale); got != tc.want {
			t.Errorf("decimalText(%d, %d) = %q; want %q", tc.unscaled, tc.scale, got, tc.want)
		}
		if _, ok := ParseFloat64(decimalText(bigInt(tc.unscaled), tc.scale)); !ok {
			t.Errorf("decimal text for %d scale %d does not parse as float64", tc.unscaled, tc.scale)
		}
	}
}

func bigInt(v int64) *big.Int { return big.NewInt(v) }
