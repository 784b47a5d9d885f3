package segmenttest

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Routes the server answers.
const (
	pathIdentify = "/v1/identify"
	pathBatch    = "/v1/batch"
	pathImport   = "/v1/import"
)

// successBody is Segment's answer to an accepted request.
const successBody = `{"success":true}`

// Handler is a Segment-compatible http.Handler (see the package doc for what
// it checks and in which order). Serve it on any listener, or use [NewServer]
// in tests. It is safe for concurrent use; its methods may be called while it
// serves.
type Handler struct {
	opts   Options
	keys   map[string]struct{} // nil: any non-empty key
	gate   *gate
	rec    *recorder
	script scriptQueue
	pool   sync.Pool // *payload
}

// NewHandler returns a Handler configured by opts (see [Options] for the
// zero values).
func NewHandler(opts Options) *Handler {
	opts = opts.withDefaults()
	h := &Handler{
		opts: opts,
		gate: newGate(opts),
		rec:  newRecorder(opts.LogLimit),
		pool: sync.Pool{New: func() any { return new(payload) }},
	}
	if len(opts.WriteKeys) > 0 {
		h.keys = make(map[string]struct{}, len(opts.WriteKeys))
		for _, k := range opts.WriteKeys {
			h.keys[k] = struct{}{}
		}
	}
	if opts.KeepEvents {
		h.rec.events = []Event{}
	}
	return h
}

// ServeHTTP answers one request and records it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.rec.c.requests.Add(1)
	req := Request{
		Time:       time.Now(),
		Path:       r.URL.Path,
		RetryCount: retryCount(r.Header.Get("X-Retry-Count")),
		UserAgent:  r.UserAgent(),
	}
	p := h.pool.Get().(*payload)
	defer func() {
		if !req.Reset { // reset logs before it drops the connection
			h.rec.log(req)
		}
		p.reset()
		h.pool.Put(p)
	}()
	h.serve(w, r, p, &req)
}

// serve runs the checks in order and answers.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, p *payload, req *Request) {
	// Reading the whole body first also lets net/http notice a client that
	// goes away (it cancels r.Context()) while the request waits below.
	p.readErr = p.read(r, &p.zr)
	if h.opts.Latency > 0 && !sleep(r.Context(), h.opts.Latency) {
		return
	}
	if resp, ok := h.script.pop(); ok {
		h.answerScripted(w, r, p, req, resp)
		return
	}
	switch r.URL.Path {
	case pathIdentify:
	case pathBatch, pathImport:
		p.batch = true
	default:
		h.answer(w, req, http.StatusNotFound, http.StatusText(http.StatusNotFound))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.answer(w, req, http.StatusMethodNotAllowed, http.StatusText(http.StatusMethodNotAllowed))
		return
	}
	if req.Authorized = h.authorized(r, p); !req.Authorized {
		h.answer(w, req, http.StatusUnauthorized, http.StatusText(http.StatusUnauthorized))
		return
	}
	if wait, until, early, throttled := h.gate.throttle(time.Now()); throttled {
		if early {
			h.rec.c.early.Add(1)
		}
		hdr := w.Header()
		hdr.Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		hdr.Set("X-RateLimit-Reset", strconv.FormatInt(until.Add(time.Second-1).Unix(), 10))
		h.answer(w, req, http.StatusTooManyRequests, http.StatusText(http.StatusTooManyRequests))
		return
	}
	switch h.gate.inject() {
	case faultReset:
		h.reset(w, req)
		return
	case faultFail:
		h.answer(w, req, http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable))
		return
	}
	p.parse()
	if p.batch {
		req.Events = len(p.env.Batch)
	} else {
		req.Events = len(p.events)
	}
	if p.err != nil {
		req.Error = p.err.Error()
		h.answer(w, req, http.StatusBadRequest, "Bad Request")
		return
	}
	h.rec.deliver(p.events)
	if p.dropped > 0 {
		h.rec.c.dropped.Add(int64(p.dropped))
	}
	if h.opts.KeepEvents {
		h.rec.keep(p.raws)
	}
	h.answer(w, req, http.StatusOK, successBody)
}

// authorized reports whether r carries an accepted write key: the Basic auth
// user name with an empty password if r has Basic auth, else the body's
// "writeKey" field.
func (h *Handler) authorized(r *http.Request, p *payload) bool {
	key, pass, ok := r.BasicAuth()
	if ok && pass != "" {
		return false
	}
	if !ok {
		p.parse()
		key = p.writeKey
	}
	if key == "" {
		return false
	}
	if h.keys == nil {
		return true
	}
	_, ok = h.keys[key]
	return ok
}

// answer writes status and body and counts the outcome.
func (h *Handler) answer(w http.ResponseWriter, req *Request, status int, body string) {
	req.Status = status
	c := &h.rec.c
	switch {
	case status >= 200 && status < 300:
		c.accepted.Add(1)
	case status == http.StatusUnauthorized:
		c.unauthorized.Add(1)
	case status == http.StatusTooManyRequests:
		c.throttled.Add(1)
	case status >= 400 && status < 500:
		c.bad.Add(1)
	case status >= 500:
		c.failed.Add(1)
	}
	hdr := w.Header()
	if status >= 200 && status < 300 {
		hdr.Set("Content-Type", "application/json")
	} else {
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// reset drops the connection without an answer: hijack, SO_LINGER 0 (so the
// peer sees a TCP RST), close. It logs req first, so that a client that sees
// the reset also finds it in the log. A ResponseWriter that cannot be
// hijacked (HTTP/2, httptest.ResponseRecorder) is aborted with
// http.ErrAbortHandler.
func (h *Handler) reset(w http.ResponseWriter, req *Request) {
	h.rec.c.resets.Add(1)
	req.Reset = true
	conn, _, err := http.NewResponseController(w).Hijack()
	h.rec.log(*req)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// retryCount parses an X-Retry-Count header value; -1 if absent or invalid.
func retryCount(v string) int {
	if v == "" {
		return -1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return -1
	}
	return n
}
