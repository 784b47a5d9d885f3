package segmenttest_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/segloop/segloop/segment/segmenttest"
)

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

func TestLogLimit(t *testing.T) {
	for _, n := range []int{0, 1, 3, 5, 6, 7, 12, 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			h := newHandler(segmenttest.Options{LogLimit: 3})
			for i := range n {
				do(t, h, call{path: "/v1/identify", body: ident("1"), key: "k", header: map[string]string{"X-Retry-Count": fmt.Sprint(i)}})
			}
			reqs := h.Requests()
			if want := min(n, 3); len(reqs) != want {
				t.Fatalf("len: got %d, want %d", len(reqs), want)
			}
			for i, r := range reqs {
				if want := n - len(reqs) + i; r.RetryCount != want {
					t.Errorf("Requests[%d].RetryCount: got %d, want %d", i, r.RetryCount, want)
				}
			}
			if got := h.Stats().Requests; got != int64(n) {
				t.Errorf("Stats.Requests: got %d, want %d", got, n)
			}
		})
	}
}
