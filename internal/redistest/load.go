package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Gen returns the arguments of command i (command name first, key second).
type Gen func(i int) []string

// Load sends n generated commands to the server over one raw connection in
// the style of redis-cli --pipe (replies are read concurrently and checked),
// and fails the test on the first error reply.
func (s *Server) Load(n int, gen Gen) {
	s.t.Helper()
	if s.opts.Password != "" {
		s.t.Fatal("Load does not support password-protected servers")
	}
	if err := LoadRaw(context.Background(), func(string) string { return s.Addr() }, n, gen); err != nil {
		s.t.Fatalf("loading %d commands into %s: %v", n, s.Addr(), err)
	}
}

// Load sends n generated commands to the masters owning their keys (the slot
// map is read once with CLUSTER SLOTS), one raw pipelined connection per
// master, and fails the test on the first error reply.
func (c *Cluster) Load(n int, gen Gen) {
	c.t.Helper()
	ctx := context.Background()
	owner, err := c.slotAddrs(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := LoadRaw(ctx, func(key string) string { return owner[KeySlot(key)] }, n, gen); err != nil {
		c.t.Fatalf("loading %d commands into the cluster: %v", n, err)
	}
}

func (c *Cluster) slotAddrs(ctx context.Context) ([]string, error) {
	for _, nd := range c.nodes {
		if !nd.Running() {
			continue
		}
		slots, err := nd.Client().ClusterSlots(ctx).Result()
		if err != nil {
			return nil, fmt.Errorf("CLUSTER SLOTS: %w", err)
		}
		owner := make([]string, NumSlots)
		for _, s := range slots {
			for i := s.Start; i <= s.End; i++ {
				owner[i] = s.Nodes[0].Addr
			}
		}
		return owner, nil
	}
	return nil, errors.New("no running node")
}

// LoadRaw writes n generated commands to the addresses chosen by addrFor
// (given each command's key) over raw connections and waits for all replies.
func LoadRaw(ctx context.Context, addrFor func(key string) string, n int, gen Gen) error {
	conns := map[string]*rawConn{}
	defer func() {
		for _, rc := range conns {
			rc.conn.Close()
		}
	}()
	for i := range n {
		args := gen(i)
		key := ""
		if len(args) > 1 {
			key = args[1]
		}
		addr := addrFor(key)
		rc := conns[addr]
		if rc == nil {
			var err error
			if rc, err = dialRaw(ctx, addr); err != nil {
				return err
			}
			conns[addr] = rc
		}
		if err := rc.write(args); err != nil {
			return err
		}
	}
	var errs []error
	for _, rc := range conns {
		errs = append(errs, rc.finish())
	}
	return errors.Join(errs...)
}

const endMarker = "__redistest_end__"

type rawConn struct {
	addr string
	conn net.Conn
	w    *bufio.Writer
	done chan error
}

func dialRaw(ctx context.Context, addr string) (*rawConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", addr, err)
	}
	rc := &rawConn{addr: addr, conn: conn, w: bufio.NewWriterSize(conn, 1<<16), done: make(chan error, 1)}
	go rc.readReplies()
	return rc, nil
}

func (rc *rawConn) write(args []string) error {
	rc.w.WriteByte('*')
	rc.w.WriteString(strconv.Itoa(len(args)))
	rc.w.WriteString("\r\n")
	for _, a := range args {
		rc.w.WriteByte('$')
		rc.w.WriteString(strconv.Itoa(len(a)))
		rc.w.WriteString("\r\n")
		rc.w.WriteString(a)
		rc.w.WriteString("\r\n")
	}
	if rc.w.Buffered() > 1<<15 {
		if err := rc.w.Flush(); err != nil {
			return fmt.Errorf("writing to %s: %w", rc.addr, err)
		}
	}
	return nil
}

func (rc *rawConn) finish() error {
	if err := rc.write([]string{"ECHO", endMarker}); err != nil {
		return err
	}
	if err := rc.w.Flush(); err != nil {
		return fmt.Errorf("writing to %s: %w", rc.addr, err)
	}
	select {
	case err := <-rc.done:
		return err
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("no end marker from %s", rc.addr)
	}
}

// readReplies reads replies until the end marker; it reports the first
// error reply (with the count of replies before it).
func (rc *rawConn) readReplies() {
	r := bufio.NewReaderSize(rc.conn, 1<<16)
	var first error
	for n := 0; ; n++ {
		v, err := readReply(r)
		if err != nil {
			if first == nil {
				first = fmt.Errorf("reading replies from %s: %w", rc.addr, err)
			}
			rc.done <- first
			return
		}
		if re, ok := v.(replyError); ok && first == nil {
			first = fmt.Errorf("reply %d from %s: %s", n, rc.addr, string(re))
		}
		if s, ok := v.(string); ok && s == endMarker {
			rc.done <- first
			return
		}
	}
}

type replyError string

// readReply reads one RESP2 reply; bulk strings come back as string, error
// replies as replyError, everything else is read and summarised.
func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 {
		return nil, fmt.Errorf("short RESP line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+', ':':
		return body, nil
	case '-':
		return replyError(body), nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		for range n {
			if _, err := readReply(r); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	return nil, fmt.Errorf("unexpected RESP line %q", line)
}

// HashGen returns a generator of HSET commands for keys prefix+i with
// nfields fields f0..f(n-1) whose values are "v<i>_<field>".
func HashGen(prefix string, nfields int) Gen {
	return func(i int) []string {
		args := make([]string, 0, 2+2*nfields)
		is := strconv.Itoa(i)
		args = append(args, "HSET", prefix+is)
		for f := range nfields {
			fs := strconv.Itoa(f)
			args = append(args, "f"+fs, "v"+is+"_"+fs)
		}
		return args
	}
}

// MixedGen returns a generator that cycles through one key of each non-hash
// type (string, list, set, zset) named prefix+i.
func MixedGen(prefix string) Gen {
	return func(i int) []string {
		k := prefix + strconv.Itoa(i)
		switch i % 4 {
		case 0:
			return []string{"SET", k, "x"}
		case 1:
			return []string{"RPUSH", k, "a", "b"}
		case 2:
			return []string{"SADD", k, "a"}
		default:
			return []string{"ZADD", k, "1", "a"}
		}
	}
}
