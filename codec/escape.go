package codec

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Redis keys, field names and values are byte strings; Arrow utf8 columns,
// Parquet and Arrow column names, CSV and NDJSON text must be valid UTF-8.
// The escaped form carries any byte string as valid UTF-8, losslessly:
//
//	valid UTF-8 characters    as they are, except the backslash
//	\                         \\
//	a byte that is not part   \xHH (two lowercase hex digits)
//	of a valid UTF-8 sequence
//
// So "caf\xe9" (Latin-1) is written caf\xe9 as six visible characters, and
// UnescapeBytes gives back the four original bytes.

// EscapeBytes returns s in the escaped form (see above). The result is
// valid UTF-8 and UnescapeBytes(EscapeBytes(s)) == s for every s.
func EscapeBytes(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// EscapeInvalid returns s itself when it is valid UTF-8, else
// EscapeBytes(s). It is the form of key column values in KeyText mode and
// of field names in column headers: identical for valid UTF-8, and valid
// UTF-8 always.
func EscapeInvalid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return EscapeBytes(s)
}

// UnescapeBytes reverses EscapeBytes. A backslash followed by anything
// but a backslash or x and two hex digits is an error wrapping
// ErrInvalidEscape.
func UnescapeBytes(s string) (string, error) {
	if strings.IndexByte(s, '\\') < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		switch {
		case i+1 < len(s) && s[i+1] == '\\':
			b.WriteByte('\\')
			i++
		case i+3 < len(s) && s[i+1] == 'x' && isHex(s[i+2]) && isHex(s[i+3]):
			b.WriteByte(unhex(s[i+2])<<4 | unhex(s[i+3]))
			i += 3
		default:
			return "", fmt.Errorf("%w: %q at byte %d: a backslash must start \\\\ or \\xHH", ErrInvalidEscape, s, i)
		}
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
