package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// guardedMessageReader reads Arrow IPC stream messages like
// ipc.NewMessageReader, but first checks each message's flatbuffer
// metadata: every offset and vector it declares must lie inside the
// metadata, and the body must fit the size limit. arrow-go v18.8.0 trusts
// those counts (a corrupt field count makes it allocate tens of GiB and
// the process dies), so input that did not come from a trusted writer goes
// through this reader.
type guardedMessageReader struct {
	r        io.Reader
	mem      memory.Allocator
	maxMeta  int64
	maxBody  int64
	msg      *ipc.Message
	refCount atomic.Int64
	header   [4]byte
}

func newGuardedMessageReader(r io.Reader, mem memory.Allocator, maxMeta, maxBody int64) *guardedMessageReader {
	g := &guardedMessageReader{r: r, mem: mem, maxMeta: maxMeta, maxBody: maxBody}
	g.refCount.Add(1)
	return g
}

func (g *guardedMessageReader) Retain() { g.refCount.Add(1) }

func (g *guardedMessageReader) Release() {
	if g.refCount.Add(-1) == 0 && g.msg != nil {
		g.msg.Release()
		g.msg = nil
	}
}

func readFull(r io.Reader, b []byte) error {
	_, err := io.ReadFull(r, b)
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Message returns the next message (valid until the next call), or io.EOF.
func (g *guardedMessageReader) Message() (*ipc.Message, error) {
	if _, err := io.ReadFull(g.r, g.header[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF // a stream may end without an end marker
		}
		return nil, fmt.Errorf("reading IPC message: %w", err)
	}
	n := binary.LittleEndian.Uint32(g.header[:])
	if n == 0xFFFFFFFF { // continuation marker, then the length
		if err := readFull(g.r, g.header[:]); err != nil {
			return nil, fmt.Errorf("reading IPC message length: %w", err)
		}
		n = binary.LittleEndian.Uint32(g.header[:])
	}
	if n == 0 {
		return nil, io.EOF // end-of-stream marker
	}
	if int64(n) > g.maxMeta || n < 8 {
		return nil, fmt.Errorf("IPC message metadata length %d is outside 8..%d", n, g.maxMeta)
	}
	meta := make([]byte, n)
	if err := readFull(g.r, meta); err != nil {
		return nil, fmt.Errorf("reading IPC message metadata: %w", err)
	}
	f := &fbuf{b: meta}
	bodyLen, err := f.message()
	if err != nil {
		return nil, fmt.Errorf("corrupt IPC message metadata: %w", err)
	}
	if bodyLen < 0 || bodyLen > g.maxBody {
		return nil, fmt.Errorf("IPC message body length %d is outside 0..%d", bodyLen, g.maxBody)
	}
	body := memory.NewResizableBuffer(g.mem)
	defer body.Release()
	body.Resize(int(bodyLen))
	if err := readFull(g.r, body.Bytes()); err != nil {
		return nil, fmt.Errorf("reading IPC message body: %w", err)
	}
	if err := f.checkBody(body.Bytes()); err != nil {
		return nil, fmt.Errorf("corrupt IPC record batch: %w", err)
	}
	if g.msg != nil {
		g.msg.Release()
	}
	g.msg = ipc.NewMessage(memory.NewBufferBytes(meta), body)
	return g.msg, nil
}

// fbuf is a bounds-checked view of a flatbuffer.
type fbuf struct {
	b     []byte
	nodes int // tables and vector elements visited, bounded by the size

	// The record batch's buffer list, for checks against the body.
	buffers, nBuffers int
	compressed        bool
}

// ipcMaxBuffer bounds the decompressed size of one buffer of a record
// batch (a corrupt size prefix must not make the reader allocate terabytes).
const ipcMaxBuffer = 1 << 30

// checkBody checks the record batch buffers against the message body: each
// lies inside it and, if compressed, declares at most ipcMaxBuffer bytes.
func (f *fbuf) checkBody(body []byte) error {
	for i := 0; i < f.nBuffers; i++ {
		p := f.buffers + 16*i
		off := int64(binary.LittleEndian.Uint64(f.b[p:]))
		n := int64(binary.LittleEndian.Uint64(f.b[p+8:]))
		if off < 0 || n < 0 || off > int64(len(body)) || n > int64(len(body))-off {
			return fmt.Errorf("buffer %d (offset %d, length %d) is outside the %d-byte body", i, off, n, len(body))
		}
		if !f.compressed || n == 0 {
			continue
		}
		if n < 8 {
			return fmt.Errorf("compressed buffer %d is %d bytes, shorter than its size prefix", i, n)
		}
		if size := int64(binary.LittleEndian.Uint64(body[off:])); size != -1 && (size < 0 || size > ipcMaxBuffer) {
			return fmt.Errorf("compressed buffer %d claims %d bytes uncompressed (limit %d)", i, size, ipcMaxBuffer)
		}
	}
	return nil
}

var errFlatbuffer = errors.New("offset or length outside the metadata")

func (f *fbuf) u32(p int) (int, error) {
	if p < 0 || p+4 > len(f.b) {
		return 0, errFlatbuffer
	}
	return int(binary.LittleEndian.Uint32(f.b[p:])), nil
}

func (f *fbuf) visit() error {
	f.nodes++
	if f.nodes > len(f.b) {
		return errors.New("too many tables for the metadata size")
	}
	return nil
}

// table checks the table at position t and returns a function giving the
// absolute position of field i (0 if absent).
func (f *fbuf) table(t int) (func(i int) int, error) {
	if err := f.visit(); err != nil {
		return nil, err
	}
	if t < 0 || t+4 > len(f.b) {
		return nil, errFlatbuffer
	}
	vt := t - int(int32(binary.LittleEndian.Uint32(f.b[t:])))
	if vt < 0 || vt+4 > len(f.b) {
		return nil, errFlatbuffer
	}
	vtSize := int(binary.LittleEndian.Uint16(f.b[vt:]))
	tSize := int(binary.LittleEndian.Uint16(f.b[vt+2:]))
	if vtSize < 4 || vtSize%2 != 0 || vt+vtSize > len(f.b) || tSize < 4 || t+tSize > len(f.b) {
		return nil, errFlatbuffer
	}
	for o := 4; o < vtSize; o += 2 {
		if off := int(binary.LittleEndian.Uint16(f.b[vt+o:])); off >= tSize {
			return nil, errFlatbuffer
		}
	}
	field := func(i int) int {
		o := 4 + 2*i
		if o+2 > vtSize {
			return 0
		}
		if off := int(binary.LittleEndian.Uint16(f.b[vt+o:])); off != 0 {
			return t + off
		}
		return 0
	}
	return field, nil
}

// ref follows the offset stored at field position p (0 = absent).
func (f *fbuf) ref(p int) (int, error) {
	if p == 0 {
		return 0, nil
	}
	o, err := f.u32(p)
	if err != nil {
		return 0, err
	}
	return p + o, nil
}

// vector checks the vector at position v with elements of elem bytes and
// returns its length and the position of element 0.
func (f *fbuf) vector(v, elem int) (int, int, error) {
	n, err := f.u32(v)
	if err != nil {
		return 0, 0, err
	}
	if n > (len(f.b)-v-4)/elem {
		return 0, 0, fmt.Errorf("vector of %d elements does not fit the metadata", n)
	}
	return n, v + 4, nil
}

// tables checks the vector of tables referenced at field position p.
func (f *fbuf) tables(p int, each func(t int) error) error {
	v, err := f.ref(p)
	if err != nil || v == 0 {
		return err
	}
	n, first, err := f.vector(v, 4)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		t, err := f.ref(first + 4*i)
		if err != nil {
			return err
		}
		if err := each(t); err != nil {
			return err
		}
	}
	return nil
}

// plain checks a vector (or string, elem 1) of fixed-size elements.
func (f *fbuf) plain(p, elem int) error {
	v, err := f.ref(p)
	if err != nil || v == 0 {
		return err
	}
	_, _, err = f.vector(v, elem)
	return err
}

// anyTable checks that the table referenced at p has a valid header.
func (f *fbuf) anyTable(p int) error {
	t, err := f.ref(p)
	if err != nil || t == 0 {
		return err
	}
	_, err = f.table(t)
	return err
}

func (f *fbuf) keyValues(p int) error {
	return f.tables(p, func(t int) error {
		fld, err := f.table(t)
		if err != nil {
			return err
		}
		if err := f.plain(fld(0), 1); err != nil {
			return err
		}
		return f.plain(fld(1), 1)
	})
}

// message checks the flatbuffer of an IPC Message (Schema.fbs,
// Message.fbs) and returns its body length.
func (f *fbuf) message() (int64, error) {
	b := f.b
	root, err := f.u32(0)
	if err != nil {
		return 0, err
	}
	msg, err := f.table(root)
	if err != nil {
		return 0, err
	}
	var bodyLen int64
	if p := msg(3); p != 0 {
		if p+8 > len(b) {
			return 0, errFlatbuffer
		}
		bodyLen = int64(binary.LittleEndian.Uint64(b[p:]))
	}
	if err := f.keyValues(msg(4)); err != nil {
		return 0, err
	}
	var kind byte
	if p := msg(1); p != 0 {
		if p >= len(b) {
			return 0, errFlatbuffer
		}
		kind = b[p]
	}
	header, err := f.ref(msg(2))
	if err != nil {
		return 0, err
	}
	if header == 0 {
		return bodyLen, nil
	}
	switch kind {
	case 1: // Schema
		err = f.schema(header)
	case 2: // DictionaryBatch
		var d func(int) int
		if d, err = f.table(header); err == nil {
			var rb int
			if rb, err = f.ref(d(1)); err == nil && rb != 0 {
				err = f.recordBatch(rb)
			}
		}
	case 3: // RecordBatch
		err = f.recordBatch(header)
	default:
		err = fmt.Errorf("unsupported IPC message type %d", kind)
	}
	return bodyLen, err
}

func (f *fbuf) schema(t int) error {
	s, err := f.table(t)
	if err != nil {
		return err
	}
	if err := f.tables(s(1), func(t int) error { return f.field(t, 0) }); err != nil {
		return err
	}
	if err := f.keyValues(s(2)); err != nil {
		return err
	}
	return f.plain(s(3), 8)
}

func (f *fbuf) field(t, depth int) error {
	if depth > 64 {
		return errors.New("fields nested deeper than 64 levels")
	}
	fl, err := f.table(t)
	if err != nil {
		return err
	}
	if err := f.plain(fl(0), 1); err != nil { // name
		return err
	}
	if err := f.anyTable(fl(3)); err != nil { // type
		return err
	}
	if d, err := f.ref(fl(4)); err != nil { // dictionary encoding
		return err
	} else if d != 0 {
		de, err := f.table(d)
		if err != nil {
			return err
		}
		if err := f.anyTable(de(1)); err != nil { // index type
			return err
		}
	}
	if err := f.tables(fl(5), func(t int) error { return f.field(t, depth+1) }); err != nil {
		return err
	}
	return f.keyValues(fl(6))
}

func (f *fbuf) recordBatch(t int) error {
	rb, err := f.table(t)
	if err != nil {
		return err
	}
	if p := rb(0); p != 0 {
		if p+8 > len(f.b) || int64(binary.LittleEndian.Uint64(f.b[p:])) < 0 {
			return errors.New("negative or unreadable record batch length")
		}
	}
	if err := f.plain(rb(1), 16); err != nil { // field nodes
		return err
	}
	v, err := f.ref(rb(2)) // buffers
	if err != nil {
		return err
	}
	if v != 0 {
		if f.nBuffers, f.buffers, err = f.vector(v, 16); err != nil {
			return err
		}
	}
	if err := f.anyTable(rb(3)); err != nil { // compression
		return err
	}
	f.compressed = rb(3) != 0
	return f.plain(rb(4), 8) // variadic buffer counts
}
