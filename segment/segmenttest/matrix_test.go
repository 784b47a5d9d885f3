package segmenttest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/segment/segmenttest"
)

// TestStatusMatrix walks the status matrix of shared/SEGMENT.md through the
// real segment.Client against the server in scripted mode, on both routes,
// and asserts each classification.
func TestStatusMatrix(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	retry := segment.Verdict{Retry: true}
	permanent := segment.Verdict{}
	endpoint := segment.Verdict{Endpoint: true} // permanent, and about the endpoint
	throttled := func(d time.Duration) segment.Verdict {
		return segment.Verdict{Retry: true, Throttled: true, RetryAfter: d}
	}
	// Only the case that must time out gets a short timeout: on a loaded
	// machine a slow answer must not become a timeout.
	const timeout, answered = 200 * time.Millisecond, 30 * time.Second
	tests := []struct {
		name     string
		resp     segmenttest.Response
		want     segment.Verdict
		noAnswer bool // no HTTP answer: a *segment.RequestError, status 0
	}{
		{"200", segmenttest.Response{Status: 200}, permanent, false},
		{"202", segmenttest.Response{Status: 202, Body: "accepted"}, permanent, false},
		{"429 Retry-After seconds", segmenttest.Response{Status: 429, RetryAfter: "7"}, throttled(7 * time.Second), false},
		{"429 Retry-After HTTP-date", segmenttest.Response{Status: 429, RetryAfter: date(30 * time.Second)}, throttled(30 * time.Second), false},
		{"429 Retry-After over the cap", segmenttest.Response{Status: 429, RetryAfter: "3600"}, throttled(300 * time.Second), false},
		{"429 Retry-After date over the cap", segmenttest.Response{Status: 429, RetryAfter: date(time.Hour)}, throttled(300 * time.Second), false},
		{"429 Retry-After garbage", segmenttest.Response{Status: 429, RetryAfter: "soon"}, throttled(0), false},
		{"429 without Retry-After", segmenttest.Response{Status: 429}, throttled(0), false},
		{"408", segmenttest.Response{Status: 408}, retry, false},
		{"410", segmenttest.Response{Status: 410}, retry, false},
		{"460", segmenttest.Response{Status: 460}, retry, false},
		{"500", segmenttest.Response{Status: 500}, retry, false},
		{"502", segmenttest.Response{Status: 502}, retry, false},
		{"503", segmenttest.Response{Status: 503, RetryAfter: "5"}, retry, false},
		{"504", segmenttest.Response{Status: 504}, retry, false},
		{"501", segmenttest.Response{Status: 501}, endpoint, false},
		{"505", segmenttest.Response{Status: 505}, endpoint, false},
		{"511", segmenttest.Response{Status: 511}, endpoint, false},
		{"400", segmenttest.Response{Status: 400, Body: "Bad Request"}, permanent, false},
		{"401", segmenttest.Response{Status: 401}, segment.Verdict{Fatal: true}, false},
		{"403", segmenttest.Response{Status: 403}, segment.Verdict{Fatal: true}, false},
		{"404", segmenttest.Response{Status: 404}, endpoint, false},
		{"413", segmenttest.Response{Status: 413}, permanent, false},
		{"422", segmenttest.Response{Status: 422}, permanent, false},
		{"301 to itself", segmenttest.Response{Status: 301}, endpoint, false},
		{"302 to itself", segmenttest.Response{Status: 302}, endpoint, false},
		{"307 to itself (a follower would get 200)", segmenttest.Response{Status: 307}, endpoint, false},
		{"308 elsewhere", segmenttest.Response{Status: 308, Location: "/v1/import"}, endpoint, false},
		{"connection reset", segmenttest.Response{Reset: true}, retry, true},
		{"timeout", segmenttest.Response{Delay: 10 * time.Second}, retry, true},
	}
	event, err := (&segment.Identify{UserID: "u1", MessageID: "m1", Email: "a@example.com"}).AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	routes := []struct {
		name string
		send func(context.Context, *segment.Client) (int, error)
	}{
		{"identify", func(ctx context.Context, c *segment.Client) (int, error) { return c.Identify(ctx, event, 2) }},
		{"batch", func(ctx context.Context, c *segment.Client) (int, error) {
			return c.Batch(ctx, [][]byte{event, event}, 2)
		}},
	}
	for _, tt := range tests {
		for _, rt := range routes {
			t.Run(tt.name+"/"+rt.name, func(t *testing.T) {
				srv := segmenttest.NewServer(segmenttest.Options{WriteKeys: []string{"wk"}})
				defer srv.Close()
				perRequest := answered
				if tt.name == "timeout" {
					perRequest = timeout
				}
				client, err := segment.NewClient(segment.Config{
					WriteKey: "wk",
					Endpoint: srv.URL,
					Timeout:  perRequest,
					Now:      func() time.Time { return now },
				})
				if err != nil {
					t.Fatal(err)
				}
				srv.Script(tt.resp)
				status, err := rt.send(context.Background(), client)

				if got := segment.Classify(err); got != tt.want {
					t.Errorf("Classify(%v): got %+v, want %+v", err, got, tt.want)
				}
				var se *segment.StatusError
				var re *segment.RequestError
				wantCode := tt.resp.Status
				switch {
				case tt.noAnswer:
					if status != 0 || !errors.As(err, &re) {
						t.Errorf("got (%d, %v), want (0, *segment.RequestError)", status, err)
					}
				case wantCode >= 200 && wantCode < 300:
					if status != wantCode || err != nil {
						t.Errorf("got (%d, %v), want (%d, nil)", status, err, wantCode)
					}
				default:
					if status != wantCode || !errors.As(err, &se) || se.Code != wantCode {
						t.Errorf("got (%d, %v), want (%d, *segment.StatusError{Code: %d})", status, err, wantCode, wantCode)
					} else if se.RetryAfter != tt.want.RetryAfter && wantCode == 429 {
						t.Errorf("StatusError.RetryAfter: got %v, want %v", se.RetryAfter, tt.want.RetryAfter)
					}
					if wantCode == 429 && !errors.Is(err, segment.ErrRateLimited) {
						t.Errorf("errors.Is(%v, ErrRateLimited) is false", err)
					}
					if tt.want.Fatal && !errors.Is(err, segment.ErrUnauthorized) {
						t.Errorf("errors.Is(%v, ErrUnauthorized) is false", err)
					}
				}
				if tt.name == "timeout" && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("timeout: got %v, want context.DeadlineExceeded in the chain", err)
				}

				// The client made exactly one attempt (it followed no
				// redirect), authenticated, and sent X-Retry-Count.
				srv.Close() // waits for the handler, so the log is complete
				reqs := srv.Requests()
				if len(reqs) != 1 {
					t.Fatalf("server saw %d requests, want 1: %+v", len(reqs), reqs)
				}
				r := reqs[0]
				if !r.Scripted || !r.Authorized || r.RetryCount != 2 {
					t.Errorf("request: got %+v, want scripted, authorized, X-Retry-Count 2", r)
				}
				if st := srv.Stats(); st.Events != 0 {
					t.Errorf("a scripted answer delivered events: %+v", st)
				}
			})
		}
	}
}

// TestClientAgainstRules sends through the real client with no script: the
// server's own rules (auth, rate limit, dedupe) and the client agree.
func TestClientAgainstRules(t *testing.T) {
	srv := segmenttest.NewServer(segmenttest.Options{WriteKeys: []string{"wk"}, Rate: 0.01, Burst: 2}) // no refill during the test
	defer srv.Close()
	client, err := segment.NewClient(segment.Config{WriteKey: "wk", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := segment.NewClient(segment.Config{WriteKey: "nope", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := (&segment.Identify{UserID: "u1", MessageID: "m1"}).AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := bad.Identify(ctx, ev, 0); !segment.Classify(err).Fatal {
		t.Errorf("bad key: got %v, want a fatal verdict", err)
	}
	if status, err := client.Identify(ctx, ev, 0); status != 200 || err != nil {
		t.Errorf("first: got (%d, %v)", status, err)
	}
	if status, err := client.Batch(ctx, [][]byte{ev}, 1); status != 200 || err != nil {
		t.Errorf("second: got (%d, %v)", status, err)
	}
	_, err = client.Identify(ctx, ev, 0)
	if v := segment.Classify(err); !v.Throttled || v.RetryAfter < time.Second {
		t.Errorf("third: got %v (%+v), want throttled with Retry-After >= 1s", err, v)
	}
	st := srv.Stats()
	if st.Unique != 1 || st.Duplicates != 1 || st.Throttled != 1 || st.Unauthorized != 1 {
		t.Errorf("stats: got %+v", st)
	}
	if rc := srv.Requests()[2].RetryCount; rc != 1 {
		t.Errorf("X-Retry-Count: got %d, want 1", rc)
	}
}
