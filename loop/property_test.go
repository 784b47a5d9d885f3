package loop_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segloop/segloop/loop"
)

// randomAction answers each call, after a random latency, with an outcome drawn from a
// seeded generator. It records, per request (the items it carries, which no other
// request carries all of), how many calls counted against MaxAttempts, and per call the order in
// which calls started and ended, to check the order per key.
type randomAction struct {
	mu       sync.Mutex
	rng      *rand.Rand
	fatal    float64 // probability of a fatal answer
	systemic float64 // probability of a systemic refusal
	latency  time.Duration
	carried  map[int64]int
	okCalls  map[int64]bool
	counted  map[string]int
	calls    []callSpan
	seq      int // events (call starts and ends) so far
	inFlight int
	peak     int
}

// callSpan is one call: the items it carried, and the sequence numbers of its start and
// of its end (Do returning).
type callSpan struct {
	idx        []int64
	start, end int
}

func (a *randomAction) Do(ctx context.Context, batch []loop.Item[int], attempt int) (int, error) {
	a.mu.Lock()
	a.seq++
	c := len(a.calls)
	a.calls = append(a.calls, callSpan{start: a.seq})
	a.inFlight++
	a.peak = max(a.peak, a.inFlight)
	for _, it := range batch {
		a.carried[it.Index]++
		a.calls[c].idx = append(a.calls[c].idx, it.Index)
	}
	key := fmt.Sprint(a.calls[c].idx)
	p := a.rng.Float64()
	var lat time.Duration
	if a.latency > 0 {
		lat = time.Duration(a.rng.Int64N(int64(a.latency)))
	}
	a.mu.Unlock()
	time.Sleep(lat)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inFlight--
	a.seq++
	a.calls[c].end = a.seq
	switch {
	case p < a.fatal:
		a.counted[key]++
		return 401, errAuth
	case p < a.fatal+a.systemic:
		a.counted[key]++
		return 404, errSystemic
	case p < 0.55:
		for _, it := range batch {
			a.okCalls[it.Index] = true
		}
		a.counted[key]++
		return 200, nil
	case p < 0.75:
		a.counted[key]++
		return 503, errTransient
	case p < 0.85:
		a.counted[key]++
		return 400, errBad
	default:
		return 429, errThrottle // Retry-After: not counted
	}
}

func TestProperty(t *testing.T) {
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { checkRandomRun(t, seed) })
		})
	}
}

func checkRandomRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	n := rng.IntN(300)
	opts := loop.Options[int]{
		Concurrency:     1 + rng.IntN(8),
		BatchSize:       1 + rng.IntN(16),
		MaxAttempts:     1 + rng.IntN(5),
		RateLimitBudget: time.Duration(1+rng.IntN(30)) * time.Second,
		Backoff:         loop.FullJitter(10*time.Millisecond, 200*time.Millisecond),
		Classify:        classifyTest,
	}
	pool := opts.Concurrency
	if rng.IntN(3) == 0 { // adaptive concurrency
		opts.Concurrency = 0
		opts.MaxConcurrency = 1 + rng.IntN(16)
		pool = opts.MaxConcurrency
	}
	if rng.IntN(3) == 0 {
		opts.BatchBytes = 20 + rng.IntN(100)
	}
	src := &sliceSource{n: n, size: rng.IntN(20), bad: map[int64]bool{}, settled: map[int64]loop.Status{}}
	for range rng.IntN(n/10 + 1) {
		src.bad[int64(rng.IntN(max(n, 1)))] = true
	}
	for range rng.IntN(n/10 + 1) {
		src.settled[int64(rng.IntN(max(n, 1)))] = []loop.Status{loop.StatusSkipped, loop.StatusUnchanged}[rng.IntN(2)]
	}
	if rng.IntN(3) > 0 { // items keyed by a few users, some of them repeated
		users := 1 + rng.IntN(max(n, 1))
		src.keys = make([]string, n)
		for i := range src.keys {
			if rng.IntN(8) > 0 {
				src.keys[i] = fmt.Sprint("user", rng.IntN(users))
			}
		}
		if rng.IntN(2) == 0 {
			opts.MaxHeld = 1 + rng.IntN(20)
		}
	}
	act := &randomAction{
		rng:     rand.New(rand.NewPCG(seed, 8)),
		latency: time.Duration(rng.IntN(100)) * time.Millisecond,
		carried: map[int64]int{}, okCalls: map[int64]bool{}, counted: map[string]int{},
	}
	if rng.IntN(4) == 0 {
		act.fatal = 0.02
	}
	if rng.IntN(4) == 0 {
		act.systemic = 0.05
	}
	ctx := t.Context()
	if rng.IntN(4) == 0 {
		c, cancel := context.WithTimeout(ctx, time.Duration(rng.IntN(3000))*time.Millisecond)
		defer cancel()
		ctx = c
	}
	var c collector
	opts.OnResult = c.add
	sum, err := loop.Run(ctx, src, act, opts)
	var ae *loop.AbortError
	switch {
	case err == nil, errors.As(err, &ae), errors.Is(err, context.DeadlineExceeded):
	default:
		t.Fatalf("Run: %v", err)
	}
	if err == nil && sum.Read != int64(n) {
		t.Fatalf("read %d of %d items without an error", sum.Read, n)
	}
	res := c.byIndex(t, int(sum.Read)) // results count = items read, each index once
	maxPerItem := opts.MaxAttempts * (1 + int(math.Ceil(math.Log2(float64(opts.BatchSize)))))
	for _, r := range res {
		i := r.Item.Index
		switch {
		case src.bad[i]:
			if r.Status != loop.StatusInvalid || act.carried[i] != 0 {
				t.Errorf("invalid item %d: %s, sent %d times", i, r.Status, act.carried[i])
			}
		case src.settled[i] != "":
			if r.Status != src.settled[i] || act.carried[i] != 0 || r.Attempts != 0 || r.Err != nil {
				t.Errorf("settled item %d: %s (%v), sent %d times, want %s unsent", i, r.Status, r.Err, act.carried[i], src.settled[i])
			}
		case r.Status == loop.StatusOK:
			if !act.okCalls[i] {
				t.Errorf("item %d ok without a successful call", i)
			}
		case r.Status != loop.StatusFailed || r.Err == nil:
			t.Errorf("item %d: status %s, err %v", i, r.Status, r.Err)
		}
		if r.Attempts != act.carried[i] {
			t.Errorf("item %d: Attempts %d, carried by %d calls", i, r.Attempts, act.carried[i])
		}
	}
	for key, k := range act.counted {
		if k > opts.MaxAttempts {
			t.Errorf("request %v: %d counted attempts, max %d", key, k, opts.MaxAttempts)
		}
	}
	perItem := map[int64]int{} // counted attempts of the requests that carried each item
	for _, call := range act.calls {
		key := fmt.Sprint(call.idx)
		for _, i := range call.idx {
			perItem[i] += act.counted[key]
		}
		act.counted[key] = 0 // each request once
	}
	for i, counted := range perItem {
		if counted > maxPerItem {
			t.Errorf("item %d: %d counted attempts, want ≤ %d", i, counted, maxPerItem)
		}
	}
	checkKeyOrder(t, src.keys, act.calls)
	if act.peak > pool || sum.PeakInFlight > pool {
		t.Errorf("%d calls in flight at once (loop's peak %d), pool %d", act.peak, sum.PeakInFlight, pool)
	}
	if sum.Requests != int64(len(act.calls)) || sum.OK+sum.Invalid+sum.Failed+sum.Skipped+sum.Unchanged != sum.Read {
		t.Errorf("summary %+v, %d calls", sum, len(act.calls))
	}
	if sum.Paused > opts.RateLimitBudget {
		t.Errorf("paused %v, over the budget %v", sum.Paused, opts.RateLimitBudget)
	}
}

// checkKeyOrder checks the order per key: no call carries two items of one key, and
// every call that carries an item starts after the last call that carried the item
// before it of its key has ended.
func checkKeyOrder(t *testing.T, keys []string, calls []callSpan) {
	t.Helper()
	lastEnd := map[int64]int{}    // item -> end of the last call that carried it
	firstStart := map[int64]int{} // item -> start of the first call that carried it
	for _, c := range calls {
		seen := map[string]bool{}
		for _, i := range c.idx {
			if int(i) < len(keys) && keys[i] != "" {
				k := keys[i]
				if seen[k] {
					t.Errorf("a call carries two items of key %q", k)
				}
				seen[k] = true
			}
			lastEnd[i] = max(lastEnd[i], c.end)
			if s, ok := firstStart[i]; !ok || c.start < s {
				firstStart[i] = c.start
			}
		}
	}
	prev := map[string]int64{} // key -> the last item of it so far that was sent
	for i, k := range keys {
		if k == "" {
			continue
		}
		s, sent := firstStart[int64(i)]
		if !sent {
			continue
		}
		if p, ok := prev[k]; ok && s < lastEnd[p] {
			t.Errorf("key %q: item %d sent (event %d) before item %d's last call ended (event %d)", k, i, s, p, lastEnd[p])
		}
		prev[k] = int64(i)
	}
}
