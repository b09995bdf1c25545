package codec

import (
	"bufio"
	"bytes"

	"github.com/apache/arrow-go/v18/arrow"
)

// csvWriter writes a header line and one line per row. Values use the codec
// text form; a null is an empty unquoted field, an empty string is "", and
// fields holding the delimiter, a quote or a line break are quoted (quotes
// doubled). In a one-column file a null is an empty line, which the reader
// reads back as null.
type csvWriter struct {
	w     *bufio.Writer
	delim byte
	cells []cellText
	buf   []byte
}

func newCSVWriter(w *bufio.Writer, s *arrow.Schema, opts WriteOptions) (*csvWriter, error) {
	c := &csvWriter{w: w, delim: byte(opts.Delimiter)}
	for _, f := range s.Fields() {
		ct, err := newCellText(f)
		if err != nil {
			return nil, err
		}
		c.cells = append(c.cells, ct)
	}
	line := c.buf[:0]
	for i, f := range s.Fields() {
		if i > 0 {
			line = append(line, c.delim)
		}
		line = c.appendField(line, []byte(f.Name))
	}
	line = append(line, '\n')
	c.buf = line
	_, err := w.Write(line)
	return c, err
}

// appendField appends v, quoted if needed.
func (c *csvWriter) appendField(dst, v []byte) []byte {
	if !c.needsQuote(v) {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for {
		i := bytes.IndexByte(v, '"')
		if i < 0 {
			break
		}
		dst = append(dst, v[:i+1]...)
		dst = append(dst, '"')
		v = v[i+1:]
	}
	dst = append(dst, v...)
	return append(dst, '"')
}

func (c *csvWriter) needsQuote(v []byte) bool {
	if len(v) == 0 {
		return true
	}
	for _, b := range v {
		if b == c.delim || b == '"' || b == '\n' || b == '\r' {
			return true
		}
	}
	return false
}

func (c *csvWriter) write(rec arrow.RecordBatch) error {
	cols := rec.Columns()
	var val []byte
	for row := 0; row < int(rec.NumRows()); row++ {
		line := c.buf[:0]
		for i, col := range cols {
			if i > 0 {
				line = append(line, c.delim)
			}
			var (
				null bool
				err  error
			)
			val, null, err = c.cells[i].appendCell(val[:0], col, row)
			if err != nil {
				return cellErr(rec, i, row, err)
			}
			if !null {
				line = c.appendField(line, val)
			}
		}
		line = append(line, '\n')
		c.buf = line
		if _, err := c.w.Write(line); err != nil {
			return err
		}
	}
	return nil
}

func (c *csvWriter) close() error { return nil }
