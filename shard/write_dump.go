package shard

import (
	"encoding/binary"
	"hash/crc64"
	"math"
)

// A hash is written with RESTORE of a serialized value built here, in one
// of two forms:
//
//   - RDB type 16 (Redis 7.0+), a listpack of field, value, ...: the same
//     bytes DUMP returns for a small hash, without LZF compression. The
//     server takes the blob as it is and costs about half of an HSET of the
//     same fields (BenchmarkWriteStrategies). A server loading it converts
//     it to a hash table when it has more entries than
//     hash-max-listpack-entries, but not when a value is longer than
//     hash-max-listpack-value, so this form is used only for rows that fit
//     both limits as read from the server (CONFIG GET).
//   - RDB type 4, a plain list of field and value strings: the server
//     inserts them one by one and chooses the encoding exactly as HSET
//     would (listpack, converted to a hash table when the entries or a
//     value exceed the limits). Used for the other rows, and for every row
//     when CONFIG GET is not allowed, so a key's encoding never depends on
//     the path that wrote it.
//
// RESTORE is atomic, creates the key only if it is absent (else it fails
// with BUSYKEY and writes nothing), and sets the expiry in the same
// command. No Go library builds DUMP payloads, so the format is written
// here and checked against the server's own DUMP output in the tests.
const (
	rdbTypeHash         = 4  // RDB_TYPE_HASH: length, then field and value strings
	rdbTypeHashListpack = 16 // RDB_TYPE_HASH_LISTPACK, Redis 7.0+
	rdbVersion          = 10 // RDB version of Redis 7.0, the first with type 16; newer servers accept it

	// Defaults of hash-max-listpack-entries and hash-max-listpack-value.
	dumpMaxPairs = 128
	dumpMaxLen   = 64
)

// listpackLimits are the server's hash-max-listpack-entries and
// hash-max-listpack-value; unknown when CONFIG GET is not allowed.
type listpackLimits struct {
	entries, value int
	known          bool
}

// fits reports whether the server keeps a hash of the pairs kv as a
// listpack (hashTypeTryConversion): no more pairs than entries, no field or
// value longer than value.
func (l listpackLimits) fits(kv []string) bool {
	if !l.known || len(kv) == 0 || len(kv) > 2*l.entries {
		return false
	}
	for _, s := range kv {
		if len(s) > l.value {
			return false
		}
	}
	return true
}

// rdbCRC is the CRC-64 of RDB files and DUMP payloads: Jones polynomial
// (reflected 0x95ac9329ac4bc9b5), initial value 0, no final xor. It reads
// 8 bytes per step (slicing-by-8); hash/crc64 does that only for its two
// built-in polynomials and spends more comparing tables than a payload
// takes to checksum.
func rdbCRC(p []byte) uint64 {
	var crc uint64
	t := &crcJones
	for len(p) >= 8 {
		crc ^= binary.LittleEndian.Uint64(p)
		crc = t[7][crc&0xff] ^ t[6][(crc>>8)&0xff] ^ t[5][(crc>>16)&0xff] ^ t[4][(crc>>24)&0xff] ^
			t[3][(crc>>32)&0xff] ^ t[2][(crc>>40)&0xff] ^ t[1][(crc>>48)&0xff] ^ t[0][crc>>56]
		p = p[8:]
	}
	for _, b := range p {
		crc = t[0][byte(crc)^b] ^ crc>>8
	}
	return crc
}

var crcJones = func() (t [8][256]uint64) {
	base := crc64.MakeTable(0x95ac9329ac4bc9b5)
	t[0] = *base
	for i := range 256 {
		c := t[0][i]
		for k := 1; k < 8; k++ {
			c = t[0][c&0xff] ^ c>>8
			t[k][i] = c
		}
	}
	return t
}()

// appendHashTableDump appends the RESTORE payload of a hash holding the
// pairs kv (field, value, ...; unique fields) as RDB type 4, which the
// server encodes as HSET would.
func appendHashTableDump(dst []byte, kv []string) []byte {
	start := len(dst)
	dst = append(dst, rdbTypeHash)
	dst = appendRDBLen(dst, len(kv)/2)
	for _, s := range kv {
		dst = appendRDBLen(dst, len(s))
		dst = append(dst, s...)
	}
	dst = binary.LittleEndian.AppendUint16(dst, rdbVersion)
	return binary.LittleEndian.AppendUint64(dst, rdbCRC(dst[start:]))
}

// appendHashDump appends the RESTORE payload of a hash holding the pairs
// kv (field, value, ...; unique fields) to dst. lp is scratch space for
// the listpack; both are returned for reuse.
func appendHashDump(dst, lp []byte, kv []string) (out, scratch []byte) {
	lp = append(lp[:0], 0, 0, 0, 0, 0, 0) // total bytes, element count: set below
	for _, s := range kv {
		lp = appendListpackEntry(lp, s)
	}
	lp = append(lp, 0xff)
	binary.LittleEndian.PutUint32(lp[0:4], uint32(len(lp)))
	n := min(len(kv), 65535) // 65535 means "count the elements"
	binary.LittleEndian.PutUint16(lp[4:6], uint16(n))

	start := len(dst)
	dst = append(dst, rdbTypeHashListpack)
	dst = appendRDBLen(dst, len(lp))
	dst = append(dst, lp...)
	dst = binary.LittleEndian.AppendUint16(dst, rdbVersion)
	dst = binary.LittleEndian.AppendUint64(dst, rdbCRC(dst[start:]))
	return dst, lp
}

// appendRDBLen appends an RDB length (rdbSaveLen).
func appendRDBLen(dst []byte, n int) []byte {
	switch {
	case n < 1<<6:
		return append(dst, byte(n))
	case n < 1<<14:
		return append(dst, 0x40|byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint32(append(dst, 0x80), uint32(n))
	}
}

// appendListpackEntry appends one listpack entry (encoding, data, back
// length), encoding s as an integer exactly when Redis would: when it is
// the canonical decimal form of an int64.
func appendListpackEntry(dst []byte, s string) []byte {
	start := len(dst)
	if v, ok := listpackInt(s); ok {
		switch {
		case v >= 0 && v <= 127:
			dst = append(dst, byte(v))
		case v >= -4096 && v <= 4095:
			u := uint64(v) & 0x1fff
			dst = append(dst, 0xc0|byte(u>>8), byte(u))
		case v >= -32768 && v <= 32767:
			dst = binary.LittleEndian.AppendUint16(append(dst, 0xf1), uint16(v))
		case v >= -8388608 && v <= 8388607:
			u := uint32(v)
			dst = append(dst, 0xf2, byte(u), byte(u>>8), byte(u>>16))
		case v >= -2147483648 && v <= 2147483647:
			dst = binary.LittleEndian.AppendUint32(append(dst, 0xf3), uint32(v))
		default:
			dst = binary.LittleEndian.AppendUint64(append(dst, 0xf4), uint64(v))
		}
	} else {
		switch n := len(s); {
		case n < 64:
			dst = append(dst, 0x80|byte(n))
		case n < 4096:
			dst = append(dst, 0xe0|byte(n>>8), byte(n))
		default:
			dst = binary.LittleEndian.AppendUint32(append(dst, 0xf0), uint32(n))
		}
		dst = append(dst, s...)
	}
	return appendBacklen(dst, uint64(len(dst)-start))
}

// appendBacklen appends the entry length l, readable from its end: 7 bits
// per byte, most significant first, every byte but the first with the high
// bit set.
func appendBacklen(dst []byte, l uint64) []byte {
	switch {
	case l <= 127:
		return append(dst, byte(l))
	case l < 16383:
		return append(dst, byte(l>>7), byte(l&127)|128)
	case l < 2097151:
		return append(dst, byte(l>>14), byte((l>>7)&127)|128, byte(l&127)|128)
	case l < 268435455:
		return append(dst, byte(l>>21), byte((l>>14)&127)|128, byte((l>>7)&127)|128, byte(l&127)|128)
	default:
		return append(dst, byte(l>>28), byte((l>>21)&127)|128, byte((l>>14)&127)|128, byte((l>>7)&127)|128, byte(l&127)|128)
	}
}

// listpackInt reports whether s is the canonical decimal form of an int64
// (no sign but '-', no leading zeros, not "-0"): the strings a listpack
// stores as integers (lpStringToInt64).
func listpackInt(s string) (int64, bool) {
	if s == "0" {
		return 0, true
	}
	neg := len(s) > 0 && s[0] == '-'
	d := s
	if neg {
		d = s[1:]
	}
	if len(d) == 0 || len(d) > 19 || d[0] < '1' || d[0] > '9' {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(d); i++ {
		c := d[i] - '0'
		if c > 9 {
			return 0, false
		}
		v = v*10 + uint64(c) // 19 digits cannot overflow a uint64
	}
	switch {
	case !neg && v <= math.MaxInt64:
		return int64(v), true
	case neg && v <= 1<<63:
		return int64(-v), true // -(1<<63) wraps to MinInt64
	}
	return 0, false
}
