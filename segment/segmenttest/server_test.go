package segmenttest_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"

	"github.com/segloop/segloop/segment/segmenttest"
)

// TestAnalyticsGoClient proves the server speaks Segment's dialect: the
// official analytics-go v3.3.0 client delivers 1,000 identifies exactly once.
func TestAnalyticsGoClient(t *testing.T) {
	srv := segmenttest.NewServer(segmenttest.Options{WriteKeys: []string{"wk"}})
	defer srv.Close()
	client, err := analytics.NewWithConfig("wk", analytics.Config{
		Endpoint:  srv.URL,
		BatchSize: 100,
		Interval:  time.Hour, // flush by batch size and on Close only
		Logger:    testLogger{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		err := client.Enqueue(analytics.Identify{
			UserId: fmt.Sprintf("user-%d", i),
			Traits: analytics.NewTraits().SetEmail(fmt.Sprintf("u%d@example.com", i)).SetName("User"),
		})
		if err != nil {
			t.Fatalf("Enqueue %d: %v", i, err)
		}
	}
	if err := client.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	st := srv.Stats()
	if st.Unique != 1000 || st.Duplicates != 0 || st.Events != 1000 {
		t.Errorf("stats: got %+v, want 1000 unique events, 0 duplicates", st)
	}
	if len(srv.Delivered()) != 1000 {
		t.Errorf("Delivered: got %d messageIds, want 1000", len(srv.Delivered()))
	}
	if st.BadRequests != 0 || st.Unauthorized != 0 {
		t.Errorf("rejections: got %+v", st)
	}
	for _, r := range srv.Requests() {
		if r.Path != "/v1/batch" || !strings.HasPrefix(r.UserAgent, "analytics-go") {
			t.Errorf("request: got %+v", r)
		}
	}
}

// testLogger sends analytics-go's log lines to the test log; its errors fail
// the test (the client's goroutines log only before Close returns).
type testLogger struct{ t *testing.T }

func (l testLogger) Logf(format string, args ...any)   { l.t.Logf(format, args...) }
func (l testLogger) Errorf(format string, args ...any) { l.t.Errorf(format, args...) }

// TestServerReset checks that an injected reset reaches a real client as a
// connection error, not an answer.
func TestServerReset(t *testing.T) {
	srv := segmenttest.NewServer(segmenttest.Options{ResetRate: 1})
	defer srv.Close()
	req, err := http.NewRequest("POST", srv.URL+"/v1/identify", strings.NewReader(ident("1")))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("k", "")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d, want a connection error", resp.StatusCode)
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Logf("error (acceptable as a reset): %v", err)
	}
	if st := srv.Stats(); st.Resets != 1 || st.Accepted != 0 {
		t.Errorf("stats: got %+v", st)
	}
}

// TestServerLatencyAndClose checks that Close ends a request waiting out its
// latency instead of blocking for it.
func TestServerLatencyAndClose(t *testing.T) {
	srv := segmenttest.NewServer(segmenttest.Options{Latency: time.Hour})
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/identify", bytes.NewReader([]byte(ident("1"))))
		req.SetBasicAuth("k", "")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("got status %d", resp.StatusCode)
		}
		errc <- err
	}()
	for srv.Stats().Requests == 0 {
		time.Sleep(time.Millisecond) // polls a condition; no timing assumption
	}
	srv.Close()
	if err := <-errc; err == nil {
		t.Error("want the client to see a closed connection")
	}
	if st := srv.Stats(); st.Accepted != 0 {
		t.Errorf("stats: got %+v", st)
	}
}

// TestEarlyRequestsShowIgnoredRetryAfter shows analytics-go v3.3.0 ignoring
// Retry-After: its retries land inside the announced window and count as early.
func TestEarlyRequestsShowIgnoredRetryAfter(t *testing.T) {
	srv := segmenttest.NewServer(segmenttest.Options{Rate: 0.01, Burst: 1}) // one request per 100 s
	defer srv.Close()
	client, err := analytics.NewWithConfig("wk", analytics.Config{
		Endpoint:   srv.URL,
		BatchSize:  1,
		Interval:   time.Hour,
		RetryAfter: func(int) time.Duration { return 100 * time.Millisecond }, // > Grace
		Logger:     analytics.StdLogger(log.New(io.Discard, "", 0)),
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := client.Enqueue(analytics.Identify{UserId: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// analytics-go's Close drops a batch waiting to retry: let three
	// attempts of the refused batch arrive first.
	for deadline := time.Now().Add(20 * time.Second); srv.Stats().Throttled < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("retries never came: %+v", srv.Stats())
		}
		time.Sleep(5 * time.Millisecond) // polls a condition
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	srv.Close() // every handler has returned: the counters are final
	st := srv.Stats()
	// One batch got the token; the other was refused and retried inside the
	// 100 s window (analytics-go makes 10 attempts, then drops it).
	if st.Accepted != 1 || st.Throttled < 2 || st.EarlyRequests != st.Throttled-1 {
		t.Errorf("stats: got %+v, want 1 accepted and every throttled retry early", st)
	}
}
