package codec

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
)

// EncoderOptions configures a RowEncoder.
type EncoderOptions struct {
	// Exclude names columns that are not written as hash fields (for
	// example a TTL column). Every name must be a column of the schema.
	Exclude []string
}

// RowEncoder turns Arrow rows into Redis hash field/value pairs (the write
// side). Column types are mapped to codec types as documented in the
// package doc; values are formatted with the Format* functions, so that
// scanning with RowEncoder.Schema() returns the written values.
type RowEncoder struct {
	arrow  *arrow.Schema
	schema *Schema
	cols   []int // Arrow column index of each written field
}

// NewRowEncoder prepares the encoding of record batches of schema s. It
// fails, naming the column, if a column type has no mapping, if a written
// column has an empty or repeated name, or if an excluded name is not a
// column.
func NewRowEncoder(s *arrow.Schema, opts EncoderOptions) (*RowEncoder, error) {
	excl := make(map[string]bool, len(opts.Exclude))
	for _, n := range opts.Exclude {
		if !s.HasField(n) {
			return nil, fmt.Errorf("excluding column %q: %w: the input has no such column", n, ErrUnknownField)
		}
		excl[n] = true
	}
	e := &RowEncoder{arrow: s, schema: &Schema{}}
	seen := map[string]int{}
	for i, f := range s.Fields() {
		if excl[f.Name] {
			continue
		}
		t, err := MapArrowType(f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %d %q: %w", i+1, f.Name, err)
		}
		if err := checkName(f.Name); err != nil {
			return nil, fmt.Errorf("column %d: %w: %v; rename the column to write it as a hash field", i+1, ErrInvalidSchema, err)
		}
		if j, dup := seen[f.Name]; dup {
			return nil, fmt.Errorf("%w: columns %d and %d are both named %q; rename one (hash field names are unique)", ErrInvalidSchema, j+1, i+1, f.Name)
		}
		seen[f.Name] = i
		e.schema.Fields = append(e.schema.Fields, Field{Name: f.Name, Type: t})
		e.cols = append(e.cols, i)
	}
	return e, nil
}

// Schema returns the codec schema of the written fields, in column order.
// It has no fields if every column is excluded.
func (e *RowEncoder) Schema() *Schema { return e.schema }

// AppendRow appends field, value, field, value, ... for row of rec to dst
// (null cells are omitted) and returns the extended slice. rec must have
// the schema the encoder was made for. String values may share memory with
// rec's buffers: use them before releasing rec. The formatted values of one
// row share one allocation. AppendRow is safe for concurrent use.
func (e *RowEncoder) AppendRow(dst []string, rec arrow.RecordBatch, row int) ([]string, error) {
	if int(rec.NumCols()) != e.arrow.NumFields() {
		return dst, fmt.Errorf("encoding row %d: %w: record has %d columns, encoder expects %d", row, ErrSchemaMismatch, rec.NumCols(), e.arrow.NumFields())
	}
	if row < 0 || int64(row) >= rec.NumRows() {
		return dst, fmt.Errorf("encoding row %d: %w: record has %d rows", row, ErrOutOfRange, rec.NumRows())
	}
	var stack [512]byte
	buf := stack[:0]
	base := len(dst)
	var ends [32]int32
	spans := ends[:0] // end offset in buf of each formatted value, -1 for a direct string
	for j, ci := range e.cols {
		var direct string
		var isDirect, ok bool
		var err error
		buf, direct, isDirect, ok, err = appendCell(buf, rec.Column(ci), row)
		if err != nil {
			return dst[:base], fmt.Errorf("column %q row %d: %w", e.schema.Fields[j].Name, row, err)
		}
		if !ok {
			continue
		}
		dst = append(dst, e.schema.Fields[j].Name, direct)
		if isDirect {
			spans = append(spans, -1)
		} else {
			spans = append(spans, int32(len(buf)))
		}
	}
	if len(buf) > 0 {
		all := string(buf)
		prev := int32(0)
		for k, end := range spans {
			if end >= 0 {
				dst[base+2*k+1] = all[prev:end]
				prev = end
			}
		}
	}
	return dst, nil
}

// MapArrowType returns the codec type an Arrow column type is written as
// (see the type mapping table in the package doc), or an error wrapping
// ErrUnsupportedType.
func MapArrowType(dt arrow.DataType) (Type, error) {
	switch dt.ID() {
	case arrow.NULL, arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW,
		arrow.BINARY, arrow.LARGE_BINARY, arrow.BINARY_VIEW, arrow.FIXED_SIZE_BINARY,
		arrow.TIME32, arrow.TIME64:
		return Utf8, nil
	case arrow.BOOL:
		return Bool, nil
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64, arrow.DURATION:
		return Int64, nil
	case arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64,
		arrow.DECIMAL32, arrow.DECIMAL64, arrow.DECIMAL128, arrow.DECIMAL256:
		return Float64, nil
	case arrow.DATE32, arrow.DATE64:
		return Date, nil
	case arrow.TIMESTAMP:
		return Datetime, nil
	case arrow.DICTIONARY:
		return MapArrowType(dt.(*arrow.DictionaryType).ValueType)
	case arrow.EXTENSION:
		switch et := dt.(arrow.ExtensionType); et.ExtensionName() {
		case "arrow.uuid":
			return Utf8, nil
		case "arrow.bool8":
			return Bool, nil
		default:
			return MapArrowType(et.StorageType())
		}
	case arrow.LIST, arrow.LARGE_LIST, arrow.LIST_VIEW, arrow.LARGE_LIST_VIEW, arrow.FIXED_SIZE_LIST,
		arrow.STRUCT, arrow.MAP, arrow.SPARSE_UNION, arrow.DENSE_UNION:
		return 0, fmt.Errorf("%w %s: a hash field holds one scalar; flatten the column or convert it to a string (e.g. JSON) before loading, or exclude it", ErrUnsupportedType, dt)
	}
	return 0, fmt.Errorf("%w %s: cast it to a string, integer or float column before loading, or exclude it", ErrUnsupportedType, dt)
}

// FormatCell formats one cell by the write-side rules; ok is false for a
// null cell (which is not written). The string may share memory with col.
func FormatCell(col arrow.Array, row int) (string, bool, error) {
	var stack [48]byte
	buf, direct, isDirect, ok, err := appendCell(stack[:0], col, row)
	if err != nil || !ok {
		return "", false, err
	}
	if isDirect {
		return direct, true, nil
	}
	return string(buf), true, nil
}

// appendCell formats one cell: string-like values are returned as direct
// (isDirect, no copy), all others are appended to buf.
func appendCell(buf []byte, col arrow.Array, row int) (_ []byte, direct string, isDirect, ok bool, err error) {
	if row < 0 || row >= col.Len() {
		return buf, "", false, false, fmt.Errorf("%w: row %d of a column of %d", ErrOutOfRange, row, col.Len())
	}
	if col.IsNull(row) {
		return buf, "", false, false, nil
	}
	switch a := col.(type) {
	case *array.String:
		return buf, a.Value(row), true, true, nil
	case *array.LargeString:
		return buf, a.Value(row), true, true, nil
	case *array.StringView:
		return buf, a.Value(row), true, true, nil
	case *array.Binary:
		return utf8Cell(buf, a.ValueString(row))
	case *array.LargeBinary:
		return utf8Cell(buf, a.ValueString(row))
	case *array.BinaryView:
		return utf8Cell(buf, a.ValueString(row))
	case *array.FixedSizeBinary:
		return utf8Cell(buf, string(a.Value(row)))
	case *array.Boolean:
		return buf, FormatBool(a.Value(row)), true, true, nil
	case *array.Int8:
		return strconv.AppendInt(buf, int64(a.Value(row)), 10), "", false, true, nil
	case *array.Int16:
		return strconv.AppendInt(buf, int64(a.Value(row)), 10), "", false, true, nil
	case *array.Int32:
		return strconv.AppendInt(buf, int64(a.Value(row)), 10), "", false, true, nil
	case *array.Int64:
		return strconv.AppendInt(buf, a.Value(row), 10), "", false, true, nil
	case *array.Uint8:
		return strconv.AppendUint(buf, uint64(a.Value(row)), 10), "", false, true, nil
	case *array.Uint16:
		return strconv.AppendUint(buf, uint64(a.Value(row)), 10), "", false, true, nil
	case *array.Uint32:
		return strconv.AppendUint(buf, uint64(a.Value(row)), 10), "", false, true, nil
	case *array.Uint64:
		v := a.Value(row)
		if v > math.MaxInt64 {
			return buf, "", false, false, fmt.Errorf("%w: uint64 %d is above the int64 maximum; cast the column to a float or string to keep it", ErrOutOfRange, v)
		}
		return strconv.AppendUint(buf, v, 10), "", false, true, nil
	case *array.Float16:
		return appendFloat(buf, float64(a.Value(row).Float32()), 32), "", false, true, nil
	case *array.Float32:
		return appendFloat(buf, float64(a.Value(row)), 32), "", false, true, nil
	case *array.Float64:
		return AppendFloat64(buf, a.Value(row)), "", false, true, nil
	case *array.Date32:
		return AppendDate(buf, int32(a.Value(row))), "", false, true, nil
	case *array.Date64:
		days := floorDiv(int64(a.Value(row)), 86_400_000)
		if days < math.MinInt32 || days > math.MaxInt32 {
			return buf, "", false, false, fmt.Errorf("%w: date64 %d ms is outside the date32 range", ErrOutOfRange, a.Value(row))
		}
		return AppendDate(buf, int32(days)), "", false, true, nil
	case *array.Timestamp:
		us, err := toMicros(int64(a.Value(row)), a.DataType().(*arrow.TimestampType).Unit)
		if err != nil {
			return buf, "", false, false, err
		}
		return AppendDatetime(buf, us), "", false, true, nil
	case *array.Time32:
		return appendTime(buf, int64(a.Value(row)), a.DataType().(*arrow.Time32Type).Unit)
	case *array.Time64:
		return appendTime(buf, int64(a.Value(row)), a.DataType().(*arrow.Time64Type).Unit)
	case *array.Duration:
		return strconv.AppendInt(buf, int64(a.Value(row)), 10), "", false, true, nil
	case *array.Decimal32:
		return append(buf, decimalText(big.NewInt(int64(a.Value(row))), a.DataType().(arrow.DecimalType).GetScale())...), "", false, true, nil
	case *array.Decimal64:
		return append(buf, decimalText(big.NewInt(int64(a.Value(row))), a.DataType().(arrow.DecimalType).GetScale())...), "", false, true, nil
	case *array.Decimal128:
		return append(buf, decimalText(a.Value(row).BigInt(), a.DataType().(arrow.DecimalType).GetScale())...), "", false, true, nil
	case *array.Decimal256:
		return append(buf, decimalText(a.Value(row).BigInt(), a.DataType().(arrow.DecimalType).GetScale())...), "", false, true, nil
	case *array.Dictionary:
		return appendCell(buf, a.Dictionary(), a.GetValueIndex(row))
	case *array.Null:
		return buf, "", false, false, nil
	case *extensions.UUIDArray:
		return append(buf, a.Value(row).String()...), "", false, true, nil
	case *extensions.Bool8Array:
		return buf, FormatBool(a.Value(row)), true, true, nil
	case array.ExtensionArray:
		return appendCell(buf, a.Storage(), row)
	}
	_, err = MapArrowType(col.DataType())
	if err == nil {
		err = fmt.Errorf("%w %s", ErrUnsupportedType, col.DataType())
	}
	return buf, "", false, false, err
}

var errInvalidUTF8Cell = fmt.Errorf("%w: binary value is not valid UTF-8; encode the column (e.g. hex or base64) before loading, or exclude it", ErrInvalidUTF8)

func utf8Cell(buf []byte, s string) ([]byte, string, bool, bool, error) {
	if !utf8.ValidString(s) {
		return buf, "", false, false, errInvalidUTF8Cell
	}
	return buf, s, true, true, nil
}

// appendFloat is AppendFloat64 at the precision of the source type, so a
// float32 0.1 is written "0.1", not "0.10000000149011612".
func appendFloat(dst []byte, v float64, bitSize int) []byte {
	if bitSize == 64 || math.IsNaN(v) || math.IsInf(v, 0) {
		return AppendFloat64(dst, v)
	}
	format := byte('f')
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(dst, v, format, -1, bitSize)
}

// toMicros converts a timestamp in unit to microseconds; nanoseconds are
// truncated toward the past.
func toMicros(v int64, unit arrow.TimeUnit) (int64, error) {
	var mul int64
	switch unit {
	case arrow.Second:
		mul = 1_000_000
	case arrow.Millisecond:
		mul = 1000
	case arrow.Microsecond:
		return v, nil
	case arrow.Nanosecond:
		return floorDiv(v, 1000), nil
	default:
		return 0, fmt.Errorf("%w: timestamp unit %v", ErrUnsupportedType, unit)
	}
	if v > math.MaxInt64/mul || v < math.MinInt64/mul {
		return 0, fmt.Errorf("%w: timestamp %d (unit %v) is outside the microsecond range of int64 (years -290308 to 294247)", ErrOutOfRange, v, unit)
	}
	return v * mul, nil
}

// appendTime formats a time of day as HH:MM:SS with a fraction of 3, 6
// or 9 digits when needed.
func appendTime(b []byte, v int64, unit arrow.TimeUnit) ([]byte, string, bool, bool, error) {
	perSec := int64(1)
	digits := 0
	switch unit {
	case arrow.Millisecond:
		perSec, digits = 1000, 3
	case arrow.Microsecond:
		perSec, digits = 1_000_000, 6
	case arrow.Nanosecond:
		perSec, digits = 1_000_000_000, 9
	}
	if v < 0 || v >= 86400*perSec {
		return b, "", false, false, fmt.Errorf("%w: time of day %d (unit %v) is not within one day", ErrOutOfRange, v, unit)
	}
	sec, frac := v/perSec, v%perSec
	b = append(b, byte('0'+sec/36000), byte('0'+sec/3600%10), ':', byte('0'+sec/600%6), byte('0'+sec/60%10), ':', byte('0'+sec%60/10), byte('0'+sec%10))
	if frac != 0 {
		// drop trailing groups of three zeros
		for digits > 3 && frac%1000 == 0 {
			frac /= 1000
			digits -= 3
		}
		b = append(b, '.')
		for scale := pow10(digits - 1); scale > 0; scale /= 10 {
			b = append(b, byte('0'+frac/scale%10))
		}
	}
	return b, "", false, true, nil
}

func pow10(n int) int64 {
	p := int64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

// decimalText writes the exact decimal value unscaled × 10^-scale.
func decimalText(unscaled *big.Int, scale int32) string {
	s := unscaled.String()
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	switch {
	case scale < 0:
		if s != "0" {
			s += strings.Repeat("0", int(-scale))
		}
	case scale > 0:
		if len(s) <= int(scale) {
			s = strings.Repeat("0", int(scale)-len(s)+1) + s
		}
		at := len(s) - int(scale)
		s = s[:at] + "." + s[at:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
