package codec

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Type is one of the six codec types a Redis hash field can have.
type Type uint8

// The codec types. The zero Type is invalid.
const (
	Utf8     Type = iota + 1 // Arrow utf8 (string)
	Int64                    // Arrow int64
	Float64                  // Arrow float64
	Bool                     // Arrow boolean
	Date                     // Arrow date32 (days since 1970-01-01)
	Datetime                 // Arrow timestamp[us, tz=UTC]
)

// Types lists the six types in declaration order.
var Types = []Type{Utf8, Int64, Float64, Bool, Date, Datetime}

var typeNames = [...]string{Utf8: "utf8", Int64: "int64", Float64: "float64", Bool: "bool", Date: "date", Datetime: "datetime"}

// typeAliases maps accepted alternative names (lower case) to types.
var typeAliases = map[string]Type{
	"utf8": Utf8, "string": Utf8, "str": Utf8, "text": Utf8,
	"int64": Int64, "int": Int64, "integer": Int64, "long": Int64, "i64": Int64,
	"float64": Float64, "float": Float64, "double": Float64, "f64": Float64,
	"bool": Bool, "boolean": Bool,
	"date": Date, "date32": Date,
	"datetime": Datetime, "timestamp": Datetime,
}

// DatetimeType is the Arrow type of Datetime columns: timestamp[us, tz=UTC].
var DatetimeType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// ParseType parses a type name. Accepted (case-insensitive, surrounding
// spaces ignored): utf8 (string, str, text), int64 (int, integer, long,
// i64), float64 (float, double, f64), bool (boolean), date (date32),
// datetime (timestamp).
func ParseType(s string) (Type, error) {
	if t, ok := typeAliases[strings.ToLower(strings.TrimSpace(s))]; ok {
		return t, nil
	}
	return 0, fmt.Errorf("%w %q (want one of utf8, int64, float64, bool, date, datetime)", ErrUnknownType, clip(s, 40))
}

// Valid reports whether t is one of the six types.
func (t Type) Valid() bool { return t >= Utf8 && t <= Datetime }

// String returns the canonical name ("utf8", "int64", ...).
func (t Type) String() string {
	if t.Valid() {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// ArrowType returns the Arrow data type of columns of type t: String,
// Int64, Float64, Boolean, Date32 or Timestamp(µs, "UTC"). It returns nil
// for an invalid Type.
func (t Type) ArrowType() arrow.DataType {
	switch t {
	case Utf8:
		return arrow.BinaryTypes.String
	case Int64:
		return arrow.PrimitiveTypes.Int64
	case Float64:
		return arrow.PrimitiveTypes.Float64
	case Bool:
		return arrow.FixedWidthTypes.Boolean
	case Date:
		return arrow.FixedWidthTypes.Date32
	case Datetime:
		return DatetimeType
	}
	return nil
}

// MarshalText encodes t as its canonical name (also used by encoding/json).
func (t Type) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("%w: Type(%d)", ErrUnknownType, uint8(t))
	}
	return []byte(typeNames[t]), nil
}

// UnmarshalText accepts every name ParseType accepts.
func (t *Type) UnmarshalText(b []byte) error {
	v, err := ParseType(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}
