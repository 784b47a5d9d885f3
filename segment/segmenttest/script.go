package segmenttest

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Response is one scripted answer (see [Handler.Script]).
type Response struct {
	Status     int           // the status to answer; 0 means 200
	RetryAfter string        // the raw Retry-After header value; "" sends none
	Reset      bool          // reset the connection instead of answering
	Delay      time.Duration // wait this long first (after Options.Latency), watching the request's context
	Body       string        // the body; "" sends {"success":true} for 2xx, else the status text
	Location   string        // the Location header of a 3xx; "" means the request's own path
}

// scriptQueue holds the scripted answers not used yet.
type scriptQueue struct {
	mu   sync.Mutex
	next []Response
}

func (q *scriptQueue) pop() (Response, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.next) == 0 {
		return Response{}, false
	}
	r := q.next[0]
	q.next = q.next[1:]
	return r, true
}

// Script queues answers: the next len(rs) requests, in arrival order, are
// answered as given, before any other rule (routing, auth, rate limit, faults
// and body checks are skipped; whether the request's write key would be
// accepted is still recorded in [Request].Authorized). A scripted answer
// delivers no events. A scripted 429 whose RetryAfter is whole seconds opens a
// Retry-After window like the token bucket's, so a client that ignores it
// shows in [Stats].EarlyRequests. Calls append to what is still queued.
func (h *Handler) Script(rs ...Response) {
	h.script.mu.Lock()
	h.script.next = append(h.script.next, rs...)
	h.script.mu.Unlock()
}

// answerScripted answers r with the scripted resp.
func (h *Handler) answerScripted(w http.ResponseWriter, r *http.Request, p *payload, req *Request, resp Response) {
	h.rec.c.scripted.Add(1)
	req.Scripted = true
	p.batch = r.URL.Path != pathIdentify
	req.Authorized = h.authorized(r, p)
	if resp.Delay > 0 && !sleep(r.Context(), resp.Delay) {
		return
	}
	if resp.Reset {
		h.reset(w, req)
		return
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	hdr := w.Header()
	if resp.RetryAfter != "" {
		hdr.Set("Retry-After", resp.RetryAfter)
		if secs, err := strconv.Atoi(resp.RetryAfter); err == nil && status == http.StatusTooManyRequests && secs > 0 {
			h.gate.announce(time.Now(), time.Duration(secs)*time.Second)
		}
	}
	if status >= 300 && status < 400 {
		loc := resp.Location
		if loc == "" {
			loc = r.URL.Path
		}
		hdr.Set("Location", loc)
	}
	body := resp.Body
	if body == "" {
		if status >= 200 && status < 300 {
			body = successBody
		} else {
			body = http.StatusText(status)
		}
	}
	h.answer(w, req, status, body)
}

// sleep waits d or until ctx ends; it reports whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
