package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segloop/segloop/internal/testwait"
	"github.com/segloop/segloop/runstore"
	"github.com/segloop/segloop/segment/segmenttest"
	"github.com/segloop/segloop/serve"
)

const (
	testToken    = "tok-7b1e0c55d9a24f3e8c61"
	testWriteKey = "wk-server-3a9f2d7c1b5e4a60"
)

// env is a running server on loopback against a segmenttest server.
type env struct {
	t      *testing.T
	seg    *segmenttest.Server
	st     *runstore.Store
	dbPath string
	url    string
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error

	mu      sync.Mutex
	answers []string // every answer's headers and body, for the secrets test
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// start runs a server with cfg (Store, Endpoint, Log filled in unless set)
// against a new segmenttest server with segOpts.
func start(t *testing.T, segOpts segmenttest.Options, cfg serve.Config) *env {
	t.Helper()
	e := &env{t: t, seg: segmenttest.NewServer(segOpts), logs: &syncBuffer{}}
	t.Cleanup(e.seg.Close)
	e.dbPath = filepath.Join(t.TempDir(), "runs.db")
	st, err := runstore.Open(context.Background(), e.dbPath, runstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.st = st
	t.Cleanup(func() { st.Close() })
	e.serve(cfg)
	return e
}

// serve starts a server on e's store (again, after stop).
func (e *env) serve(cfg serve.Config) {
	e.t.Helper()
	cfg.Store = e.st
	if cfg.Endpoint == "" {
		cfg.Endpoint = e.seg.URL
		cfg.EndpointName = "segmenttest"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := serve.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	e.url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- srv.Serve(ctx, ln) }()
	e.t.Cleanup(e.stop)
}

// stop shuts the server down gracefully and waits for it.
func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	if err := <-e.done; err != nil {
		e.t.Errorf("Serve: %v", err)
	}
	e.cancel = nil
}

// do sends a request with the token (unless headers set Authorization,
// to "" for none) and returns the status and body.
func (e *env) do(method, path, contentType string, body io.Reader, headers ...string) (int, []byte, http.Header) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading: %v", method, path, err)
	}
	var hdr strings.Builder
	res.Header.Write(&hdr)
	e.mu.Lock()
	e.answers = append(e.answers, hdr.String()+string(b))
	e.mu.Unlock()
	return res.StatusCode, b, res.Header
}

func (e *env) json(method, path string, body any, want int, out any, headers ...string) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	code, b, _ := e.do(method, path, "application/json", r, headers...)
	if code != want {
		e.t.Fatalf("%s %s = %d %s; want %d", method, path, code, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

type runView struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Counts struct {
		OK, Invalid, Failed, Skipped, Unchanged int64
	} `json:"counts"`
	Read       int64      `json:"read"`
	CreatedAt  *time.Time `json:"createdAt"`
	StartedAt  *time.Time `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt"`
	Error      *string    `json:"error"`
	RetryOf    string     `json:"retryOf"`
	Workers    []struct {
		Replica         string
		Chunks, Results int64
	} `json:"workers"`
}

type resultLine struct {
	Index      int64  `json:"index"`
	Line       int    `json:"line"`
	UserID     string `json:"userId"`
	MessageID  string `json:"messageId"`
	Status     string `json:"status"`
	Success    bool   `json:"success"`
	Attempts   int    `json:"attempts"`
	HTTPStatus int    `json:"httpStatus"`
	Error      string `json:"error"`
}

// waitRun polls run id until it has finished (the poll is on the state, not
// on time: it fails only near the test's deadline, see patience).
func (e *env) waitRun(id string) runView {
	e.t.Helper()
	deadline := time.Now().Add(patience(e.t))
	for {
		var v runView
		e.json("GET", "/v1/runs/"+id, nil, 200, &v)
		switch v.Status {
		case "succeeded", "completed_with_failures", "failed", "cancelled":
			return v
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("run %s still %s", id, v.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// patience is how long a test waits for an event before it calls it lost
// (see testwait.Patience).
func patience(t *testing.T) time.Duration { return testwait.Patience(t) }

// results returns run id's result lines for query q ("" for all).
func (e *env) results(id, q string) []resultLine {
	e.t.Helper()
	code, b, hdr := e.do("GET", "/v1/runs/"+id+"/results"+q, "", nil)
	if code != 200 {
		e.t.Fatalf("results = %d %s", code, b)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/x-ndjson" {
		e.t.Errorf("results Content-Type %q", ct)
	}
	var out []resultLine
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		var r resultLine
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			e.t.Fatalf("result line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// errorBody decodes an error answer.
func errorBody(t *testing.T, b []byte) (code, msg string) {
	t.Helper()
	var v struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Error.Code == "" {
		t.Fatalf("not an error body: %s", b)
	}
	return v.Error.Code, v.Error.Message
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func urlQuery(s string) string { return url.QueryEscape(s) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
