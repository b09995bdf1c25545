package codec

import (
	"math"
	"testing"
	"time"
)

func TestParseInt64(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"42", 42, true},
		{"-42", -42, true},
		{"+42", 42, true},
		{"-0", 0, true},
		{"007", 7, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true},
		{"+9223372036854775807", math.MaxInt64, true},
		{"000000000000000000000000042", 42, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false},
		{"99999999999999999999", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"+", 0, false},
		{"1.0", 0, false},
		{"1.5", 0, false},
		{"1e3", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"1_000", 0, false},
		{"1,000", 0, false},
		{"0x10", 0, false},
		{"--1", 0, false},
		{"+-1", 0, false},
		{"١٢", 0, false}, // Arabic-Indic digits are not ASCII digits
		{"abc", 0, false},
	}
	for _, tc := range tests {
		got, ok := ParseInt64(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseInt64(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseFloat64(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"0", 0, true},
		{"1", 1, true},
		{"-2.5", -2.5, true},
		{"+2.5", 2.5, true},
		{".5", 0.5, true},
		{"5.", 5, true},
		{"1e3", 1000, true},
		{"1E3", 1000, true},
		{"1e-7", 1e-7, true},
		{"6.02e+23", 6.02e23, true},
		{"0.1", 0.1, true},
		{"1.7976931348623157e308", math.MaxFloat64, true},
		{"5e-324", 5e-324, true},
		{"1e-400", 0, true}, // underflow rounds to zero
		{"123.456e-2", 1.23456, true},
		{"9007199254740993", 9007199254740992, true}, // 2^53+1 rounds to even
		{"1e22", 1e22, true},
		{"1e23", 1e23, true},
		{"0.000000000000000000000000001", 1e-27, true},
		{"12345678901234567890123", 1.2345678901234568e22, true},
		{"1e+5", 1e5, true},
		{"1e5.5", 0, false},
		{"0e999999", 0, true},
		{"inf", math.Inf(1), true},
		{"Inf", math.Inf(1), true},
		{"+INF", math.Inf(1), true},
		{"-inf", math.Inf(-1), true},
		{"-Infinity", math.Inf(-1), true},
		{"infinity", math.Inf(1), true},
		{"1e400", 0, false},  // overflow
		{"-1e400", 0, false}, // overflow
		{"", 0, false},
		{".", 0, false},
		{"e5", 0, false},
		{"1e", 0, false},
		{"1.2.3", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"1_000", 0, false},
		{"0x1p3", 0, false},
		{"1,5", 0, false},
		{"infinit", 0, false},
		{"nanx", 0, false},
		{"--1", 0, false},
	}
	for _, tc := range tests {
		got, ok := ParseFloat64(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseFloat64(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	for _, in := range []string{"nan", "NaN", "NAN", "-nan", "+nan"} {
		if got, ok := ParseFloat64(in); !ok || !math.IsNaN(got) {
			t.Errorf("ParseFloat64(%q) = %v, %v; want NaN, true", in, got, ok)
		}
	}
	if got, ok := ParseFloat64("-0"); !ok || got != 0 || !math.Signbit(got) {
		t.Errorf("ParseFloat64(-0) = %v, %v; want -0", got, ok)
	}
	if got, ok := ParseFloat64("-0.0"); !ok || !math.Signbit(got) {
		t.Errorf("ParseFloat64(-0.0) = %v, %v; want -0", got, ok)
	}
}

func TestParseBool(t *testing.T) {
	tests := []struct {
		in       string
		want, ok bool
	}{
		{"true", true, true}, {"TRUE", true, true}, {"True", true, true}, {"tRuE", true, true},
		{"false", false, true}, {"FALSE", false, true}, {"False", false, true},
		{"t", true, true}, {"T", true, true}, {"f", false, true}, {"F", false, true},
		{"yes", true, true}, {"YES", true, true}, {"Yes", true, true},
		{"no", false, true}, {"NO", false, true}, {"No", false, true},
		{"y", true, true}, {"Y", true, true}, {"n", false, true}, {"N", false, true},
		{"1", true, true}, {"0", false, true},
		{"", false, false}, {"2", false, false}, {"-1", false, false}, {"01", false, false},
		{"on", false, false}, {"off", false, false}, {" true", false, false}, {"true ", false, false},
		{"truth", false, false}, {"ye", false, false}, {"nope", false, false}, {"1.0", false, false},
	}
	for _, tc := range tests {
		got, ok := ParseBool(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseBool(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// civilDays computes days since the epoch with package time (valid for
// years time handles), as an independent oracle.
func civilDays(y, m, d int) int32 {
	return int32(time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want int32
		ok   bool
	}{
		{"1970-01-01", 0, true},
		{"1970-01-02", 1, true},
		{"1969-12-31", -1, true},
		{"2024-02-29", civilDays(2024, 2, 29), true},
		{"2000-02-29", civilDays(2000, 2, 29), true},
		{"1900-03-01", civilDays(1900, 3, 1), true},
		{"0001-01-01", civilDays(1, 1, 1), true},
		{"0000-01-01", civilDays(0, 1, 1), true},
		{"9999-12-31", civilDays(9999, 12, 31), true},
		{"1066-10-14", civilDays(1066, 10, 14), true},
		{"2150-06-30", civilDays(2150, 6, 30), true},
		{"-0001-12-31", civilDays(-1, 12, 31), true},
		{"-0044-03-15", civilDays(-44, 3, 15), true},
		{"+10000-01-01", civilDays(10000, 1, 1), true},
		{"+2024-01-01", civilDays(2024, 1, 1), true},
		{"+5881580-07-11", math.MaxInt32, true},
		{"-5877641-06-23", math.MinInt32, true},
		{"+5881580-07-12", 0, false}, // beyond date32
		{"-5877641-06-22", 0, false},
		{"2023-02-29", 0, false},
		{"1900-02-29", 0, false},
		{"2024-13-01", 0, false},
		{"2024-00-01", 0, false},
		{"2024-01-00", 0, false},
		{"2024-01-32", 0, false},
		{"2024-04-31", 0, false},
		{"2024-1-01", 0, false},
		{"2024-01-1", 0, false},
		{"24-01-01", 0, false},
		{"10000-01-01", 0, false}, // five-digit years need a sign
		{"2024/01/01", 0, false},
		{"20240101", 0, false},
		{"2024-01-01T00:00:00Z", 0, false},
		{" 2024-01-01", 0, false},
		{"2024-01-01 ", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"2024-01-", 0, false},
		{"+12345678-01-01", 0, false},
	}
	for _, tc := range tests {
		got, ok := ParseDate(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseDate(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFormatDate(t *testing.T) {
	tests := []struct {
		days int32
		want string
	}{
		{0, "1970-01-01"},
		{-1, "1969-12-31"},
		{civilDays(2024, 2, 29), "2024-02-29"},
		{civilDays(1, 1, 1), "0001-01-01"},
		{civilDays(0, 1, 1), "0000-01-01"},
		{civilDays(-1, 12, 31), "-0001-12-31"},
		{civilDays(9999, 12, 31), "9999-12-31"},
		{civilDays(10000, 1, 1), "+10000-01-01"},
		{civilDays(2150, 6, 30), "2150-06-30"},
		{math.MaxInt32, "+5881580-07-11"},
		{math.MinInt32, "-5877641-06-23"},
	}
	for _, tc := range tests {
		if got := FormatDate(tc.days); got != tc.want {
			t.Errorf("FormatDate(%d) = %q; want %q", tc.days, got, tc.want)
		}
	}
}

// TestDateAgainstTime checks the calendar arithmetic against package time
// for every day from year -1000 to 11000 in steps.
func TestDateAgainstTime(t *testing.T) {
	start := time.Date(-1000, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(11000, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := start; d.Before(end); d = d.AddDate(0, 0, 13) {
		days := int32(floorDiv(d.Unix(), 86400))
		y, m, dd := civilFromDays(int64(days))
		if y != int64(d.Year()) || m != int(d.Month()) || dd != d.Day() {
			t.Fatalf("civilFromDays(%d) = %d-%d-%d; want %v", days, y, m, dd, d)
		}
		s := FormatDate(days)
		back, ok := ParseDate(s)
		if !ok || back != days {
			t.Fatalf("ParseDate(FormatDate(%d)=%q) = %d, %v", days, s, back, ok)
		}
		if d.Year() >= 0 && d.Year() <= 9999 && s != d.Format("2006-01-02") {
			t.Fatalf("FormatDate(%d) = %q; time says %q", days, s, d.Format("2006-01-02"))
		}
	}
}

func us(tm time.Time) int64 { return tm.UnixMicro() }

func TestParseDatetime(t *testing.T) {
	base := time.Date(2024, 5, 1, 12, 30, 45, 0, time.UTC)
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"2024-05-01T12:30:45Z", us(base), true},
		{"2024-05-01t12:30:45z", us(base), true},
		{"2024-05-01T12:30:45", us(base), true}, // no zone = UTC
		{"2024-05-01 12:30:45", us(base), true},
		{"2024-05-01T12:30", us(base.Add(-45 * time.Second)), true},
		{"2024-05-01T12:30:45.5Z", us(base) + 500_000, true},
		{"2024-05-01T12:30:45.123Z", us(base) + 123_000, true},
		{"2024-05-01T12:30:45.123456Z", us(base) + 123_456, true},
		{"2024-05-01T12:30:45.1234567Z", us(base) + 123_456, true}, // truncated to µs
		{"2024-05-01T12:30:45.123456999999Z", us(base) + 123_456, true},
		{"2024-05-01T14:30:45+02:00", us(base), true},
		{"2024-05-01T14:30:45+0200", us(base), true},
		{"2024-05-01T14:30:45+02", us(base), true},
		{"2024-05-01T07:00:45-05:30", us(base), true},
		{"2024-05-01T12:30:45-00:00", us(base), true},
		{"2024-05-01 14:30:45.5+02:00", us(base) + 500_000, true},
		{"2024-05-01", us(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)), true},
		{"1969-12-31T23:59:59.999999Z", -1, true},
		{"1969-12-31T23:59:59.5Z", -500_000, true},
		{"1900-01-01T00:00:00Z", us(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)), true},
		{"2200-12-31T23:59:59Z", us(time.Date(2200, 12, 31, 23, 59, 59, 0, time.UTC)), true},
		{"-0001-01-01T00:00:00Z", us(time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)), true},
		{"+294247-01-10T04:00:54.775807Z", math.MaxInt64, true},
		{"-290308-12-21T19:59:05.224192Z", math.MinInt64, true},
		{"+294247-01-10T04:00:54.775808Z", 0, false}, // one µs too late
		{"-290308-12-21T19:59:05.224191Z", 0, false},
		// integer epochs: |n| < 1e11 → seconds, otherwise milliseconds
		{"0", 0, true},
		{"1714566645", us(base), true},
		{"-1", -1_000_000, true},
		{"+1714566645", us(base), true},
		{"99999999999", 99_999_999_999 * 1_000_000, true},
		{"100000000000", 100_000_000_000 * 1000, true},
		{"1714566645000", us(base), true},
		{"-100000000000", -100_000_000_000 * 1000, true},
		{"9223372036854775", 9223372036854775 * 1000, true},
		{"9223372036854776", 0, false}, // ms beyond int64 µs
		{"99999999999999999999", 0, false},
		// rejects
		{"", 0, false},
		{"2024-05-01T", 0, false},
		{"2024-05-01T12", 0, false},
		{"2024-05-01T12:3", 0, false},
		{"2024-05-01T24:00:00", 0, false},
		{"2024-05-01T12:60:00", 0, false},
		{"2024-05-01T12:30:60", 0, false},
		{"2024-05-01T12:30:45.", 0, false},
		{"2024-05-01T12:30:45.Z", 0, false},
		{"2024-05-01T12:30:45,5Z", us(base) + 500_000, true},
		{"2024-05-01T12:30:45.Z", 0, false},
		{"2024-05-01T12:30:45,5Z", us(base) + 500_000, true},
		{"2024-05-01T12:30:45+2", 0, false},
		{"2024-05-01T12:30:45+24:00", 0, false},
		{"2024-05-01T12:30:45+02:60", 0, false},
		{"2024-05-01T12:30:45+02:0", 0, false},
		{"2024-05-01T12:30:45 +02:00", 0, false},
		{"2024-05-01T12:30:45 UTC", 0, false},
		{"2024-05-01X12:30:45", 0, false},
		{"2024-05-01  12:30:45", 0, false},
		{"2024-02-30T00:00:00Z", 0, false},
		{"1714566645.5", 0, false},
		{"1.7e9", 0, false},
		{" 2024-05-01", 0, false},
		{"May 1, 2024", 0, false},
		{"-", 0, false},
	}
	for _, tc := range tests {
		got, ok := ParseDatetime(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseDatetime(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFormatDatetime(t *testing.T) {
	base := time.Date(2024, 5, 1, 12, 30, 45, 0, time.UTC)
	tests := []struct {
		us   int64
		want string
	}{
		{0, "1970-01-01T00:00:00Z"},
		{us(base), "2024-05-01T12:30:45Z"},
		{us(base) + 500_000, "2024-05-01T12:30:45.500Z"},
		{us(base) + 123_000, "2024-05-01T12:30:45.123Z"},
		{us(base) + 123_456, "2024-05-01T12:30:45.123456Z"},
		{us(base) + 1, "2024-05-01T12:30:45.000001Z"},
		{us(base) + 10, "2024-05-01T12:30:45.000010Z"},
		{-1, "1969-12-31T23:59:59.999999Z"},
		{-500_000, "1969-12-31T23:59:59.500Z"},
		{us(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)), "1900-01-01T00:00:00Z"},
		{us(time.Date(2200, 12, 31, 23, 59, 59, 0, time.UTC)), "2200-12-31T23:59:59Z"},
		{us(time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)), "-0001-01-01T00:00:00Z"},
		{us(time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)), "+12000-01-01T00:00:00Z"},
		{math.MaxInt64, "+294247-01-10T04:00:54.775807Z"},
		{math.MinInt64, "-290308-12-21T19:59:05.224192Z"},
	}
	for _, tc := range tests {
		if got := FormatDatetime(tc.us); got != tc.want {
			t.Errorf("FormatDatetime(%d) = %q; want %q", tc.us, got, tc.want)
		}
	}
	// Within 0000-9999 the output is what package time writes as RFC 3339.
	for _, v := range []int64{0, -1, 1, us(base) + 123_456, -62135596800_000_000, 253402300799_999_999} {
		want := time.UnixMicro(v).UTC().Format(time.RFC3339Nano)
		got, _ := ParseDatetime(FormatDatetime(v))
		tp, err := time.Parse(time.RFC3339Nano, FormatDatetime(v))
		if err != nil || tp.UnixMicro() != v || got != v {
			t.Errorf("FormatDatetime(%d) = %q: time.Parse → %v, %v; ParseDatetime → %d (time formats %q)", v, FormatDatetime(v), tp, err, got, want)
		}
	}
}

func TestFormatInt64Bool(t *testing.T) {
	for _, tc := range []struct {
		v    int64
		want string
	}{{0, "0"}, {-5, "-5"}, {math.MaxInt64, "9223372036854775807"}, {math.MinInt64, "-9223372036854775808"}} {
		if got := FormatInt64(tc.v); got != tc.want {
			t.Errorf("FormatInt64(%d) = %q; want %q", tc.v, got, tc.want)
		}
	}
	if FormatBool(true) != "true" || FormatBool(false) != "false" {
		t.Errorf("FormatBool: got %q, %q", FormatBool(true), FormatBool(false))
	}
}

func TestFormatFloat64(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "-0"},
		{1, "1"},
		{-2.5, "-2.5"},
		{0.1, "0.1"},
		{1e6, "1000000"},
		{123456789, "123456789"},
		{1e20, "100000000000000000000"},
		{1e21, "1e+21"},
		{1e-6, "0.000001"},
		{1e-7, "1e-7"},
		{1.5e-10, "1.5e-10"},
		{1.5e300, "1.5e+300"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{5e-324, "5e-324"},
		{1.0 / 3, "0.3333333333333333"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), "nan"},
	}
	for _, tc := range tests {
		got := FormatFloat64(tc.v)
		if got != tc.want {
			t.Errorf("FormatFloat64(%v) = %q; want %q", tc.v, got, tc.want)
		}
		back, ok := ParseFloat64(got)
		same := back == tc.v && math.Signbit(back) == math.Signbit(tc.v) || math.IsNaN(back) && math.IsNaN(tc.v)
		if !ok || !same {
			t.Errorf("ParseFloat64(FormatFloat64(%v)=%q) = %v, %v", tc.v, got, back, ok)
		}
	}
}
