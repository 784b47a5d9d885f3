package segment

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// newTransport returns a keep-alive transport sized for a pool of workers
// talking to one host, whose connections write request bodies through a
// pooled buffer (see bodyConn).
func newTransport() *http.Transport {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}
	}
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return bodyConn{c}, nil
	}
	return t
}

// bodyConn is a dialed connection whose ReadFrom copies through a pooled
// buffer. net/http's HTTP/1 transport writes a request body past its first
// 4 KB with io.Copy to the connection, and *net.TCPConn's own ReadFrom, with
// no file to send or socket to splice from, allocates a buffer of up to 32 KB
// for every body: a third of all the bytes an import allocated. (Over TLS the
// transport writes through its *tls.Conn, which has no ReadFrom; HTTP/2
// writes bodies from pooled buffers of its own.)
type bodyConn struct{ net.Conn }

// copyBufs holds the buffers of bodyConn.ReadFrom.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// ReadFrom writes what it reads from r to the connection until io.EOF.
func (c bodyConn) ReadFrom(r io.Reader) (int64, error) {
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	return io.CopyBuffer(writerOnly{c.Conn}, r, *buf)
}

// writerOnly hides every method of a writer but Write, so that io.CopyBuffer
// uses the buffer it is given instead of the writer's ReadFrom.
type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }
