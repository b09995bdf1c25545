package shard

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"
)

// rawFetcher reads hashes over its own connection to one node, writing the
// pipeline of HMGET/HGETALL (and TTL) commands as raw RESP2 and parsing the
// replies without per-value allocations: every value of a chunk is a
// substring of one string made from the chunk's reply bytes. It is the fast
// path of a scan task; replies it does not handle itself (MOVED, ASK,
// LOADING and other errors except WRONGTYPE) send the key to the go-redis
// fetcher, which follows redirects. Not safe for concurrent use.
type rawFetcher struct {
	c      *Client
	addr   string
	fields []string // nil = HGETALL
	ttl    bool
	slow   *fetcher // fallback for keys this fetcher cannot answer
	// schema, for HGETALL: field name → position; values are placed by it
	// (fields not in the schema are skipped) instead of building a map.
	schema map[string]int

	conn  net.Conn
	r     *bufio.Reader
	w     *bufio.Writer
	cmdHd []byte // "*N\r\n$5\r\nHMGET\r\n" or "*2\r\n$7\r\nHGETALL\r\n"
	cmdTl []byte // the encoded field names
	arena []byte
	spans []int32 // per value: offset, length (-1 = nil)
}

func newRawFetcher(c *Client, addr string, fields []string, schema []string, ttl bool, slow *fetcher) *rawFetcher {
	f := &rawFetcher{c: c, addr: addr, fields: fields, ttl: ttl, slow: slow}
	if fields == nil && schema != nil {
		f.schema = make(map[string]int, len(schema))
		for i, name := range schema {
			f.schema[name] = i
		}
	}
	if fields == nil {
		f.cmdHd = []byte("*2\r\n$7\r\nHGETALL\r\n")
	} else {
		f.cmdHd = fmt.Appendf(nil, "*%d\r\n$5\r\nHMGET\r\n", len(fields)+2)
		for _, fl := range fields {
			f.cmdTl = appendBulk(f.cmdTl, fl)
		}
	}
	return f
}

func appendBulk(b []byte, s string) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, '\r', '\n')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// dial opens the connection with the URL's credentials, TLS and database.
func (f *rawFetcher) dial(ctx context.Context) error {
	o := f.c.nodeOptions(f.addr)
	d := net.Dialer{Timeout: o.DialTimeout}
	var conn net.Conn
	var err error
	if o.TLSConfig != nil {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: o.TLSConfig}).DialContext(ctx, "tcp", f.addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", f.addr)
	}
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", f.addr, err)
	}
	f.conn, f.r, f.w = conn, bufio.NewReaderSize(conn, 1<<16), bufio.NewWriterSize(conn, 1<<16)
	var setup [][]string
	if o.Password != "" {
		if o.Username != "" {
			setup = append(setup, []string{"AUTH", o.Username, o.Password})
		} else {
			setup = append(setup, []string{"AUTH", o.Password})
		}
	}
	if o.DB != 0 {
		setup = append(setup, []string{"SELECT", strconv.Itoa(o.DB)})
	}
	if len(setup) == 0 {
		return nil
	}
	f.deadline(ctx, o.ReadTimeout)
	for _, cmd := range setup {
		b := fmt.Appendf(nil, "*%d\r\n", len(cmd))
		for _, a := range cmd {
			b = appendBulk(b, a)
		}
		f.w.Write(b)
	}
	if err := f.w.Flush(); err != nil {
		return f.fail(fmt.Errorf("connecting to %s: %w", f.addr, err))
	}
	for _, cmd := range setup {
		line, err := f.line()
		if err != nil {
			return f.fail(fmt.Errorf("connecting to %s: %w", f.addr, err))
		}
		if line[0] == '-' {
			return f.fail(fmt.Errorf("connecting to %s: %s failed: %s", f.addr, cmd[0], line[1:]))
		}
	}
	return nil
}

func (f *rawFetcher) deadline(ctx context.Context, timeout time.Duration) {
	t := time.Time{}
	if timeout > 0 {
		t = time.Now().Add(timeout)
	}
	if d, ok := ctx.Deadline(); ok && (t.IsZero() || d.Before(t)) {
		t = d
	}
	f.conn.SetDeadline(t)
}

// fail closes the connection (its stream state is unknown) and returns err
// marked as a connection failure.
func (f *rawFetcher) fail(err error) error {
	f.close()
	return connError{err}
}

func (f *rawFetcher) close() {
	if f.conn != nil {
		f.conn.Close()
		f.conn = nil
	}
}

// line reads one RESP line without its CRLF.
func (f *rawFetcher) line() ([]byte, error) {
	b, err := f.r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(b) < 3 || b[len(b)-2] != '\r' {
		return nil, fmt.Errorf("malformed RESP line %q", b)
	}
	return b[:len(b)-2], nil
}

func parseLen(b []byte) (int, error) {
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return 0, fmt.Errorf("malformed RESP length %q", b)
	}
	return n, nil
}

// bulk reads a bulk string (after its "$n" header) into the arena and
// records its span.
func (f *rawFetcher) bulk(hdr []byte) error {
	n, err := parseLen(hdr[1:])
	if err != nil {
		return err
	}
	if n < 0 {
		f.spans = append(f.spans, 0, -1)
		return nil
	}
	off := len(f.arena)
	f.arena = slices.Grow(f.arena, n+2)[:off+n+2]
	if _, err := io.ReadFull(f.r, f.arena[off:]); err != nil {
		return err
	}
	f.arena = f.arena[:off+n]
	f.spans = append(f.spans, int32(off), int32(n))
	return nil
}

// reply kinds of one key
const (
	replyOK = iota
	replyWrongType
	replyOther // error to be retried through go-redis
)

// fetch reads the hashes of keys; see fetcher.fetch. When the connection
// fails (a restarted node, a network error) the chunk is read through
// go-redis instead, which reconnects and retries; the next chunk dials
// again.
func (f *rawFetcher) fetch(ctx context.Context, keys []string) ([]row, fetchCounts, error) {
	rows, fc, err := f.fetchRaw(ctx, keys)
	var ne connError
	if errors.As(err, &ne) && ctx.Err() == nil {
		f.c.Logger().Debug("raw fetch connection failed; reading the chunk through go-redis", "node", f.addr, "error", err)
		return f.slow.fetch(ctx, keys)
	}
	return rows, fc, err
}

// connError marks a failure of the raw connection (as opposed to a reply).
type connError struct{ err error }

func (e connError) Error() string { return e.err.Error() }
func (e connError) Unwrap() error { return e.err }

func (f *rawFetcher) fetchRaw(ctx context.Context, keys []string) ([]row, fetchCounts, error) {
	var fc fetchCounts
	if len(keys) == 0 {
		return nil, fc, nil
	}
	if f.conn == nil {
		if err := f.dial(ctx); err != nil {
			return nil, fc, connError{err}
		}
	}
	f.deadline(ctx, f.c.base.ReadTimeout)
	conn := f.conn
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	for _, k := range keys {
		f.w.Write(f.cmdHd)
		f.w.WriteString("$")
		f.w.WriteString(strconv.Itoa(len(k)))
		f.w.WriteString("\r\n")
		f.w.WriteString(k)
		f.w.WriteString("\r\n")
		f.w.Write(f.cmdTl)
		if f.ttl {
			f.w.WriteString("*2\r\n$3\r\nTTL\r\n$")
			f.w.WriteString(strconv.Itoa(len(k)))
			f.w.WriteString("\r\n")
			f.w.WriteString(k)
			f.w.WriteString("\r\n")
		}
	}
	if err := f.w.Flush(); err != nil {
		return nil, fc, f.fail(fmt.Errorf("fetching from %s: %w", f.addr, err))
	}
	f.arena = f.arena[:0]
	f.spans = f.spans[:0]
	kinds := make([]uint8, len(keys))
	starts := make([]int32, len(keys)+1) // index into spans (pairs) per key
	ttls := make([]int64, len(keys))
	var firstErr []byte
	for i := range keys {
		starts[i] = int32(len(f.spans) / 2)
		kind, errText, err := f.readData()
		if err != nil {
			return nil, fc, f.fail(fmt.Errorf("reading hashes from %s: %w", f.addr, err))
		}
		kinds[i] = kind
		if kind == replyOther && firstErr == nil {
			firstErr = errText
		}
		if f.ttl {
			line, err := f.line()
			if err != nil {
				return nil, fc, f.fail(fmt.Errorf("reading TTL from %s: %w", f.addr, err))
			}
			switch line[0] {
			case ':':
				n, err := parseLen(line[1:])
				if err != nil {
					return nil, fc, f.fail(err)
				}
				ttls[i] = int64(n)
			case '-':
				if kinds[i] == replyOK {
					kinds[i] = replyOther
				}
			default:
				return nil, fc, f.fail(fmt.Errorf("unexpected TTL reply %q", line))
			}
		}
	}
	starts[len(keys)] = int32(len(f.spans) / 2)
	data := string(f.arena) // one allocation; every value is a substring
	value := func(j int32) (string, bool) {
		off, n := f.spans[2*j], f.spans[2*j+1]
		if n < 0 {
			return "", false
		}
		return data[off : off+n], true
	}
	nf := len(f.fields)
	if f.schema != nil {
		nf = len(f.schema)
	}
	rows := make([]row, 0, len(keys))
	var values []string
	var present []bool
	if nf > 0 {
		values = make([]string, len(keys)*nf)
		present = make([]bool, len(keys)*nf)
	}
	var slowKeys, maybeGone []string
	for i, k := range keys {
		switch kinds[i] {
		case replyWrongType:
			fc.otherTypes++
			continue
		case replyOther:
			slowKeys = append(slowKeys, k)
			continue
		}
		if f.ttl && ttls[i] == -2 {
			fc.vanished++
			continue
		}
		r := row{key: k, ttl: ttls[i]}
		a, z := starts[i], starts[i+1]
		if f.fields == nil && f.schema != nil {
			if z == a {
				fc.vanished++ // a hash is never empty: the key is gone
				continue
			}
			r.values = values[i*nf : (i+1)*nf : (i+1)*nf]
			r.present = present[i*nf : (i+1)*nf : (i+1)*nf]
			for j := a; j+1 < z; j += 2 {
				fk, _ := value(j)
				if pos, ok := f.schema[fk]; ok {
					r.values[pos], _ = value(j + 1)
					r.present[pos] = true
				}
			}
		} else if f.fields == nil {
			if z == a {
				fc.vanished++ // a hash is never empty: the key is gone
				continue
			}
			r.m = make(map[string]string, (z-a)/2)
			for j := a; j+1 < z; j += 2 {
				fk, _ := value(j)
				fv, _ := value(j + 1)
				r.m[fk] = fv
			}
		} else {
			if int(z-a) != nf {
				return nil, fc, fmt.Errorf("HMGET %q: %d values for %d fields", k, z-a, nf)
			}
			r.values = values[i*nf : (i+1)*nf : (i+1)*nf]
			r.present = present[i*nf : (i+1)*nf : (i+1)*nf]
			found := false
			for j := range nf {
				r.values[j], r.present[j] = value(a + int32(j))
				found = found || r.present[j]
			}
			if !found && !f.ttl {
				maybeGone = append(maybeGone, k)
			}
		}
		rows = append(rows, r)
	}
	if len(maybeGone) > 0 {
		gone, err := f.slow.missing(ctx, maybeGone)
		if err != nil {
			return nil, fc, err
		}
		if len(gone) > 0 {
			kept := rows[:0]
			for _, r := range rows {
				if _, g := gone[r.key]; g {
					fc.vanished++
					continue
				}
				kept = append(kept, r)
			}
			rows = kept
		}
	}
	if len(slowKeys) > 0 {
		more, sfc, err := f.slow.fetch(ctx, slowKeys)
		if err != nil {
			return nil, fc, fmt.Errorf("%w (first reply from %s: %s)", err, f.addr, firstErr)
		}
		fc.otherTypes += sfc.otherTypes
		fc.vanished += sfc.vanished
		rows = append(rows, more...)
	}
	return rows, fc, nil
}

// readData reads one HMGET/HGETALL reply into the arena.
func (f *rawFetcher) readData() (uint8, []byte, error) {
	line, err := f.line()
	if err != nil {
		return 0, nil, err
	}
	switch line[0] {
	case '-':
		if len(line) > 10 && string(line[1:10]) == "WRONGTYPE" {
			return replyWrongType, nil, nil
		}
		return replyOther, append([]byte(nil), line[1:]...), nil
	case '*':
		n, err := parseLen(line[1:])
		if err != nil {
			return 0, nil, err
		}
		for range n {
			hdr, err := f.line()
			if err != nil {
				return 0, nil, err
			}
			if hdr[0] != '$' {
				return 0, nil, fmt.Errorf("unexpected RESP element %q", hdr)
			}
			if err := f.bulk(hdr); err != nil {
				return 0, nil, err
			}
		}
		return replyOK, nil, nil
	}
	return 0, nil, errors.New("unexpected RESP reply " + strconv.Quote(string(line)))
}
