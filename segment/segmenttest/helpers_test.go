package segmenttest_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/segloop/segloop/segment/segmenttest"
)

// call describes one request made straight into a Handler.
type call struct {
	method string // "" = POST
	path   string
	body   string
	key    string // Basic auth user; "" = no Basic auth
	pass   string
	gzip   bool
	header map[string]string
}

// do serves c through h with an httptest.ResponseRecorder.
func do(t *testing.T, h http.Handler, c call) *httptest.ResponseRecorder {
	t.Helper()
	method := c.method
	if method == "" {
		method = http.MethodPost
	}
	body := []byte(c.body)
	if c.gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(body); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		body = buf.Bytes()
	}
	r := httptest.NewRequest(method, c.path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if c.gzip {
		r.Header.Set("Content-Encoding", "gzip")
	}
	if c.key != "" {
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.key+":"+c.pass)))
	}
	for k, v := range c.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// ident is a valid identify event with the given messageId.
func ident(id string) string {
	return fmt.Sprintf(`{"type":"identify","messageId":%q,"userId":"u-%s","traits":{"email":"a@b.c"}}`, id, id)
}

// batchOf wraps events in a batch envelope.
func batchOf(events ...string) string {
	return `{"batch":[` + strings.Join(events, ",") + `]}`
}

// batchN is a batch of n valid events with messageIds prefix0..prefix(n-1).
func batchN(prefix string, n int) string {
	evs := make([]string, n)
	for i := range evs {
		evs[i] = ident(fmt.Sprintf("%s%d", prefix, i))
	}
	return batchOf(evs...)
}

// wantStatus fails unless w answered want.
func wantStatus(t *testing.T, w *httptest.ResponseRecorder, want int) {
	t.Helper()
	if w.Code != want {
		t.Fatalf("status: got %d (%q), want %d", w.Code, w.Body.String(), want)
	}
}

// newHandler is segmenttest.NewHandler, named for brevity in tables.
func newHandler(o segmenttest.Options) *segmenttest.Handler { return segmenttest.NewHandler(o) }

// atomicCounter hands out 1, 2, 3, ... to concurrent callers.
type atomicCounter struct{ n atomic.Uint32 }

func (c *atomicCounter) next() uint32 { return c.n.Add(1) }

// nopCloser makes a reader a request body.
type nopCloser struct{ io.Reader }

func (nopCloser) Close() error { return nil }

// hijackRecorder is a ResponseRecorder that can be hijacked, as a real
// connection can; it records whether it was.
type hijackRecorder struct {
	*httptest.ResponseRecorder
	hijacked bool
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h.hijacked = true
	a, b := net.Pipe()
	b.Close()
	return a, bufio.NewReadWriter(bufio.NewReader(a), bufio.NewWriter(a)), nil
}

// doHijackable is do with a hijackable recorder.
func doHijackable(t *testing.T, h http.Handler, c call) *hijackRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, c.path, strings.NewReader(c.body))
	if c.key != "" {
		r.SetBasicAuth(c.key, c.pass)
	}
	w := &hijackRecorder{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(w, r)
	return w
}
