// Package natsproxy is a TCP proxy for tests that sits between NATS
// clients and a server and can swallow chosen server-to-client messages,
// as a lost reply on a flaky network (or a server restart at the wrong
// moment) would. It parses just enough of the NATS protocol (MSG and HMSG
// frames) to drop whole messages; everything else passes unchanged.
package natsproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
)

// Proxy forwards connections from its listener to a NATS server.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	match   []byte // drop messages whose headers or payload contain this
	toDrop  int
	dropped int
	conns   []net.Conn
	closed  bool
	wg      sync.WaitGroup
}

// Start listens on a free loopback port and forwards to target (host:port).
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("natsproxy: %w", err)
	}
	p := &Proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// URL is the nats:// URL clients connect to.
func (p *Proxy) URL() string { return "nats://" + p.ln.Addr().String() }

// DropNext makes the proxy swallow the next n server-to-client messages
// whose header or payload contains match.
func (p *Proxy) DropNext(n int, match string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.toDrop, p.match = n, []byte(match)
}

// Dropped returns how many messages were swallowed so far.
func (p *Proxy) Dropped() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

// Close stops listening and closes every connection. Idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			_ = s.Close()
			return
		}
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(s, c)
			_ = s.Close()
		}()
		go func() {
			defer p.wg.Done()
			_ = p.serverToClient(c, s)
			_ = c.Close()
		}()
	}
}

// serverToClient copies the server's protocol stream to the client,
// frame by frame, leaving out the messages chosen to be dropped.
func (p *Proxy) serverToClient(c io.Writer, s io.Reader) error {
	r := bufio.NewReaderSize(s, 64<<10)
	w := bufio.NewWriterSize(c, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return err
		}
		size, isMsg, err := payloadSize(line)
		if err != nil {
			return err
		}
		var body []byte
		if isMsg {
			body = make([]byte, size+2) // payload and its CRLF
			if _, err := io.ReadFull(r, body); err != nil {
				return err
			}
			if p.drop(body) {
				continue
			}
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		if _, err := w.Write(body); err != nil {
			return err
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
}

func (p *Proxy) drop(body []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.toDrop > 0 && bytes.Contains(body, p.match) {
		p.toDrop--
		p.dropped++
		return true
	}
	return false
}

// payloadSize parses "MSG subj sid [reply] n" or "HMSG subj sid [reply]
// hdr total" and returns the bytes that follow the line.
func payloadSize(line []byte) (int, bool, error) {
	f := strings.Fields(string(line))
	if len(f) == 0 {
		return 0, false, nil
	}
	switch strings.ToUpper(f[0]) {
	case "MSG", "HMSG":
		n, err := strconv.Atoi(f[len(f)-1])
		if err != nil || n < 0 {
			return 0, false, errors.New("natsproxy: malformed " + f[0] + " line")
		}
		return n, true, nil
	}
	return 0, false, nil
}
