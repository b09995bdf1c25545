package codec

import (
	"bufio"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// ndjsonWriter writes one JSON object per row, keys in column order. int64,
// float64 and bool values are JSON literals (non-finite floats are the
// strings "nan", "inf", "-inf", as JSON has no literal for them), every other
// value is a JSON string in the codec text form, and a null is null.
type ndjsonWriter struct {
	w     *bufio.Writer
	keys  [][]byte // `"name":` per column, with the separating comma
	cells []cellText
	buf   []byte
	val   []byte
}

func newNDJSONWriter(w *bufio.Writer, s *arrow.Schema, _ WriteOptions) (*ndjsonWriter, error) {
	n := &ndjsonWriter{w: w}
	for i, f := range s.Fields() {
		ct, err := newCellText(f)
		if err != nil {
			return nil, err
		}
		n.cells = append(n.cells, ct)
		var k []byte
		if i > 0 {
			k = append(k, ',')
		}
		k = appendJSONString(k, []byte(f.Name))
		n.keys = append(n.keys, append(k, ':'))
	}
	return n, nil
}

func (n *ndjsonWriter) write(rec arrow.RecordBatch) error {
	cols := rec.Columns()
	for row := 0; row < int(rec.NumRows()); row++ {
		line := append(n.buf[:0], '{')
		for i, col := range cols {
			line = append(line, n.keys[i]...)
			var (
				null bool
				err  error
			)
			n.val, null, err = n.cells[i].appendCell(n.val[:0], col, row)
			switch {
			case err != nil:
				return cellErr(rec, i, row, err)
			case null:
				line = append(line, "null"...)
			case n.cells[i].typ == Int64 || n.cells[i].typ == Bool:
				line = append(line, n.val...)
			case n.cells[i].typ == Float64:
				if f, ok := col.(*array.Float64); ok && (math.IsNaN(f.Value(row)) || math.IsInf(f.Value(row), 0)) {
					line = appendJSONString(line, n.val)
				} else if isJSONNumber(n.val) {
					line = append(line, n.val...)
				} else {
					line = appendJSONString(line, n.val)
				}
			default:
				line = appendJSONString(line, n.val)
			}
		}
		line = append(line, '}', '\n')
		n.buf = line
		if _, err := n.w.Write(line); err != nil {
			return err
		}
	}
	return nil
}

func (n *ndjsonWriter) close() error { return nil }

// isJSONNumber reports whether the codec float text is a JSON number (not
// nan/inf, which JSON lacks).
func isJSONNumber(b []byte) bool {
	return len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')) && b[len(b)-1] >= '0' && b[len(b)-1] <= '9'
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// cellErr names the column and row of a value that could not be written.
func cellErr(rec arrow.RecordBatch, col, row int, err error) error {
	return fmt.Errorf("column %q row %d of the batch: %w", rec.ColumnName(col), row, err)
}
