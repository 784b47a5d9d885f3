package segment

import (
	"bytes"
	"io"
	"sync"
	"sync/atomic"
)

// reqBody is a pooled request body shared by every reader the transport
// opens on it (the first one and any GetBody rewinds). It goes back to the
// pool only when the client and every reader are done with it, because an
// http.RoundTripper may keep reading or close the body after Do returns.
type reqBody struct {
	buf  []byte
	refs atomic.Int32
}

var reqBodyPool = sync.Pool{New: func() any { return &reqBody{buf: make([]byte, 0, 8192)} }}

// getReqBody returns an empty body holding one reference, the caller's.
func getReqBody() *reqBody {
	b := reqBodyPool.Get().(*reqBody)
	b.buf = b.buf[:0]
	b.refs.Store(1)
	return b
}

// release drops one reference; the last one returns the body to the pool.
func (b *reqBody) release() {
	if b.refs.Add(-1) != 0 {
		return
	}
	if cap(b.buf) > 2*MaxBatchBytes {
		b.buf = nil // do not keep outsized buffers alive
	}
	reqBodyPool.Put(b)
}

// reader opens a new reader on the body, holding its own reference until Close.
func (b *reqBody) reader() io.ReadCloser {
	b.refs.Add(1)
	r := &bodyReader{owner: b}
	r.r.Reset(b.buf)
	return r
}

// bodyReader reads a reqBody. Read and Close may be called from different
// goroutines by the transport; after Close, Read returns io.EOF and never
// touches the (possibly reused) buffer again.
type bodyReader struct {
	mu     sync.Mutex
	r      bytes.Reader
	owner  *reqBody
	closed bool
}

func (r *bodyReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, io.EOF
	}
	return r.r.Read(p)
}

func (r *bodyReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.r.Reset(nil)
		r.owner.release()
	}
	return nil
}
