package segment_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/segment/segmenttest"
)

// TestAcceptanceStatusMatrix walks the status matrix of SEGMENT.md through
// the real client against the Segment-compatible segmenttest server.
func TestAcceptanceStatusMatrix(t *testing.T) {
	srv := segmenttest.NewServer(segmenttest.Options{WriteKeys: []string{testKey}})
	defer srv.Close()
	c := newTestClient(t, srv.URL, func(cfg *segment.Config) { cfg.Timeout = 2 * time.Second })
	short := newTestClient(t, srv.URL, func(cfg *segment.Config) { cfg.Timeout = 100 * time.Millisecond })
	retry := segment.Verdict{Retry: true}
	permanent := segment.Verdict{}
	endpoint := segment.Verdict{Endpoint: true}
	tests := []struct {
		name   string
		resp   segmenttest.Response
		client *segment.Client
		code   int
		want   segment.Verdict
	}{
		{"200", segmenttest.Response{}, c, 200, permanent},
		{"202", segmenttest.Response{Status: 202}, c, 202, permanent},
		{"429 seconds", segmenttest.Response{Status: 429, RetryAfter: "2"}, c, 429,
			segment.Verdict{Retry: true, Throttled: true, RetryAfter: 2 * time.Second}},
		{"429 http-date", segmenttest.Response{Status: 429, RetryAfter: fixedNow.Add(61 * time.Second).Format(http.TimeFormat)}, c, 429,
			segment.Verdict{Retry: true, Throttled: true, RetryAfter: 61*time.Second - 123*time.Millisecond}},
		{"429 over cap", segmenttest.Response{Status: 429, RetryAfter: "86400"}, c, 429,
			segment.Verdict{Retry: true, Throttled: true, RetryAfter: segment.MaxRetryAfter}},
		{"429 without Retry-After", segmenttest.Response{Status: 429}, c, 429, segment.Verdict{Retry: true, Throttled: true}},
		{"408", segmenttest.Response{Status: 408}, c, 408, retry},
		{"410", segmenttest.Response{Status: 410}, c, 410, retry},
		{"460", segmenttest.Response{Status: 460}, c, 460, retry},
		{"500", segmenttest.Response{Status: 500}, c, 500, retry},
		{"502", segmenttest.Response{Status: 502}, c, 502, retry},
		{"503", segmenttest.Response{Status: 503}, c, 503, retry},
		{"504", segmenttest.Response{Status: 504}, c, 504, retry},
		{"501", segmenttest.Response{Status: 501}, c, 501, endpoint},
		{"505", segmenttest.Response{Status: 505}, c, 505, endpoint},
		{"511", segmenttest.Response{Status: 511}, c, 511, endpoint},
		{"400", segmenttest.Response{Status: 400}, c, 400, permanent},
		{"401", segmenttest.Response{Status: 401}, c, 401, segment.Verdict{Fatal: true}},
		{"403", segmenttest.Response{Status: 403}, c, 403, segment.Verdict{Fatal: true}},
		{"404", segmenttest.Response{Status: 404}, c, 404, endpoint},
		{"413", segmenttest.Response{Status: 413}, c, 413, permanent},
		{"301", segmenttest.Response{Status: 301}, c, 301, endpoint},
		{"302", segmenttest.Response{Status: 302, Location: "/v1/elsewhere"}, c, 302, endpoint},
		{"308", segmenttest.Response{Status: 308}, c, 308, endpoint},
		{"connection reset", segmenttest.Response{Reset: true}, c, 0, retry},
		{"timeout", segmenttest.Response{Delay: time.Minute}, short, 0, retry},
	}
	ev := []byte(`{"type":"identify","userId":"u1"}`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, call := range []string{"identify", "batch"} {
				before := srv.Stats().Requests
				srv.Script(tt.resp)
				var code int
				var err error
				if call == "identify" {
					code, err = tt.client.Identify(context.Background(), ev, 0)
				} else {
					code, err = tt.client.Batch(context.Background(), [][]byte{ev}, 0)
				}
				if code != tt.code {
					t.Errorf("%s: status %d, want %d (err %v)", call, code, tt.code, err)
				}
				got := segment.Classify(err)
				if tt.resp.Reset {
					got.Immediate = false // it depends on the connection's reuse: see TestClientStaleConnection
				}
				if got != tt.want {
					t.Errorf("%s: Classify(%v) = %+v, want %+v", call, err, got, tt.want)
				}
				if tt.code == 0 {
					var re *segment.RequestError
					if !errors.As(err, &re) {
						t.Errorf("%s: err %T, want *RequestError", call, err)
					}
				}
				if n := srv.Stats().Requests - before; n != 1 {
					t.Errorf("%s: server saw %d requests, want 1 (no redirects, no transport retries)", call, n)
				}
			}
		})
	}
}

// TestAcceptanceServerRules checks the unscripted answers: Segment's own
// limits and auth, as segmenttest enforces them, classify as they should.
func TestAcceptanceServerRules(t *testing.T) {
	srv := segmenttest.NewServer(segmenttest.Options{WriteKeys: []string{testKey}})
	defer srv.Close()
	good := newTestClient(t, srv.URL)
	wrongKey, err := segment.NewClient(segment.Config{WriteKey: "not-the-key", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	huge := []byte(`{"type":"identify","userId":"u","traits":{"x":"` + strings.Repeat("y", 40000) + `"}}`)
	ctx := context.Background()

	if _, err := wrongKey.Identify(ctx, []byte(`{"userId":"u"}`), 0); !errors.Is(err, segment.ErrUnauthorized) || !segment.Classify(err).Fatal {
		t.Errorf("wrong key: %v, want ErrUnauthorized and Fatal", err)
	}
	if _, err := good.Identify(ctx, huge, 0); segment.Classify(err) != (segment.Verdict{}) || err == nil {
		t.Errorf("oversize event: %v, want a permanent error", err)
	}
	if _, err := good.Identify(ctx, []byte(`{"email":"a@b.co"}`), 0); segment.Classify(err) != (segment.Verdict{}) || err == nil {
		t.Errorf("event without ids: %v, want a permanent error", err)
	}
}

// TestAcceptanceDelivery sends 3,000 events in packed batches and 50 one by
// one, and checks that segmenttest records each messageId exactly once.
func TestAcceptanceDelivery(t *testing.T) {
	srv := segmenttest.NewServer(segmenttest.Options{WriteKeys: []string{testKey}})
	defer srv.Close()
	c := newTestClient(t, srv.URL)
	ctx := context.Background()
	p := segment.NewPacker(0, 0)
	send := func() {
		if code, err := c.Batch(ctx, p.Take(), 0); code != 200 || err != nil {
			t.Fatalf("Batch = %d, %v", code, err)
		}
	}
	const batched, single = 3000, 50
	for i := range batched {
		uid := fmt.Sprint("user-", i)
		in := segment.Identify{UserID: uid, Email: uid + "@example.com", Traits: map[string]any{"i": i, "pad": strings.Repeat("p", 200)},
			MessageID: segment.MessageID("acceptance", int64(i), uid)}
		ev, err := in.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Add(ev) {
			send()
			p.Add(ev)
		}
		if p.Full() {
			send()
		}
	}
	if p.Len() > 0 {
		send()
	}
	for i := batched; i < batched+single; i++ {
		uid := fmt.Sprint("user-", i)
		ev, _ := (&segment.Identify{UserID: uid, MessageID: segment.MessageID("acceptance", int64(i), uid)}).AppendJSON(nil)
		if code, err := c.Identify(ctx, ev, 0); code != 200 || err != nil {
			t.Fatalf("Identify = %d, %v", code, err)
		}
	}
	st := srv.Stats()
	if st.Unique != batched+single || st.Duplicates != 0 || st.Dropped != 0 || st.BadRequests != 0 {
		t.Errorf("stats %+v, want %d unique events and nothing else", st, batched+single)
	}
	for id, n := range srv.Delivered() {
		if n != 1 || !strings.HasPrefix(id, segment.MessageIDPrefix) {
			t.Errorf("messageId %q delivered %d times", id, n)
		}
	}
}
