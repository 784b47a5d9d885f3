package serve_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/runstore"
	"github.com/segloop/segloop/segment/segmenttest"
	"github.com/segloop/segloop/serve"
)

func items(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"id": fmt.Sprintf("u%d", i)}
	}
	return out
}

// TestShutdownLeavesUnsentItemsPending stops the server mid-run (a graceful
// shutdown, as on SIGTERM): the items sent have their results, the others
// have none (never "failed" by the shutdown), and the next start finishes
// the run under the same messageIds.
func TestShutdownLeavesUnsentItemsPending(t *testing.T) {
	cfg := serve.Config{Token: testToken, Batch: 1, Limit: ratelimit.Config{Rate: 200, Burst: 1}}
	e := start(t, segmenttest.Options{}, cfg)
	// 2 s at the rate: the shutdown after the 20th result comes long before
	// the run could end, however slowly the test polls on a loaded machine.
	const n = 400
	var created struct{ ID string }
	e.json("POST", "/v1/runs", map[string]any{"items": items(n)}, 202, &created, "X-Segment-Write-Key", "wk-own-shutdown-1")
	for len(e.results(created.ID, "")) < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	e.stop()
	run, err := e.st.Get(context.Background(), created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != runstore.Running || run.Counts.Done() >= n || run.Counts.Failed != 0 {
		t.Fatalf("after shutdown: %+v; want running, part done, none failed", run)
	}
	if key, ok, _ := e.st.WriteKey(context.Background(), created.ID); !ok || key != "wk-own-shutdown-1" {
		t.Fatal("the unfinished run's write key is not kept for the resume")
	}
	e.serve(cfg)
	r := e.waitRun(created.ID)
	if r.Status != "succeeded" || r.Counts.OK != n {
		t.Fatalf("resumed run %+v", r)
	}
	res := e.results(created.ID, "")
	seen := map[string]bool{}
	for i, l := range res {
		if l.Index != int64(i) || seen[l.MessageID] {
			t.Fatalf("result %d: index %d, messageId %s seen before", i, l.Index, l.MessageID)
		}
		seen[l.MessageID] = true
	}
	delivered := e.seg.Delivered()
	if len(res) != n || len(delivered) != n {
		t.Fatalf("%d results, %d messageIds delivered; want %d each", len(res), len(delivered), n)
	}
	for id := range delivered {
		if !seen[id] {
			t.Fatalf("delivered messageId %s is no item's", id)
		}
	}
	if _, ok, _ := e.st.WriteKey(context.Background(), created.ID); ok {
		t.Fatal("the write key outlived the run")
	}
}

// TestWaitDuringShutdown: a caller waiting on ?wait=true is answered 503
// when the server stops, and the run is kept.
func TestWaitDuringShutdown(t *testing.T) {
	cfg := serve.Config{Token: testToken, WriteKey: testWriteKey, Batch: 1, Limit: ratelimit.Config{Rate: 50, Burst: 1}}
	e := start(t, segmenttest.Options{}, cfg)
	answered := make(chan int, 1)
	go func() {
		code, _, _ := e.do("POST", "/v1/runs?wait=true", "application/json", strings.NewReader(`{"items":`+mustJSON(items(200))+`}`))
		answered <- code
	}()
	for {
		var list struct{ Runs []runView }
		e.json("GET", "/v1/runs", nil, 200, &list)
		if len(list.Runs) == 1 && list.Runs[0].Counts.OK > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.stop()
	if code := <-answered; code != 503 {
		t.Fatalf("waiting caller got %d; want 503", code)
	}
}

// TestSecretsNeverShown sends with a run's own write key and the server's,
// and looks for the keys and the token in every answer, the logs, the
// metrics and the page.
func TestSecretsNeverShown(t *testing.T) {
	const ownKey = "wk-own-c0ffee1234567890"
	cfg := serve.Config{Token: testToken, WriteKey: testWriteKey, Batch: 2}
	e := start(t, segmenttest.Options{WriteKeys: []string{testWriteKey, ownKey}}, cfg)
	var first struct{ Run runView }
	e.json("POST", "/v1/runs?wait=true", map[string]any{"items": items(5)}, 200, &first, "X-Segment-Write-Key", ownKey)
	e.json("POST", "/v1/runs?wait=true", map[string]any{"items": items(3)}, 200, nil)
	e.json("POST", "/v1/identify", map[string]any{"userId": "u1"}, 200, nil, "X-Segment-Write-Key", ownKey)
	// A refused key: the error message must not echo it.
	var refused struct{ Run runView }
	e.json("POST", "/v1/runs?wait=true", map[string]any{"items": items(2)}, 200, &refused, "X-Segment-Write-Key", "wk-refused-555555555")
	if refused.Run.Status != "failed" || refused.Run.Error == nil {
		t.Fatalf("run with a refused key: %+v", refused.Run)
	}
	e.json("POST", "/v1/identify", map[string]any{"userId": "u1"}, 502, nil, "X-Segment-Write-Key", "wk-refused-555555555")
	e.results(first.Run.ID, "")
	e.do("GET", "/v1/runs", "", nil)
	e.do("GET", "/v1/runs/"+first.Run.ID, "", nil)
	e.do("GET", "/", "", nil)
	e.do("GET", "/static/app.js", "", nil)
	e.do("GET", "/metrics", "", nil)
	e.do("GET", "/healthz", "", nil)
	e.stop()
	everything := strings.Join(e.answers, "\n") + e.logs.String()
	for _, secret := range []string{ownKey, testWriteKey, testToken, "wk-refused-555555555"} {
		if strings.Contains(everything, secret) {
			t.Errorf("a secret (%.6s…) appears in an answer, a log line, the metrics or the page", secret)
		}
	}
	if !strings.Contains(everything, "segloop_items_total") || !strings.Contains(everything, "app.js") {
		t.Fatal("the metrics or the page were not fetched")
	}
}

// TestMetrics checks the metric names the contract gives.
func TestMetrics(t *testing.T) {
	e := start(t, segmenttest.Options{}, serve.Config{Token: testToken, WriteKey: testWriteKey, Batch: 1, Limit: ratelimit.Config{Rate: 1000}})
	e.seg.Script(segmenttest.Response{Status: 429, RetryAfter: "1"}, segmenttest.Response{Status: 503})
	e.json("POST", "/v1/runs?wait=true", map[string]any{"items": items(3)}, 200, nil)
	_, b, _ := e.do("GET", "/metrics", "", nil, "Authorization", "")
	text := string(b)
	for _, want := range []string{
		`segloop_items_total{status="ok"} 3`,
		`segloop_segment_requests_total{code="200"} 3`,
		`segloop_segment_requests_total{code="429"} `,
		`segloop_segment_requests_total{code="503"} 1`,
		`segloop_throttled_total `,
		`segloop_retries_total `,
		`segloop_retry_after_pause_seconds_total`,
		`segloop_limiter_rate{destination="`,
		`segloop_runs{status="succeeded"} 1`,
		`segloop_http_requests_total{code="200"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s in\n%s", want, text)
		}
	}
}
