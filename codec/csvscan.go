package codec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxCSVRecordBytes bounds one CSV record, so that a stray quote cannot make
// the reader buffer the rest of a large file.
const maxCSVRecordBytes = 64 << 20

// csvRecord is one parsed CSV record: the field bytes concatenated in buf,
// field i is buf[ends[i-1]:ends[i]], quoted[i] tells whether it was quoted.
type csvRecord struct {
	line   int // physical line (1-based) where the record starts
	buf    []byte
	ends   []int
	quoted []bool
}

func (r *csvRecord) numFields() int { return len(r.ends) }

func (r *csvRecord) field(i int) []byte {
	start := 0
	if i > 0 {
		start = r.ends[i-1]
	}
	return r.buf[start:r.ends[i]]
}

func (r *csvRecord) clone() csvRecord {
	return csvRecord{
		line:   r.line,
		buf:    append([]byte(nil), r.buf...),
		ends:   append([]int(nil), r.ends...),
		quoted: append([]bool(nil), r.quoted...),
	}
}

// csvScanner splits RFC 4180 CSV into records, tracking physical line
// numbers. Quoted fields may contain delimiters, doubled quotes and line
// breaks (kept verbatim). A quote inside an unquoted field is literal text.
// Text after a closing quote other than a delimiter or line end is an error.
// Blank lines are skipped unless keepBlank (a one-column file, where a blank
// line is a null value).
type csvScanner struct {
	r         *bufio.Reader
	delim     byte
	keepBlank bool
	line      int // physical lines consumed
	lineBuf   []byte
	rec       csvRecord
}

// csvSyntaxError is a malformed-CSV problem at a line.
type csvSyntaxError struct {
	line int
	msg  string
}

func (e *csvSyntaxError) Error() string { return e.msg }

func newCSVScanner(r *bufio.Reader, delim byte) *csvScanner {
	// Skip a UTF-8 byte-order mark.
	if b, err := r.Peek(3); err == nil && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		r.Discard(3)
	}
	return &csvScanner{r: r, delim: delim}
}

// readLine returns the next physical line including its '\n' (absent on the
// last line of a file without a final newline), or io.EOF. The slice is valid
// until the next call.
func (s *csvScanner) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		s.lineBuf = append(s.lineBuf[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(s.lineBuf) > maxCSVRecordBytes {
				return nil, &csvSyntaxError{line: s.line + 1, msg: fmt.Sprintf("line is longer than %d MiB", maxCSVRecordBytes>>20)}
			}
			line, err = s.r.ReadSlice('\n')
			s.lineBuf = append(s.lineBuf, line...)
		}
		line = s.lineBuf
	}
	if errors.Is(err, io.EOF) && len(line) > 0 {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	s.line++
	return line, nil
}

func isBlankLine(line []byte) bool {
	switch len(line) {
	case 0:
		return true
	case 1:
		return line[0] == '\n' || line[0] == '\r'
	case 2:
		return line[0] == '\r' && line[1] == '\n'
	}
	return false
}

// trimEOL removes a trailing "\n" or "\r\n" (or a lone final "\r").
func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// next parses the next record into s.rec; io.EOF at the end of input.
func (s *csvScanner) next() error {
	for {
		line, err := s.readLine()
		if err != nil {
			return err
		}
		if isBlankLine(line) && !s.keepBlank {
			continue
		}
		return s.parse(line)
	}
}

func (s *csvScanner) parse(line []byte) error {
	rec := &s.rec
	rec.line = s.line
	rec.buf, rec.ends, rec.quoted = rec.buf[:0], rec.ends[:0], rec.quoted[:0]
	pos := 0
	for {
		if pos < len(line) && line[pos] == '"' {
			var err error
			if line, pos, err = s.quotedField(line, pos+1); err != nil {
				return err
			}
			rec.ends = append(rec.ends, len(rec.buf))
			rec.quoted = append(rec.quoted, true)
			switch rest := line[pos:]; {
			case len(rest) > 0 && rest[0] == s.delim:
				pos++
				continue
			case len(trimEOL(rest)) == 0:
				return nil
			default:
				return &csvSyntaxError{line: s.line, msg: fmt.Sprintf("unexpected %q after the closing quote of field %d (a quote inside a quoted field must be doubled: \"\")", clip(string(trimEOL(rest)), 20), len(rec.ends))}
			}
		}
		rest := line[pos:]
		if i := bytes.IndexByte(rest, s.delim); i >= 0 {
			rec.buf = append(rec.buf, rest[:i]...)
			rec.ends = append(rec.ends, len(rec.buf))
			rec.quoted = append(rec.quoted, false)
			pos += i + 1
			continue
		}
		rec.buf = append(rec.buf, trimEOL(rest)...)
		rec.ends = append(rec.ends, len(rec.buf))
		rec.quoted = append(rec.quoted, false)
		return nil
	}
}

// quotedField appends the content of a quoted field starting at line[pos]
// (just after the opening quote) to s.rec.buf, reading more lines while the
// field spans line breaks. It returns the line and position just after the
// closing quote.
func (s *csvScanner) quotedField(line []byte, pos int) ([]byte, int, error) {
	rec := &s.rec
	for {
		i := bytes.IndexByte(line[pos:], '"')
		if i < 0 {
			rec.buf = append(rec.buf, line[pos:]...)
			if len(rec.buf) > maxCSVRecordBytes {
				return nil, 0, &csvSyntaxError{line: rec.line, msg: fmt.Sprintf("record is longer than %d MiB: is a quoted field never closed?", maxCSVRecordBytes>>20)}
			}
			next, err := s.readLine()
			if errors.Is(err, io.EOF) {
				return nil, 0, &csvSyntaxError{line: rec.line, msg: fmt.Sprintf("quoted field %d is never closed (the file ends inside it)", len(rec.ends)+1)}
			}
			if err != nil {
				return nil, 0, err
			}
			line, pos = next, 0
			continue
		}
		rec.buf = append(rec.buf, line[pos:pos+i]...)
		pos += i + 1
		if pos < len(line) && line[pos] == '"' {
			rec.buf = append(rec.buf, '"')
			pos++
			continue
		}
		return line, pos, nil
	}
}
