package codec

import (
	"math"
	"strconv"
)

// This file holds one parse and one format function per type. The rules
// are tabulated in the package documentation (doc.go). The parsers are
// hand-written so that the scan hot path does not allocate and does not go
// through time.Parse.

// ParseInt64 parses an optionally signed ('+' or '-') run of ASCII decimal
// digits. Fractions, exponents, spaces, digit separators and values outside
// the int64 range are rejected.
func ParseInt64(s string) (int64, bool) {
	i, neg := 0, false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg, i = s[0] == '-', 1
	}
	digits := len(s) - i
	if digits <= 0 {
		return 0, false
	}
	var u uint64
	if digits <= 18 { // cannot overflow
		for ; i < len(s); i++ {
			c := s[i] - '0'
			if c > 9 {
				return 0, false
			}
			u = u*10 + uint64(c)
		}
	} else {
		limit := uint64(math.MaxInt64)
		if neg {
			limit++
		}
		for ; i < len(s); i++ {
			c := s[i] - '0'
			if c > 9 {
				return 0, false
			}
			if u > (limit-uint64(c))/10 {
				return 0, false
			}
			u = u*10 + uint64(c)
		}
	}
	if neg {
		return int64(-u), true //nolint:gosec // -u wraps to MinInt64 for u == 1<<63 as intended
	}
	return int64(u), true
}

// ParseFloat64 parses a decimal number with optional sign, fraction and
// exponent ("1", "-2.5", ".5", "5.", "1e-7", "6.02E+23"), or one of the
// words inf, infinity, nan (any case, optionally signed). Hexadecimal
// forms, digit separators and spaces are rejected, as are finite numbers
// too large for float64 ("1e400"); numbers too small underflow to 0.
func ParseFloat64(s string) (float64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '.', c == 'e', c == 'E', c == '+', c == '-':
		default:
			return parseFloatWord(s)
		}
	}
	if f, ok := parseFloatFast(s); ok {
		return f, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil { // syntax error, or overflow to ±Inf
		return 0, false
	}
	return f, true
}

// float64pow10 holds the powers of ten that float64 represents exactly.
var float64pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloatFast handles the common short decimals exactly (Clinger's fast
// path: a mantissa below 2^53 times or divided by an exact power of ten is
// one correctly rounded operation). It returns false for anything else,
// including syntax errors, which strconv.ParseFloat then decides.
func parseFloatFast(s string) (float64, bool) {
	i, neg := 0, false
	if s[0] == '-' || s[0] == '+' {
		neg, i = s[0] == '-', 1
	}
	var mant uint64
	digits, exp := 0, 0
	sawDigit, sawDot := false, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			sawDigit = true
			if mant != 0 || c != '0' {
				if digits == 19 {
					return 0, false
				}
				digits++
			}
			mant = mant*10 + uint64(c-'0')
			if sawDot {
				exp--
			}
		case c == '.' && !sawDot:
			sawDot = true
		case c == 'e' || c == 'E':
			if !sawDigit {
				return 0, false
			}
			e, ok := ParseInt64(s[i+1:])
			if !ok || e > 1000 || e < -1000 {
				return 0, false
			}
			exp += int(e)
			i = len(s)
		default:
			return 0, false
		}
	}
	if !sawDigit || mant > 1<<53 {
		return 0, false
	}
	f := float64(mant)
	switch {
	case exp == 0:
	case exp > 0 && exp <= 22:
		f *= float64pow10[exp]
	case exp < 0 && exp >= -22:
		f /= float64pow10[-exp]
	default:
		return 0, false
	}
	if neg {
		f = -f
	}
	return f, true
}

func parseFloatWord(s string) (float64, bool) {
	sign := 1.0
	w := s
	if w[0] == '+' || w[0] == '-' {
		if w[0] == '-' {
			sign = -1
		}
		w = w[1:]
	}
	switch {
	case equalFoldASCII(w, "inf"), equalFoldASCII(w, "infinity"):
		return math.Inf(int(sign)), true
	case equalFoldASCII(w, "nan"):
		return math.NaN(), true
	}
	return 0, false
}

// equalFoldASCII reports whether s equals the lower-case ASCII word w,
// ignoring ASCII case.
func equalFoldASCII(s, w string) bool {
	if len(s) != len(w) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}

// ParseBool accepts true/false, t/f, yes/no, y/n and 1/0 in any case.
func ParseBool(s string) (bool, bool) {
	switch len(s) {
	case 1:
		switch s[0] {
		case '1', 't', 'T', 'y', 'Y':
			return true, true
		case '0', 'f', 'F', 'n', 'N':
			return false, true
		}
	case 2:
		if equalFoldASCII(s, "no") {
			return false, true
		}
	case 3:
		if equalFoldASCII(s, "yes") {
			return true, true
		}
	case 4:
		if equalFoldASCII(s, "true") {
			return true, true
		}
	case 5:
		if equalFoldASCII(s, "false") {
			return false, true
		}
	}
	return false, false
}

// ParseDate parses YYYY-MM-DD (proleptic Gregorian calendar) into days
// since 1970-01-01. Years outside 0000-9999 are written with a sign and at
// least four digits (ISO 8601 expanded form: "-0044-03-15",
// "+10000-01-01"); the whole date32 range is accepted.
func ParseDate(s string) (int32, bool) {
	days, n, ok := parseDatePrefix(s)
	if !ok || n != len(s) || days < math.MinInt32 || days > math.MaxInt32 {
		return 0, false
	}
	return int32(days), true
}

// parseDatePrefix parses [±]YYYY-MM-DD at the start of s and returns the
// day number and the number of bytes consumed.
func parseDatePrefix(s string) (days int64, n int, ok bool) {
	i, neg, signed := 0, false, false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg, signed, i = s[0] == '-', true, 1
	}
	var year int64
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if i-start >= 7 { // more digits than any date32 year needs
			return 0, 0, false
		}
		year = year*10 + int64(s[i]-'0')
		i++
	}
	nd := i - start
	if nd < 4 || (!signed && nd != 4) {
		return 0, 0, false
	}
	if neg {
		year = -year
	}
	// -MM-DD
	if len(s) < i+6 || s[i] != '-' || s[i+3] != '-' {
		return 0, 0, false
	}
	month, ok1 := twoDigits(s, i+1)
	day, ok2 := twoDigits(s, i+4)
	if !ok1 || !ok2 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return 0, 0, false
	}
	return daysFromCivil(year, month, day), i + 6, true
}

func twoDigits(s string, i int) (int, bool) {
	a, b := s[i]-'0', s[i+1]-'0'
	if a > 9 || b > 9 {
		return 0, false
	}
	return int(a)*10 + int(b), true
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y int64, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic
// Gregorian date (the well-known era-based algorithm).
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y int64, m, d int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	y = yoe + era*400
	if m <= 2 {
		y++
	}
	return y, m, d
}

// EpochMillisThreshold: an integer datetime value n with |n| below it is
// read as seconds since the epoch, otherwise as milliseconds. 1e11 seconds
// is in the year 5138; 1e11 milliseconds is 1973-03-03T09:46:40Z.
const EpochMillisThreshold = 100_000_000_000

const (
	usPerSec  = 1_000_000
	secPerDay = 86_400
)

// ParseDatetime parses a point in time into microseconds since the epoch,
// UTC. Accepted:
//
//   - YYYY-MM-DD (midnight UTC)
//   - YYYY-MM-DD{T|t| }HH:MM[:SS[.fraction]][zone] where zone is Z, z,
//     ±HH:MM, ±HHMM or ±HH; no zone means UTC. The fraction separator is
//     "." or "," (ISO 8601), with any number of digits; digits beyond
//     microseconds are truncated. Years as in ParseDate.
//   - an integer (optional sign): seconds since the epoch if its absolute
//     value is below EpochMillisThreshold (1e11), otherwise milliseconds.
func ParseDatetime(s string) (int64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	if isEpochInt(s) {
		n, ok := ParseInt64(s)
		if !ok {
			return 0, false
		}
		if n > -EpochMillisThreshold && n < EpochMillisThreshold {
			return n * usPerSec, true
		}
		if n > math.MaxInt64/1000 || n < math.MinInt64/1000 {
			return 0, false
		}
		return n * 1000, true
	}
	days, i, ok := parseDatePrefix(s)
	if !ok {
		return 0, false
	}
	var secOfDay, frac, off int64
	if i < len(s) {
		if c := s[i]; c != 'T' && c != 't' && c != ' ' {
			return 0, false
		}
		i++
		secOfDay, frac, i, ok = parseClock(s, i)
		if !ok {
			return 0, false
		}
		if i < len(s) {
			off, ok = parseZone(s[i:])
			if !ok {
				return 0, false
			}
		}
	}
	secs := days*secPerDay + secOfDay - off // |days| < 2^32, no overflow
	if secs < 0 && frac > 0 {
		secs++
		frac -= usPerSec
	}
	if secs > math.MaxInt64/usPerSec || secs < math.MinInt64/usPerSec {
		return 0, false
	}
	us := secs * usPerSec
	if (frac > 0 && us > math.MaxInt64-frac) || (frac < 0 && us < math.MinInt64-frac) {
		return 0, false
	}
	return us + frac, true
}

// isEpochInt reports whether s looks like [±]digits (no date dashes).
func isEpochInt(s string) bool {
	i := 0
	if s[0] == '+' || s[0] == '-' {
		i = 1
	}
	if i == len(s) {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseClock parses HH:MM[:SS[.fraction]] at s[i:].
func parseClock(s string, i int) (secOfDay, fracUS int64, n int, ok bool) {
	if len(s) < i+5 || s[i+2] != ':' {
		return 0, 0, 0, false
	}
	h, ok1 := twoDigits(s, i)
	m, ok2 := twoDigits(s, i+3)
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, 0, 0, false
	}
	i += 5
	sec := 0
	if i < len(s) && s[i] == ':' {
		if len(s) < i+3 {
			return 0, 0, 0, false
		}
		var ok3 bool
		sec, ok3 = twoDigits(s, i+1)
		if !ok3 || sec > 59 {
			return 0, 0, 0, false
		}
		i += 3
		if i < len(s) && (s[i] == '.' || s[i] == ',') { // ISO 8601 allows a comma
			i++
			start := i
			scale := int64(100_000)
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				fracUS += int64(s[i]-'0') * scale
				scale /= 10
				i++
			}
			if i == start {
				return 0, 0, 0, false
			}
		}
	}
	return int64(h)*3600 + int64(m)*60 + int64(sec), fracUS, i, true
}

// parseZone parses Z, ±HH:MM, ±HHMM or ±HH (the whole of z) into an offset
// in seconds east of UTC.
func parseZone(z string) (int64, bool) {
	if z == "Z" || z == "z" {
		return 0, true
	}
	if len(z) < 3 || (z[0] != '+' && z[0] != '-') {
		return 0, false
	}
	h, ok := twoDigits(z, 1)
	if !ok || h > 23 {
		return 0, false
	}
	m := 0
	switch len(z) {
	case 3:
	case 5:
		m, ok = twoDigits(z, 3)
	case 6:
		if z[3] != ':' {
			return 0, false
		}
		m, ok = twoDigits(z, 4)
	default:
		return 0, false
	}
	if !ok || m > 59 {
		return 0, false
	}
	off := int64(h)*3600 + int64(m)*60
	if z[0] == '-' {
		off = -off
	}
	return off, true
}

// FormatInt64 formats v in decimal.
func FormatInt64(v int64) string { return strconv.FormatInt(v, 10) }

// FormatFloat64 formats v in the shortest decimal form that parses back to
// the same float64: plain notation for 1e-6 <= |v| < 1e21 ("0.1", "3",
// "-0", "123456789"), exponent notation otherwise ("1e-7", "1.5e+300"), and
// inf, -inf, nan for the special values.
func FormatFloat64(v float64) string {
	var buf [32]byte
	return string(AppendFloat64(buf[:0], v))
}

// AppendFloat64 appends FormatFloat64(v) to dst.
func AppendFloat64(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "nan"...)
	case math.IsInf(v, 1):
		return append(dst, "inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-inf"...)
	}
	format := byte('f')
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, v, format, -1, 64)
	if format == 'e' {
		// 1e-07 → 1e-7
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// FormatBool formats v as "true" or "false".
func FormatBool(v bool) string {
	if v {
		return "true"
	}
	return "false"
}

// FormatDate formats days since 1970-01-01 as YYYY-MM-DD; years outside
// 0000-9999 get a sign and at least four digits ("+10000-01-01",
// "-0001-12-31").
func FormatDate(days int32) string {
	var buf [16]byte
	return string(AppendDate(buf[:0], days))
}

// AppendDate appends FormatDate(days) to dst.
func AppendDate(dst []byte, days int32) []byte {
	return appendCivil(dst, int64(days))
}

func appendCivil(dst []byte, days int64) []byte {
	y, m, d := civilFromDays(days)
	switch {
	case y < 0:
		dst = append(dst, '-')
		y = -y
	case y > 9999:
		dst = append(dst, '+')
	}
	if y < 1000 {
		dst = append(dst, '0')
		if y < 100 {
			dst = append(dst, '0')
			if y < 10 {
				dst = append(dst, '0')
			}
		}
	}
	dst = strconv.AppendInt(dst, y, 10)
	dst = append(dst, '-', byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
	return dst
}

// FormatDatetime formats microseconds since the epoch as RFC 3339 in UTC:
// "2024-05-01T12:30:00Z" for whole seconds, ".123" for whole milliseconds,
// ".123456" otherwise. Years outside 0000-9999 are written as in FormatDate.
func FormatDatetime(us int64) string {
	var buf [32]byte
	return string(AppendDatetime(buf[:0], us))
}

// AppendDatetime appends FormatDatetime(us) to dst.
func AppendDatetime(dst []byte, us int64) []byte {
	const usPerDay = secPerDay * usPerSec
	days := floorDiv(us, usPerDay)
	// 0 <= rem < usPerDay. Near math.MinInt64, days*usPerDay overflows, but
	// Go integer arithmetic wraps, and the true difference fits, so rem is right.
	rem := us - days*usPerDay
	dst = appendCivil(dst, days)
	sec := rem / usPerSec
	frac := rem % usPerSec
	h, m, s := sec/3600, sec/60%60, sec%60
	dst = append(dst, 'T', byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+s/10), byte('0'+s%10))
	switch {
	case frac == 0:
	case frac%1000 == 0:
		ms := frac / 1000
		dst = append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	default:
		dst = append(dst, '.')
		for scale := int64(100_000); scale > 0; scale /= 10 {
			dst = append(dst, byte('0'+frac/scale%10))
		}
	}
	return append(dst, 'Z')
}
