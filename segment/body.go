package segment

import (
	"io"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// The fixed parts of a batch body, read only: the envelope's head and the comma
// between two events.
var (
	batchHeadPart = []byte(batchHead)
	comma         = []byte{','}
)

// reqBody is a pooled request body: the pieces it is made of, in order, read by
// every reader the transport opens on it (the first one and any GetBody
// rewinds). A /v1/batch body is sent from the caller's events, not from a copy
// of them: its parts are the envelope's head, the events with the commas
// between them, and the envelope's end (in own). An identify body is a copy of
// the event with sentAt spliced in (in own, its only part).
//
// A body goes back to the pool only when the client and every reader are done
// with it, because an http.RoundTripper may keep reading or close the body
// after Do returns; it then forgets its parts, so that a pooled body keeps no
// caller's event alive.
type reqBody struct {
	parts [][]byte
	own   []byte // the bytes the body owns: an identify's copy, a batch envelope's end
	size  int    // Σ len(parts[i])
	refs  atomic.Int32

	// reused is set when the transport sends the request on a connection that
	// carried earlier ones (httptrace's GotConn, through trace).
	reused atomic.Bool
	trace  httptrace.ClientTrace
}

var reqBodyPool = sync.Pool{New: func() any {
	b := &reqBody{own: make([]byte, 0, 512)}
	b.trace.GotConn = b.gotConn
	return b
}}

// Bounds on what a pooled body keeps: parts for a full batch of
// MaxBatchEvents events, and own for the longest identify body.
const (
	maxPooledParts = 2*MaxBatchEvents + 1
	maxPooledOwn   = 2 * MaxEventBytes
)

// getReqBody returns an empty body holding one reference, the caller's.
func getReqBody() *reqBody {
	b := reqBodyPool.Get().(*reqBody)
	b.parts, b.own, b.size = b.parts[:0], b.own[:0], 0
	b.reused.Store(false)
	b.refs.Store(1)
	return b
}

func (b *reqBody) gotConn(info httptrace.GotConnInfo) { b.reused.Store(info.Reused) }

// add appends p to the body's parts.
func (b *reqBody) add(p []byte) {
	b.parts = append(b.parts, p)
	b.size += len(p)
}

// batch makes b the /v1/batch body of events, as AppendBatch writes it: the
// events are parts of it, not copied.
func (b *reqBody) batch(events [][]byte, sentAt time.Time) {
	b.add(batchHeadPart)
	for i, ev := range events {
		if i > 0 {
			b.add(comma)
		}
		b.add(ev)
	}
	own := append(b.own, batchMid...)
	own = sentAt.UTC().AppendFormat(own, time.RFC3339Nano)
	b.own = append(own, batchTail...)
	b.add(b.own)
}

// release drops one reference; the last one returns the body to the pool.
func (b *reqBody) release() {
	if b.refs.Add(-1) != 0 {
		return
	}
	clear(b.parts)
	if cap(b.parts) > maxPooledParts {
		b.parts = nil
	}
	if cap(b.own) > maxPooledOwn {
		b.own = make([]byte, 0, 512) // do not keep outsized buffers alive
	}
	reqBodyPool.Put(b)
}

// reader opens a new reader on the body, holding its own reference until Close.
func (b *reqBody) reader() io.ReadCloser {
	b.refs.Add(1)
	return &bodyReader{owner: b}
}

// bodyReader reads a reqBody from its start. Read and Close may be called from
// different goroutines by the transport; after Close, Read returns io.EOF and
// never touches the (possibly reused) body again.
type bodyReader struct {
	mu     sync.Mutex
	owner  *reqBody
	part   int // the part being read
	off    int // bytes of it read
	closed bool
}

func (r *bodyReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, io.EOF
	}
	parts := r.owner.parts
	n := 0
	for n < len(p) && r.part < len(parts) {
		c := copy(p[n:], parts[r.part][r.off:])
		n += c
		r.off += c
		if r.off == len(parts[r.part]) {
			r.part, r.off = r.part+1, 0
		}
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (r *bodyReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.owner.release()
	}
	return nil
}
