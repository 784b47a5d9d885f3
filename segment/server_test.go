package segment_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// reply is one scripted answer of scriptServer.
type reply struct {
	code   int
	header map[string]string
	body   string
	reset  bool // hijack and close the connection without answering
	hang   bool // answer only when the request's context ends (client timeout)
}

// captured is one request as scriptServer saw it.
type captured struct {
	method, path string
	header       http.Header
	body         []byte
}

// scriptServer is an httptest server that answers requests with a script of
// replies (the last one repeats) and records every request and every new
// connection.
type scriptServer struct {
	*httptest.Server
	mu       sync.Mutex
	script   []reply
	requests []captured
	newConns atomic.Int64
	hanging  chan struct{} // receives once per request held by a hang reply
}

func newScriptServer(t *testing.T, script ...reply) *scriptServer {
	t.Helper()
	s := &scriptServer{script: script, hanging: make(chan struct{}, 16)}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.newConns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *scriptServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests = append(s.requests, captured{r.Method, r.URL.Path, r.Header.Clone(), body})
	rep := reply{code: http.StatusOK}
	if len(s.script) > 0 {
		rep = s.script[0]
		if len(s.script) > 1 {
			s.script = s.script[1:]
		}
	}
	s.mu.Unlock()
	switch {
	case rep.reset:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST, not FIN
			}
			_ = conn.Close()
		}
		return
	case rep.hang:
		select {
		case s.hanging <- struct{}{}:
		default:
		}
		<-r.Context().Done()
		return
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rep.code)
	_, _ = io.WriteString(w, rep.body)
}

// last returns the most recent request.
func (s *scriptServer) last(t *testing.T) captured {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		t.Fatal("no request reached the server")
	}
	return s.requests[len(s.requests)-1]
}

func (s *scriptServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}
