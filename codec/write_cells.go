package codec

import (
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// cellText appends the codec text form of one column's cells to a buffer:
// the six codec types directly, every other supported Arrow type through
// FormatCell (the same rules as writing to Redis).
type cellText struct {
	typ Type // codec type the column maps to
}

func newCellText(f arrow.Field) (cellText, error) {
	t, err := MapArrowType(f.Type)
	if err != nil {
		return cellText{}, fmt.Errorf("column %q: %w", f.Name, err)
	}
	return cellText{typ: t}, nil
}

// appendCell appends the text of col[row] to dst; null reports a null cell
// (nothing appended).
func (c cellText) appendCell(dst []byte, col arrow.Array, row int) (_ []byte, null bool, err error) {
	if col.IsNull(row) {
		return dst, true, nil
	}
	switch a := col.(type) {
	case *array.String:
		return append(dst, a.Value(row)...), false, nil
	case *array.Int64:
		return strconv.AppendInt(dst, a.Value(row), 10), false, nil
	case *array.Float64:
		return AppendFloat64(dst, a.Value(row)), false, nil
	case *array.Boolean:
		return append(dst, FormatBool(a.Value(row))...), false, nil
	case *array.Date32:
		return AppendDate(dst, int32(a.Value(row))), false, nil
	case *array.Timestamp:
		if tt := a.DataType().(*arrow.TimestampType); tt.Unit == arrow.Microsecond {
			return AppendDatetime(dst, int64(a.Value(row))), false, nil
		}
	}
	s, ok, err := formatCellFallback(col, row)
	if err != nil {
		return dst, false, err
	}
	if !ok {
		return dst, true, nil
	}
	return append(dst, s...), false, nil
}

// formatCellFallback formats cells of Arrow types other than the six with
// the write-side rules of FormatCell.
var formatCellFallback = FormatCell
