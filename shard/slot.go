package shard

import "strings"

// KeySlot is the Redis Cluster hash slot of key: CRC16 (XMODEM) of the key,
// or of its hashtag (the bytes between the first '{' and the first '}'
// after it, when not empty), modulo 16384.
func KeySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key) & (NumSlots - 1))
}

var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^s[i]]
	}
	return crc
}

// PatternSlot returns the slot every key matching the glob pattern hashes
// to, when the pattern fixes the hashtag: a literal '{', a non-empty literal
// tag and a literal '}' before any glob character. ok is false otherwise.
func PatternSlot(pattern string) (slot int, ok bool) {
	open := strings.IndexByte(pattern, '{')
	if open < 0 {
		return 0, false
	}
	end := strings.IndexByte(pattern[open+1:], '}')
	if end <= 0 {
		return 0, false
	}
	closeAt := open + 1 + end
	if strings.ContainsAny(pattern[:closeAt+1], `*?[\`) {
		return 0, false
	}
	return KeySlot(pattern[:closeAt+1]), true
}
