package segmenttest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/segloop/segloop/segment/segmenttest"
)

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

// FuzzBody feeds arbitrary bodies to both routes: the handler never panics,
// answers only 200 or 400, and a 400 delivers nothing.
func FuzzBody(f *testing.F) {
	for _, s := range []string{ident("1"), batchN("f", 3), `{"batch":[{"type":"identify"}]}`,
		`{"batch":[null]}`, `{"userId":""}`, `{"type":"identify","anonymousId":7}`, `[`, ``} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, body string, batch bool) {
		h := newHandler(segmenttest.Options{})
		path := "/v1/identify"
		if batch {
			path = "/v1/batch"
		}
		w := do(t, h, call{path: path, body: body, key: "k"})
		st := h.Stats()
		switch w.Code {
		case 200:
			if st.Accepted != 1 || st.Unique+st.Duplicates != st.Events {
				t.Errorf("200 with stats %+v", st)
			}
		case 400:
			if st.Events != 0 || len(h.Delivered()) != 0 {
				t.Errorf("400 delivered: %+v", st)
			}
		default:
			t.Errorf("status %d for %q", w.Code, body)
		}
	})
}
