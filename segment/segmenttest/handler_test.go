package segmenttest_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/segloop/segloop/segment/segmenttest"
)

func TestAuth(t *testing.T) {
	keys := segmenttest.Options{WriteKeys: []string{"good"}}
	tests := []struct {
		name string
		opts segmenttest.Options
		c    call
		want int
	}{
		{"basic accepted", keys, call{path: "/v1/identify", body: ident("1"), key: "good"}, 200},
		{"basic wrong key", keys, call{path: "/v1/identify", body: ident("1"), key: "bad"}, 401},
		{"basic with password", keys, call{path: "/v1/identify", body: ident("1"), key: "good", pass: "x"}, 401},
		{"body writeKey identify", keys, call{path: "/v1/identify", body: `{"writeKey":"good","userId":"u"}`}, 200},
		{"body writeKey batch", keys, call{path: "/v1/batch", body: `{"writeKey":"good","batch":[` + ident("1") + `]}`}, 200},
		{"body writeKey wrong", keys, call{path: "/v1/batch", body: `{"writeKey":"bad","batch":[` + ident("1") + `]}`}, 401},
		{"missing", keys, call{path: "/v1/identify", body: ident("1")}, 401},
		{"missing, bad JSON", keys, call{path: "/v1/identify", body: `{`}, 401},
		{"any key accepted", segmenttest.Options{}, call{path: "/v1/identify", body: ident("1"), key: "whatever"}, 200},
		{"any key, empty body key", segmenttest.Options{}, call{path: "/v1/identify", body: `{"writeKey":"","userId":"u"}`}, 401},
		{"basic wins over body", keys, call{path: "/v1/identify", body: `{"writeKey":"good","userId":"u"}`, key: "bad"}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(tt.opts)
			wantStatus(t, do(t, h, tt.c), tt.want)
			st := h.Stats()
			if tt.want == 401 && st.Unauthorized != 1 {
				t.Errorf("Unauthorized: got %d, want 1", st.Unauthorized)
			}
			if got := h.Requests()[0].Authorized; got != (tt.want == 200) {
				t.Errorf("Request.Authorized: got %v, want %v", got, tt.want == 200)
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	big := strings.Repeat("x", segmenttest.MaxEventBytes)
	// An event of exactly MaxEventBytes bytes is accepted.
	exact := `{"userId":"u","p":"` + strings.Repeat("y", segmenttest.MaxEventBytes-len(`{"userId":"u","p":""}`)) + `"}`
	tests := []struct {
		name, path, body string
		want             int
	}{
		{"identify bad JSON", "/v1/identify", `{"userId":`, 400},
		{"identify not an object", "/v1/identify", `["u"]`, 400},
		{"identify no ids", "/v1/identify", `{"type":"identify","traits":{}}`, 400},
		{"identify empty ids", "/v1/identify", `{"userId":"","anonymousId":null}`, 400},
		{"identify wrong type", "/v1/identify", `{"type":"track","userId":"u"}`, 400},
		{"identify no type is fine", "/v1/identify", `{"userId":"u"}`, 200},
		{"identify anonymousId only", "/v1/identify", `{"anonymousId":"a"}`, 200},
		{"identify numeric userId", "/v1/identify", `{"userId":42}`, 200},
		{"identify event over 32 KB", "/v1/identify", `{"userId":"u","p":"` + big + `"}`, 400},
		{"identify event of exactly 32 KB", "/v1/identify", exact, 200},
		{"batch bad JSON", "/v1/batch", `{"batch":[`, 400},
		{"batch missing", "/v1/batch", `{"events":[]}`, 400},
		{"batch not an array", "/v1/batch", `{"batch":{}}`, 400},
		{"batch item without type", "/v1/batch", batchOf(ident("1"), `{"userId":"u"}`), 400},
		{"batch item not an object", "/v1/batch", batchOf(ident("1"), `"x"`), 400},
		{"batch item no ids", "/v1/batch", batchOf(`{"type":"identify"}`), 400},
		{"batch item over 32 KB", "/v1/batch", batchOf(`{"type":"identify","userId":"u","p":"` + big + `"}`), 400},
		{"batch body over 500 KB", "/v1/batch", batchN("m", 8000), 400},
		{"batch empty", "/v1/batch", `{"batch":[]}`, 200},
		{"import alias", "/v1/import", batchOf(ident("1")), 200},
		{"empty body", "/v1/identify", ``, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(segmenttest.Options{})
			w := do(t, h, call{path: tt.path, body: tt.body, key: "k"})
			wantStatus(t, w, tt.want)
			st := h.Stats()
			if tt.want == 400 {
				if got := w.Body.String(); got != "Bad Request" {
					t.Errorf("body: got %q, want %q", got, "Bad Request")
				}
				if st.BadRequests != 1 || st.Events != 0 {
					t.Errorf("stats: got %+v, want 1 bad request and no events", st)
				}
				if h.Requests()[0].Error == "" {
					t.Error("Request.Error is empty for a 400")
				}
			}
		})
	}
}

func TestBodySizeLimit(t *testing.T) {
	// A body of exactly MaxBodyBytes is accepted, one byte more is not.
	prefix, suffix := `{"batch":[`, `]}`
	ev := func(pad int) string {
		return `{"type":"identify","userId":"u","p":"` + strings.Repeat("z", pad) + `"}`
	}
	base := len(ev(0))
	body := prefix
	for len(body)+len(suffix) < segmenttest.MaxBodyBytes {
		room := segmenttest.MaxBodyBytes - len(body) - len(suffix) - 1 // a comma
		if room >= base+20_000 {
			if body != prefix {
				body += ","
			}
			body += ev(20_000)
			continue
		}
		if body != prefix {
			body += ","
		}
		body += ev(room - base)
	}
	body += suffix
	if len(body) != segmenttest.MaxBodyBytes {
		t.Fatalf("test body is %d bytes, want %d", len(body), segmenttest.MaxBodyBytes)
	}
	h := newHandler(segmenttest.Options{})
	wantStatus(t, do(t, h, call{path: "/v1/batch", body: body, key: "k"}), 200)
	over := body[:len(body)-2] + ` ]}`
	wantStatus(t, do(t, h, call{path: "/v1/batch", body: over, key: "k"}), 400)
}

func TestRoutes(t *testing.T) {
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"unknown path", "POST", "/v1/track", 404},
		{"root", "POST", "/", 404},
		{"GET identify", "GET", "/v1/identify", 405},
		{"PUT batch", "PUT", "/v1/batch", 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(segmenttest.Options{})
			w := do(t, h, call{method: tt.method, path: tt.path, body: ident("1"), key: "k"})
			wantStatus(t, w, tt.want)
			if tt.want == 405 && w.Header().Get("Allow") != "POST" {
				t.Errorf("Allow: got %q, want POST", w.Header().Get("Allow"))
			}
			if st := h.Stats(); st.BadRequests != 1 || st.Requests != 1 {
				t.Errorf("stats: got %+v", st)
			}
		})
	}
}

func TestAcceptedAndDuplicates(t *testing.T) {
	h := newHandler(segmenttest.Options{KeepEvents: true})
	w := do(t, h, call{path: "/v1/batch", body: batchOf(ident("a"), ident("b"), ident("a")), key: "k"})
	wantStatus(t, w, 200)
	if got := w.Body.String(); got != `{"success":true}` {
		t.Errorf("body: got %q", got)
	}
	wantStatus(t, do(t, h, call{path: "/v1/identify", body: ident("b"), key: "k"}), 200)
	wantStatus(t, do(t, h, call{path: "/v1/identify", body: ident("c"), key: "k", gzip: true}), 200)
	wantStatus(t, do(t, h, call{path: "/v1/identify", body: `{"userId":"nomsg"}`, key: "k"}), 200)

	st := h.Stats()
	want := segmenttest.Stats{Requests: 4, Accepted: 4, Events: 6, Unique: 4, Duplicates: 2}
	if st != want {
		t.Errorf("stats:\n got %+v\nwant %+v", st, want)
	}
	d := h.Delivered()
	if d["a"] != 2 || d["b"] != 2 || d["c"] != 1 || len(d) != 3 {
		t.Errorf("Delivered: got %v", d)
	}
	evs := h.Events()
	if len(evs) != 6 {
		t.Fatalf("Events: got %d, want 6", len(evs))
	}
	if e := evs[0]; e.MessageID != "a" || e.UserID != "u-a" || e.Traits["email"] != "a@b.c" || string(e.Raw) != ident("a") {
		t.Errorf("Events[0]: got %+v", e)
	}
	if e := evs[4]; e.MessageID != "c" {
		t.Errorf("Events[4] (gzip): got %+v", e)
	}
}

func TestGzip(t *testing.T) {
	tests := []struct {
		name   string
		c      call
		want   int
		events int64
	}{
		{"gzip batch", call{path: "/v1/batch", body: batchN("g", 50), gzip: true}, 200, 50},
		{"gzip identify", call{path: "/v1/identify", body: ident("1"), gzip: true}, 200, 1},
		{"claims gzip, is not", call{path: "/v1/identify", body: ident("1"), header: map[string]string{"Content-Encoding": "gzip"}}, 400, 0},
		{"unknown encoding", call{path: "/v1/identify", body: ident("1"), header: map[string]string{"Content-Encoding": "br"}}, 400, 0},
		{"gzip body over 500 KB decoded", call{path: "/v1/batch", body: batchN("big", 8000), gzip: true}, 400, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(segmenttest.Options{})
			tt.c.key = "k"
			wantStatus(t, do(t, h, tt.c), tt.want)
			if got := h.Stats().Events; got != tt.events {
				t.Errorf("Events: got %d, want %d", got, tt.events)
			}
		})
	}
}

func TestBatchOverLimitDropsExcess(t *testing.T) {
	h := newHandler(segmenttest.Options{})
	evs := make([]string, segmenttest.MaxBatchEvents+10)
	for i := range evs {
		evs[i] = fmt.Sprintf(`{"type":"identify","messageId":"%d","userId":"u"}`, i)
	}
	wantStatus(t, do(t, h, call{path: "/v1/batch", body: batchOf(evs...), key: "k"}), 200)
	st := h.Stats()
	if st.Events != segmenttest.MaxBatchEvents || st.Dropped != 10 {
		t.Errorf("Events %d Dropped %d, want %d and 10", st.Events, st.Dropped, segmenttest.MaxBatchEvents)
	}
	if _, ok := h.Delivered()[fmt.Sprint(segmenttest.MaxBatchEvents)]; ok {
		t.Error("an event past the limit was delivered")
	}
}

func TestRequestLog(t *testing.T) {
	h := newHandler(segmenttest.Options{})
	do(t, h, call{path: "/v1/batch", body: batchN("r", 3), key: "k",
		header: map[string]string{"X-Retry-Count": "2", "User-Agent": "segloop/test"}})
	do(t, h, call{path: "/v1/identify", body: ident("1"), key: "k"})
	reqs := h.Requests()
	if len(reqs) != 2 {
		t.Fatalf("Requests: got %d, want 2", len(reqs))
	}
	r0 := reqs[0]
	if r0.Path != "/v1/batch" || r0.Status != 200 || r0.RetryCount != 2 || r0.UserAgent != "segloop/test" || r0.Events != 3 || !r0.Authorized || r0.Time.IsZero() {
		t.Errorf("Requests[0]: got %+v", r0)
	}
	if reqs[1].RetryCount != -1 {
		t.Errorf("RetryCount without header: got %d, want -1", reqs[1].RetryCount)
	}
}

// TestConcurrent hammers one Handler from many goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	h := newHandler(segmenttest.Options{KeepEvents: true})
	const workers, per = 8, 20
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range per {
				r := httptest.NewRequest("POST", "/v1/batch", strings.NewReader(batchN(fmt.Sprintf("w%d-%d-", w, i), 10)))
				r.SetBasicAuth("k", "")
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
		}()
	}
	for range workers {
		<-done
	}
	st := h.Stats()
	if st.Accepted != workers*per || st.Unique != workers*per*10 || st.Duplicates != 0 {
		t.Errorf("stats: got %+v", st)
	}
	if n := len(h.Events()); n != workers*per*10 {
		t.Errorf("Events: got %d", n)
	}
	if n := len(h.Requests()); n != workers*per {
		t.Errorf("Requests: got %d", n)
	}
}
