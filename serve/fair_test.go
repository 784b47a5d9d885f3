package serve_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/segment/segmenttest"
	"github.com/segloop/segloop/serve"
)

// TestTwoRunsShareOneKeyFairly runs a big and a small run on one write key
// through a limiter of 300 requests/s: together they stay within it (the
// server, limited alike, never answers 429), and while both run each gets
// at least half of its fair share (a half) of the requests. The big run's
// 51st request is held until the small run is created: however slow the
// machine, the small run arrives while the big one is well under way.
func TestTwoRunsShareOneKeyFairly(t *testing.T) {
	const rate, burst, head = 300, 3, 50
	seg := segmenttest.NewHandler(segmenttest.Options{Rate: rate, Burst: 2 * rate, KeepEvents: true})
	var arrived atomic.Int64
	held := make(chan struct{})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) > head {
			select {
			case <-held:
			case <-r.Context().Done():
				return
			}
		}
		seg.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { front.CloseClientConnections(); front.Close() })
	e := start(t, segmenttest.Options{}, serve.Config{Token: testToken, WriteKey: testWriteKey, Batch: 1,
		Limit: ratelimit.Config{Rate: rate, Burst: burst}, Endpoint: front.URL, EndpointName: "segmenttest"})
	release := sync.OnceFunc(func() { close(held) })
	t.Cleanup(release)
	var big, small struct{ ID string }
	e.json("POST", "/v1/runs", map[string]any{"items": items(600), "runKey": "big"}, 202, &big)
	for arrived.Load() <= head { // the big run is well under way, and held
		time.Sleep(time.Millisecond)
	}
	e.json("POST", "/v1/runs", map[string]any{"items": items(100), "runKey": "small"}, 202, &small)
	release()
	if r := e.waitRun(small.ID); r.Counts.OK != 100 {
		t.Fatalf("small run %+v", r)
	}
	if r := e.waitRun(big.ID); r.Counts.OK != 600 {
		t.Fatalf("big run %+v", r)
	}
	owner := map[string]string{}
	for _, r := range e.results(big.ID, "") {
		owner[r.MessageID] = "big"
	}
	for _, r := range e.results(small.ID, "") {
		owner[r.MessageID] = "small"
	}
	evs := seg.Events()
	first, last := -1, -1
	for i, ev := range evs {
		if owner[ev.MessageID] == "small" {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	counts := map[string]int{}
	for _, ev := range evs[first : last+1] {
		counts[owner[ev.MessageID]]++
	}
	total := counts["big"] + counts["small"]
	t.Logf("while both ran: big %d, small %d requests", counts["big"], counts["small"])
	for _, run := range []string{"big", "small"} {
		if 4*counts[run] < total {
			t.Errorf("%s run got %d of %d requests while both ran; want at least a quarter", run, counts[run], total)
		}
	}
	st := seg.Stats()
	if st.Throttled != 0 {
		t.Errorf("%d requests answered 429: the two runs went over the shared rate", st.Throttled)
	}
	reqs := seg.Requests()
	span := reqs[len(reqs)-1].Time.Sub(reqs[0].Time).Seconds()
	if max := burst + rate*span*1.05 + 2; float64(len(reqs)) > max {
		t.Errorf("%d requests in %.2fs; the limit allows %.0f", len(reqs), span, max)
	}
}
