package segmenttest_test

import (
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
