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

// randomAction answers each call with an outcome drawn from a seeded generator and
// records, per request (its first index and length, which no other request shares),
// how many calls counted against MaxAttempts.
type randomAction struct {
	mu      sync.Mutex
	rng     *rand.Rand
	fatal   float64 // probability of a fatal answer
	carried map[int64]int
	okCalls map[int64]bool
	counted map[[2]int64]int
	calls   int64
}

func (a *randomAction) Do(ctx context.Context, batch []loop.Item[int], attempt int) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	for _, it := range batch {
		a.carried[it.Index]++
	}
	key := [2]int64{batch[0].Index, int64(len(batch))}
	p := a.rng.Float64()
	switch {
	case p < a.fatal:
		a.counted[key]++
		return 401, errAuth
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
	for seed := range uint64(150) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { checkRandomRun(t, seed) })
		})
	}
}

func checkRandomRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	n := rng.IntN(300)
	opts := loop.Options[int]{
		Workers:         1 + rng.IntN(8),
		BatchSize:       1 + rng.IntN(16),
		MaxAttempts:     1 + rng.IntN(5),
		RateLimitBudget: time.Duration(1+rng.IntN(30)) * time.Second,
		Backoff:         loop.FullJitter(10*time.Millisecond, 200*time.Millisecond),
		Classify:        classifyTest,
	}
	if rng.IntN(3) == 0 {
		opts.BatchBytes = 20 + rng.IntN(100)
	}
	src := &sliceSource{n: n, size: rng.IntN(20), bad: map[int64]bool{}}
	for range rng.IntN(n/10 + 1) {
		src.bad[int64(rng.IntN(max(n, 1)))] = true
	}
	act := &randomAction{
		rng:     rand.New(rand.NewPCG(seed, 8)),
		carried: map[int64]int{}, okCalls: map[int64]bool{}, counted: map[[2]int64]int{},
	}
	if rng.IntN(4) == 0 {
		act.fatal = 0.02
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
	for i := range act.carried {
		var counted int
		for key, m := range act.counted {
			if i >= key[0] && i < key[0]+key[1] {
				counted += m
			}
		}
		if counted > maxPerItem {
			t.Errorf("item %d: %d counted attempts, want ≤ %d", i, counted, maxPerItem)
		}
	}
	if sum.Requests != act.calls || sum.OK+sum.Invalid+sum.Failed != sum.Read {
		t.Errorf("summary %+v, %d calls", sum, act.calls)
	}
	if sum.Paused > opts.RateLimitBudget {
		t.Errorf("paused %v, over the budget %v", sum.Paused, opts.RateLimitBudget)
	}
}
