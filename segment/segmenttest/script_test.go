package segmenttest_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/segloop/segloop/segment/segmenttest"
)

func TestScript(t *testing.T) {
	h := newHandler(segmenttest.Options{WriteKeys: []string{"k"}, Rate: 1000})
	h.Script(
		segmenttest.Response{Status: 503, RetryAfter: "3"},
		segmenttest.Response{},
		segmenttest.Response{Status: 400, Body: "nope"},
		segmenttest.Response{Status: 301},
		segmenttest.Response{Status: 307, Location: "/elsewhere"},
	)
	h.Script(segmenttest.Response{Status: 418})
	steps := []struct {
		c          call
		wantStatus int
		wantBody   string
		wantHeader map[string]string
	}{
		// Scripted answers skip routing, auth and body checks.
		{call{path: "/v1/identify", body: `{bad`, key: "k"}, 503, "Service Unavailable", map[string]string{"Retry-After": "3"}},
		{call{path: "/nowhere", body: ident("1")}, 200, `{"success":true}`, nil},
		{call{path: "/v1/batch", body: batchN("s", 2), key: "k"}, 400, "nope", nil},
		{call{path: "/v1/batch", body: batchN("s", 2), key: "k"}, 301, "Moved Permanently", map[string]string{"Location": "/v1/batch"}},
		{call{path: "/v1/batch", body: batchN("s", 2), key: "k"}, 307, "Temporary Redirect", map[string]string{"Location": "/elsewhere"}},
		{call{path: "/v1/identify", body: ident("1"), key: "k"}, 418, "I'm a teapot", nil},
		// The script is used up: the rules apply again.
		{call{path: "/v1/identify", body: `{bad`, key: "k"}, 400, "Bad Request", nil},
		{call{path: "/v1/identify", body: ident("1"), key: "k"}, 200, `{"success":true}`, nil},
	}
	for i, s := range steps {
		w := do(t, h, s.c)
		if w.Code != s.wantStatus || w.Body.String() != s.wantBody {
			t.Errorf("step %d: got %d %q, want %d %q", i, w.Code, w.Body.String(), s.wantStatus, s.wantBody)
		}
		for k, v := range s.wantHeader {
			if got := w.Header().Get(k); got != v {
				t.Errorf("step %d: %s: got %q, want %q", i, k, got, v)
			}
		}
	}
	st := h.Stats()
	want := segmenttest.Stats{Requests: 8, Accepted: 2, Failed: 1, BadRequests: 3, Scripted: 6, Events: 1, Unique: 1}
	if st != want {
		t.Errorf("stats:\n got %+v\nwant %+v", st, want)
	}
	reqs := h.Requests()
	if !reqs[0].Scripted || !reqs[0].Authorized || reqs[1].Authorized || reqs[6].Scripted {
		t.Errorf("request log: got %+v", reqs)
	}
}

func TestScriptDelayAndReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHandler(segmenttest.Options{Latency: time.Second})
		h.Script(segmenttest.Response{Delay: 5 * time.Second, Status: 504}, segmenttest.Response{Reset: true})
		start := time.Now()
		wantStatus(t, do(t, h, call{path: "/v1/identify", body: ident("1"), key: "k"}), 504)
		if got := time.Since(start); got != 6*time.Second {
			t.Errorf("latency + delay: got %v, want 6s", got)
		}
		if w := doHijackable(t, h, call{path: "/v1/identify", body: ident("1"), key: "k"}); !w.hijacked {
			t.Errorf("scripted reset: got status %d, want a reset", w.Code)
		}
		if st := h.Stats(); st.Resets != 1 || st.Failed != 1 || st.Scripted != 2 {
			t.Errorf("stats: got %+v", st)
		}
	})
}

func TestScriptedThrottleOpensWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHandler(segmenttest.Options{})
		h.Script(segmenttest.Response{Status: 429, RetryAfter: "2"})
		wantStatus(t, do(t, h, call{path: "/v1/identify", body: ident("1"), key: "k"}), 429)
		time.Sleep(time.Second)
		w := do(t, h, call{path: "/v1/identify", body: ident("1"), key: "k"})
		wantStatus(t, w, 429)
		if got := w.Header().Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After: got %q, want 1", got)
		}
		time.Sleep(time.Second)
		wantStatus(t, do(t, h, call{path: "/v1/identify", body: ident("1"), key: "k"}), 200)
		if st := h.Stats(); st.EarlyRequests != 1 || st.Throttled != 2 {
			t.Errorf("stats: got %+v", st)
		}
	})
}
