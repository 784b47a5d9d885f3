package segmenttest

import "net/http/httptest"

// Server is a started Segment-compatible server on a loopback address, for
// tests and benchmarks. Its embedded Handler gives the script, Stats and the
// logs. The caller must call Close.
type Server struct {
	*Handler
	// URL is the base URL, http://127.0.0.1:port, with no trailing slash:
	// the endpoint to give a client.
	URL string

	srv *httptest.Server
}

// NewServer starts a Server with opts on 127.0.0.1 and an ephemeral port.
func NewServer(opts Options) *Server {
	h := NewHandler(opts)
	s := httptest.NewServer(h)
	return &Server{Handler: h, URL: s.URL, srv: s}
}

// Close closes every client connection (ending any request still waiting out
// a Latency or Delay) and shuts the server down, blocking until every handler
// has returned. The Handler's Stats and logs stay readable.
// Close may be called more than once.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}
