package shard

// Glob is a compiled MATCH pattern with the semantics of Redis'
// stringmatchlen (util.c), case-sensitive: '*' any run of bytes, '?' one
// byte, '[...]' a set with '^' negation, 'a-z' ranges (ends in either order,
// compared as C signed chars) and '\' escapes, and '\' escaping any byte
// outside a set. An unterminated '[' set ends at the pattern's end. Used to
// filter keys client-side where the server cannot (CLUSTER GETKEYSINSLOT).
type Glob struct {
	p   string
	all bool // "" or "*"
}

// CompileGlob prepares pattern for matching. "" (no pattern) and "*" match
// every key, as SCAN and KEYS treat "*" without calling the matcher.
func CompileGlob(pattern string) Glob {
	return Glob{p: pattern, all: pattern == "" || pattern == "*"}
}

// MatchAll reports whether the pattern matches every key.
func (g Glob) MatchAll() bool { return g.all }

// Pattern returns the source pattern.
func (g Glob) Pattern() string { return g.p }

// Match reports whether key matches the pattern.
func (g Glob) Match(key string) bool {
	if g.all {
		return true
	}
	skip := false
	return globMatch(g.p, key, &skip)
}

// at returns p[i], or 0 past the end (the C code reads the terminating NUL).
func at(p string, i int) byte {
	if i < len(p) {
		return p[i]
	}
	return 0
}

// globMatch mirrors stringmatchlen_impl. skipLonger implements the same
// pruning as Redis (once the rest of the pattern after a '*' fails at every
// position, no earlier '*' can help), which keeps matching polynomial.
func globMatch(p, s string, skipLonger *bool) bool {
	pi, si := 0, 0
	for pi < len(p) && si < len(s) {
		switch p[pi] {
		case '*':
			for pi < len(p) && at(p, pi+1) == '*' {
				pi++
			}
			if pi == len(p)-1 {
				return true
			}
			for si < len(s) {
				if globMatch(p[pi+1:], s[si:], skipLonger) {
					return true
				}
				if *skipLonger {
					return false
				}
				si++
			}
			*skipLonger = true
			return false
		case '?':
			si++
		case '[':
			pi++
			negate := at(p, pi) == '^'
			if negate {
				pi++
			}
			matched := false
			c := s[si]
			for {
				rest := len(p) - pi
				switch {
				case at(p, pi) == '\\' && rest >= 2:
					pi++
					if p[pi] == c {
						matched = true
					}
				case at(p, pi) == ']':
					goto setDone
				case rest <= 0:
					pi--
					goto setDone
				case rest >= 3 && p[pi+1] == '-':
					lo, hi := int(int8(p[pi])), int(int8(p[pi+2]))
					if lo > hi {
						lo, hi = hi, lo
					}
					pi += 2
					if ci := int(int8(c)); ci >= lo && ci <= hi {
						matched = true
					}
				default:
					if p[pi] == c {
						matched = true
					}
				}
				pi++
			}
		setDone:
			if negate {
				matched = !matched
			}
			if !matched {
				return false
			}
			si++
		case '\\':
			if len(p)-pi >= 2 {
				pi++
			}
			fallthrough
		default:
			if p[pi] != s[si] {
				return false
			}
			si++
		}
		pi++
		if si == len(s) {
			for at(p, pi) == '*' {
				pi++
			}
			break
		}
	}
	return pi >= len(p) && si == len(s)
}
