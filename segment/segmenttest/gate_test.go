package segmenttest_test

import (
	"fmt"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segloop/segloop/segment/segmenttest"
)

func TestRateLimit(t *testing.T) {
	tests := []struct {
		name      string
		rate      float64
		burst     int
		ok        int    // requests accepted at once
		wantAfter string // Retry-After of the first 429
	}{
		{"2/s burst 2", 2, 2, 2, "1"},
		{"default burst is ceil(rate)", 2.5, 0, 3, "1"},
		{"slow rate announces the full wait", 0.2, 1, 1, "5"},
		{"fast rate rounds up to one second", 1000, 10, 10, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHandler(segmenttest.Options{Rate: tt.rate, Burst: tt.burst})
				for i := range tt.ok {
					wantStatus(t, do(t, h, call{path: "/v1/identify", body: ident(strconv.Itoa(i)), key: "k"}), 200)
				}
				start := time.Now()
				w := do(t, h, call{path: "/v1/identify", body: ident("x"), key: "k"})
				wantStatus(t, w, 429)
				if got := w.Header().Get("Retry-After"); got != tt.wantAfter {
					t.Errorf("Retry-After: got %q, want %q", got, tt.wantAfter)
				}
				secs, _ := strconv.Atoi(tt.wantAfter)
				wantReset := strconv.FormatInt(start.Add(time.Duration(secs)*time.Second+time.Second-1).Unix(), 10)
				if got := w.Header().Get("X-RateLimit-Reset"); got != wantReset {
					t.Errorf("X-RateLimit-Reset: got %q, want %q", got, wantReset)
				}
				// Once the announced wait is over, the request goes through.
				time.Sleep(time.Duration(secs) * time.Second)
				wantStatus(t, do(t, h, call{path: "/v1/identify", body: ident("x"), key: "k"}), 200)
				st := h.Stats()
				if st.Throttled != 1 || st.EarlyRequests != 0 || st.Accepted != int64(tt.ok+1) {
					t.Errorf("stats: got %+v", st)
				}
			})
		})
	}
}

func TestRetryAfterWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHandler(segmenttest.Options{Rate: 0.25, Burst: 1}) // one request per 4 s
		post := func() (int, string) {
			w := do(t, h, call{path: "/v1/batch", body: batchN(fmt.Sprint(time.Now().UnixNano()), 1), key: "k"})
			return w.Code, w.Header().Get("Retry-After")
		}
		steps := []struct {
			after      time.Duration // sleep before the request
			wantStatus int
			wantAfter  string
			wantEarly  int64
		}{
			{0, 200, "", 0},
			{0, 429, "4", 0},                       // opens a 4 s window
			{10 * time.Millisecond, 429, "4", 0},   // in flight already: within Grace
			{40 * time.Millisecond, 429, "4", 0},   // 50 ms after the 429: still within Grace
			{1 * time.Millisecond, 429, "4", 1},    // 51 ms: early
			{time.Second, 429, "3", 2},             // the remaining time, rounded up
			{2900 * time.Millisecond, 429, "1", 3}, // 49 ms left: at least 1
			{49 * time.Millisecond, 200, "", 3},    // the window is over and a token is free
		}
		for i, s := range steps {
			time.Sleep(s.after)
			code, after := post()
			if code != s.wantStatus || after != s.wantAfter {
				t.Errorf("step %d: got %d Retry-After %q, want %d %q", i, code, after, s.wantStatus, s.wantAfter)
			}
			if got := h.Stats().EarlyRequests; got != s.wantEarly {
				t.Errorf("step %d: EarlyRequests got %d, want %d", i, got, s.wantEarly)
			}
		}
	})
}

func TestRetryAfterWindowGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHandler(segmenttest.Options{Rate: 1, Burst: 1, Grace: time.Second / 2})
		wantStatus(t, do(t, h, call{path: "/v1/identify", body: ident("1"), key: "k"}), 200)
		wantStatus(t, do(t, h, call{path: "/v1/identify", body: ident("2"), key: "k"}), 429)
		time.Sleep(400 * time.Millisecond)
		wantStatus(t, do(t, h, call{path: "/v1/identify", body: ident("3"), key: "k"}), 429)
		if got := h.Stats().EarlyRequests; got != 0 {
			t.Errorf("EarlyRequests inside Grace: got %d, want 0", got)
		}
		time.Sleep(200 * time.Millisecond)
		wantStatus(t, do(t, h, call{path: "/v1/identify", body: ident("4"), key: "k"}), 429)
		if got := h.Stats().EarlyRequests; got != 1 {
			t.Errorf("EarlyRequests after Grace: got %d, want 1", got)
		}
	})
}

func TestThrottleBeforeBodyChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHandler(segmenttest.Options{Rate: 1, Burst: 1, WriteKeys: []string{"k"}})
		wantStatus(t, do(t, h, call{path: "/v1/identify", body: `{bad`, key: "k"}), 400)
		// Auth comes before the rate limit, and a 401 takes no token.
		wantStatus(t, do(t, h, call{path: "/v1/identify", body: ident("1"), key: "bad"}), 401)
		wantStatus(t, do(t, h, call{path: "/v1/identify", body: `{bad`, key: "k"}), 429)
	})
}

func TestFaultRates(t *testing.T) {
	const n = 4000
	run := func(seed int64) (outcomes []int, st segmenttest.Stats) {
		h := newHandler(segmenttest.Options{FailRate: 0.2, ResetRate: 0.1, Seed: seed})
		for i := range n {
			w := doHijackable(t, h, call{path: "/v1/identify", body: ident(strconv.Itoa(i)), key: "k"})
			if w.hijacked {
				outcomes = append(outcomes, 0)
			} else {
				outcomes = append(outcomes, w.Code)
			}
		}
		return outcomes, h.Stats()
	}
	a, st := run(7)
	near := func(name string, got int64, frac float64) {
		t.Helper()
		want := frac * n
		if float64(got) < want*0.85 || float64(got) > want*1.15 {
			t.Errorf("%s: got %d of %d, want about %.0f", name, got, n, want)
		}
	}
	near("Failed", st.Failed, 0.2)
	near("Resets", st.Resets, 0.1)
	near("Accepted", st.Accepted, 0.7)
	if st.Accepted+st.Failed+st.Resets != n || st.Unique != st.Accepted {
		t.Errorf("stats do not add up: %+v", st)
	}
	b, _ := run(7)
	c, _ := run(8)
	same := func(x, y []int) bool { return fmt.Sprint(x) == fmt.Sprint(y) }
	if !same(a, b) {
		t.Error("the same seed gave different faults")
	}
	if same(a, c) {
		t.Error("different seeds gave the same faults")
	}
}

func TestResetWithoutHijack(t *testing.T) {
	// A plain ResponseRecorder cannot be hijacked: the handler aborts.
	h := newHandler(segmenttest.Options{ResetRate: 1})
	defer func() {
		if r := recover(); r == nil {
			t.Error("want a panic with http.ErrAbortHandler")
		}
		if st := h.Stats(); st.Resets != 1 || len(h.Requests()) != 1 || !h.Requests()[0].Reset {
			t.Errorf("stats: got %+v, requests %+v", st, h.Requests())
		}
	}()
	do(t, h, call{path: "/v1/identify", body: ident("1"), key: "k"})
}
