package segment_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segloop/segloop/segment"
)

// TestClientStatusMatrix walks SEGMENT.md's table through the real client.
func TestClientStatusMatrix(t *testing.T) {
	// HTTP dates have whole seconds; fixedNow is .123 s past one.
	in30s := fixedNow.Add(30 * time.Second).Format(http.TimeFormat)
	type want struct {
		code    int
		verdict segment.Verdict
	}
	retry := segment.Verdict{Retry: true}
	tests := []struct {
		name  string
		reply reply
		want  want
	}{
		{"200", reply{code: 200, body: `{"success":true}`}, want{200, segment.Verdict{}}},
		{"204 no body", reply{code: 204}, want{204, segment.Verdict{}}},
		{"202 plain body", reply{code: 202, body: "not json"}, want{202, segment.Verdict{}}},
		{"429 seconds", reply{code: 429, header: map[string]string{"Retry-After": "3"}},
			want{429, segment.Verdict{Retry: true, Throttled: true, RetryAfter: 3 * time.Second}}},
		{"429 http-date", reply{code: 429, header: map[string]string{"Retry-After": in30s}},
			want{429, segment.Verdict{Retry: true, Throttled: true, RetryAfter: 30*time.Second - 123*time.Millisecond}}},
		{"429 over cap", reply{code: 429, header: map[string]string{"Retry-After": "3600"}},
			want{429, segment.Verdict{Retry: true, Throttled: true, RetryAfter: segment.MaxRetryAfter}}},
		{"429 garbage Retry-After", reply{code: 429, header: map[string]string{"Retry-After": "later"}},
			want{429, segment.Verdict{Retry: true, Throttled: true}}},
		{"429 without", reply{code: 429}, want{429, segment.Verdict{Retry: true, Throttled: true}}},
		{"408", reply{code: 408}, want{408, retry}},
		{"410", reply{code: 410}, want{410, retry}},
		{"460", reply{code: 460}, want{460, retry}},
		{"500", reply{code: 500, body: "Internal Server Error"}, want{500, retry}},
		{"502", reply{code: 502}, want{502, retry}},
		{"503 with Retry-After", reply{code: 503, header: map[string]string{"Retry-After": "5"}}, want{503, retry}},
		{"504", reply{code: 504}, want{504, retry}},
		{"501", reply{code: 501}, want{501, segment.Verdict{Endpoint: true}}},
		{"505", reply{code: 505}, want{505, segment.Verdict{Endpoint: true}}},
		{"511", reply{code: 511}, want{511, segment.Verdict{Endpoint: true}}},
		{"400", reply{code: 400, body: "Bad Request"}, want{400, segment.Verdict{}}},
		{"401", reply{code: 401}, want{401, segment.Verdict{Fatal: true}}},
		{"403", reply{code: 403}, want{403, segment.Verdict{Fatal: true}}},
		{"404", reply{code: 404}, want{404, segment.Verdict{Endpoint: true}}},
		{"413", reply{code: 413}, want{413, segment.Verdict{}}},
		{"422", reply{code: 422}, want{422, segment.Verdict{}}},
		{"301 not followed", reply{code: 301, header: map[string]string{"Location": "/moved"}}, want{301, segment.Verdict{Endpoint: true}}},
		{"307 not followed", reply{code: 307, header: map[string]string{"Location": "/moved"}}, want{307, segment.Verdict{Endpoint: true}}},
		{"connection reset", reply{reset: true}, want{0, retry}},
		{"timeout", reply{hang: true}, want{0, retry}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newScriptServer(t, tt.reply)
			c := newTestClient(t, srv.URL, func(cfg *segment.Config) {
				if tt.reply.hang {
					cfg.Timeout = 100 * time.Millisecond // only the hanging server needs to time out
				}
			})
			for _, call := range []string{"identify", "batch"} {
				ev := []byte(`{"type":"identify","userId":"u"}`)
				var code int
				var err error
				if call == "identify" {
					code, err = c.Identify(context.Background(), ev, 0)
				} else {
					code, err = c.Batch(context.Background(), [][]byte{ev}, 0)
				}
				if code != tt.want.code {
					t.Errorf("%s: status %d, want %d (err %v)", call, code, tt.want.code, err)
				}
				if got := segment.Classify(err); got != tt.want.verdict {
					t.Errorf("%s: Classify(%v) = %+v, want %+v", call, err, got, tt.want.verdict)
				}
				var se *segment.StatusError
				switch {
				case code >= 200 && code < 300:
					if err != nil {
						t.Errorf("%s: err = %v, want nil", call, err)
					}
				case code == 0:
					var re *segment.RequestError
					if !errors.As(err, &re) {
						t.Errorf("%s: err = %T %v, want *RequestError", call, err, err)
					}
				case !errors.As(err, &se) || se.Code != code || se.Body != tt.reply.body:
					t.Errorf("%s: err = %#v, want *StatusError{Code: %d, Body: %q}", call, err, code, tt.reply.body)
				}
			}
			if n := srv.count(); n != 2 {
				t.Errorf("server saw %d requests, want 2 (redirects must not be followed)", n)
			}
		})
	}
}

func TestClientCanceled(t *testing.T) {
	srv := newScriptServer(t, reply{hang: true})
	c := newTestClient(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		code, err := c.Identify(ctx, []byte(`{"userId":"u"}`), 0)
		if code != 0 || !errors.Is(err, context.Canceled) || segment.Classify(err).Retry {
			t.Errorf("Identify = %d, %v; want 0, context.Canceled, not retryable", code, err)
		}
	}()
	<-srv.hanging // the request is in flight
	cancel()
	<-done
}

// TestClientConnectionReuse checks that bodies are drained so that one
// keep-alive connection serves every sequential request, whatever the answer.
func TestClientConnectionReuse(t *testing.T) {
	big := strings.Repeat("e", 20000)
	var script []reply
	for i := range 30 {
		switch i % 5 {
		case 0:
			script = append(script, reply{code: 200, body: big})
		case 1:
			script = append(script, reply{code: 400, body: big})
		case 2:
			script = append(script, reply{code: 429, header: map[string]string{"Retry-After": "1"}, body: "slow down"})
		case 3:
			script = append(script, reply{code: 503})
		default:
			script = append(script, reply{code: 302, header: map[string]string{"Location": "/x"}, body: big})
		}
	}
	srv := newScriptServer(t, script...)
	c := newTestClient(t, srv.URL)
	for range script {
		code, err := c.Batch(context.Background(), [][]byte{[]byte(`{"type":"identify","userId":"u"}`)}, 0)
		if code == 0 {
			t.Fatalf("request failed: %v", err)
		}
		var se *segment.StatusError
		if errors.As(err, &se) && len(se.Body) > segment.MaxErrorBody {
			t.Errorf("StatusError.Body is %d bytes, want at most %d", len(se.Body), segment.MaxErrorBody)
		}
	}
	if n := srv.newConns.Load(); n != 1 {
		t.Errorf("%d connections opened for %d sequential requests, want 1", n, len(script))
	}
}
