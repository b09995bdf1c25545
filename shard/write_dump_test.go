package shard

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc64"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/redstage/redstage/internal/redistest"
)

func TestRDBCRC(t *testing.T) {
	// Check value of Redis's crc64.c.
	if got := rdbCRC([]byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64 = %#x; want 0xe9c6d914c4b8d9ca", got)
	}
}

func TestListpackInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"7", 7, true}, {"-1", -1, true}, {"127", 127, true},
		{"9223372036854775807", math.MaxInt64, true}, {"-9223372036854775808", math.MinInt64, true},
		{"", 0, false}, {"-", 0, false}, {"-0", 0, false}, {"00", 0, false}, {"01", 0, false},
		{"+1", 0, false}, {" 1", 0, false}, {"1 ", 0, false}, {"1e3", 0, false}, {"1.0", 0, false},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false}, {"0x10", 0, false},
	}
	for _, tt := range tests {
		v, ok := listpackInt(tt.in)
		if ok != tt.ok || (ok && v != tt.want) {
			t.Errorf("listpackInt(%q) = %d, %v; want %d, %v", tt.in, v, ok, tt.want, tt.ok)
		}
	}
}

// dumpCases are field/value lists covering every listpack encoding.
func dumpCases(rng *rand.Rand) [][]string {
	ints := []int64{0, 1, 127, 128, -1, 4095, -4096, 4096, -4097, 32767, -32768, 32768, -32769,
		8388607, -8388608, 8388608, -8388609, math.MaxInt32, math.MinInt32, math.MaxInt32 + 1,
		math.MinInt32 - 1, math.MaxInt64, math.MinInt64}
	var vals []string
	for _, v := range ints {
		vals = append(vals, strconv.FormatInt(v, 10))
	}
	vals = append(vals, "", "-0", "007", "+5", "1.5", "x", "ünïcødé", strings.Repeat("s", 63), strings.Repeat("t", 64),
		"2024-02-29", "2024-06-01T12:30:45.123456Z", "true", "NaN")
	cases := [][]string{{"f", "v"}}
	for i, v := range vals {
		cases = append(cases, []string{fmt.Sprintf("field%d", i), v, v, "x"}) // as value and as field
	}
	all := []string{}
	for i, v := range vals {
		all = append(all, "k"+strconv.Itoa(i), v)
	}
	cases = append(cases, all)
	for range 200 {
		n := 1 + rng.IntN(dumpMaxPairs)
		kv := make([]string, 0, 2*n)
		for j := range n {
			kv = append(kv, fmt.Sprintf("c%d", j), vals[rng.IntN(len(vals))])
		}
		cases = append(cases, kv)
	}
	return cases
}

// TestHashDumpMatchesServer: the payload is byte for byte what the server's
// DUMP returns for the same hash (compression off), and RESTORE of it
// passes the server's deep payload sanitization and gives the hash back.
func TestHashDumpMatchesServer(t *testing.T) {
	srv := redistest.StartServerWith(t, redistest.ServerOptions{Extra: []string{"rdbcompression no", "sanitize-dump-payload yes"}})
	rdb := srv.Client()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	var buf, lp []byte
	for i, kv := range dumpCases(rng) {
		key := fmt.Sprintf("hset:%d", i)
		args := []any{}
		for _, s := range kv {
			args = append(args, s)
		}
		if err := rdb.HSet(ctx, key, args...).Err(); err != nil {
			t.Fatal(err)
		}
		want, err := rdb.Dump(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		buf, lp = appendHashDump(buf[:0], lp, kv)
		if !bytes.Equal(buf, []byte(want)) {
			t.Fatalf("case %d %q:\n ours   %x\n server %x", i, kv, buf, want)
		}
		rkey := fmt.Sprintf("restore:%d", i)
		if err := rdb.Restore(ctx, rkey, 0, string(buf)).Err(); err != nil {
			t.Fatalf("case %d: RESTORE: %v", i, err)
		}
		got, err := rdb.HGetAll(ctx, rkey).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(got)*2 != len(kv) {
			t.Fatalf("case %d: %d fields back; want %d", i, len(got), len(kv)/2)
		}
		for j := 0; j < len(kv); j += 2 {
			if got[kv[j]] != kv[j+1] {
				t.Fatalf("case %d field %q = %q; want %q", i, kv[j], got[kv[j]], kv[j+1])
			}
		}
	}
}

// FuzzHashDump: any row of unique fields becomes a payload whose parts
// are consistent (lengths, element count, checksum).
func FuzzHashDump(f *testing.F) {
	f.Add("a", "1", "b", "-4097")
	f.Add("", "", "x", strings.Repeat("z", 64))
	f.Fuzz(func(t *testing.T, f1, v1, f2, v2 string) {
		if f1 == f2 {
			return
		}
		kv := []string{f1, v1, f2, v2}
		p, _ := appendHashDump(nil, nil, kv)
		if p[0] != rdbTypeHashListpack || len(p) < 1+1+7+10 {
			t.Fatalf("payload %x", p)
		}
		body, trailer := p[:len(p)-8], p[len(p)-8:]
		if got := rdbCRC(body); got != leUint64(trailer) {
			t.Fatalf("checksum %#x; trailer %x", got, trailer)
		}
		if v := int(p[len(p)-10]) | int(p[len(p)-9])<<8; v != rdbVersion {
			t.Fatalf("version %d", v)
		}
		// The listpack: header total bytes and count, entries, 0xff.
		lp := p[1 : len(p)-10]
		switch {
		case lp[0] < 0x40:
			lp = lp[1:]
		case lp[0] < 0x80:
			lp = lp[2:]
		default:
			lp = lp[5:]
		}
		if int(leUint32(lp[0:4])) != len(lp) || int(lp[4])|int(lp[5])<<8 != 4 || lp[len(lp)-1] != 0xff {
			t.Fatalf("listpack header %x, length %d", lp[:6], len(lp))
		}
	})
}

func leUint64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func leUint32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// FuzzListpackInt: the hand-written parser agrees with the definition
// (strconv parses it and formats it back to the same text).
func FuzzListpackInt(f *testing.F) {
	for _, s := range []string{"0", "-0", "01", "-1", "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "-9223372036854775809", "99999999999999999999", "+1", "1a", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := listpackInt(s)
		rv, err := strconv.ParseInt(s, 10, 64)
		want := err == nil && strconv.FormatInt(rv, 10) == s
		if ok != want || (ok && v != rv) {
			t.Fatalf("listpackInt(%q) = %d, %v; want %d, %v", s, v, ok, rv, want)
		}
	})
}

// FuzzRDBCRC: the slicing-by-8 CRC equals the bytewise definition.
func FuzzRDBCRC(f *testing.F) {
	f.Add([]byte("123456789"))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff, 0x00, 0x10}, 40))
	tab := crc64.MakeTable(0x95ac9329ac4bc9b5)
	f.Fuzz(func(t *testing.T, p []byte) {
		var want uint64
		for _, b := range p {
			want = tab[byte(want)^b] ^ want>>8
		}
		if got := rdbCRC(p); got != want {
			t.Fatalf("rdbCRC = %#x; want %#x", got, want)
		}
	})
}
