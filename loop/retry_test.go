package loop_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/ratelimit"
)

func TestRetryBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base, ceiling := 500*time.Millisecond, 3*time.Second
		jitter := loop.FullJitter(base, ceiling)
		var delays []time.Duration
		act := &recorder{fn: func(int, []loop.Item[int], int) (int, error) { return 503, errTransient }}
		var c collector
		sum, err := loop.Run(t.Context(), &sliceSource{n: 1}, act, loop.Options[int]{
			MaxAttempts: 7,
			Backoff: func(attempt int) time.Duration {
				d := jitter(attempt)
				delays = append(delays, d)
				return d
			},
			OnResult: c.add,
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		r := c.byIndex(t, 1)[0]
		var gu *loop.GaveUpError
		if r.Status != loop.StatusFailed || r.Attempts != 7 || r.Code != 503 || !errors.As(r.Err, &gu) || gu.Attempts != 7 || !errors.Is(r.Err, errTransient) {
			t.Fatalf("result %+v, want failed after 7 attempts wrapping %v", r, errTransient)
		}
		if len(act.calls) != 7 || len(delays) != 6 || sum.Retries != 6 || sum.Requests != 7 {
			t.Fatalf("%d calls, %d backoffs, summary %+v; want 7, 6", len(act.calls), len(delays), sum)
		}
		for i, c := range act.calls {
			if c.attempt != i+1 {
				t.Errorf("call %d has attempt %d", i, c.attempt)
			}
			if i > 0 {
				if gap := c.at.Sub(act.calls[i-1].at); gap != delays[i-1] {
					t.Errorf("gap before call %d = %v, want the backoff %v", i, gap, delays[i-1])
				}
			}
		}
		for i, d := range delays {
			if max := loop.ExpCap(base, ceiling, i+1); d < 0 || d > max {
				t.Errorf("backoff %d = %v, want within [0, %v]", i+1, d, max)
			}
		}
	})
}

func TestFullJitterBounds(t *testing.T) {
	base, ceiling := 500*time.Millisecond, 60*time.Second
	jitter := loop.FullJitter(base, ceiling)
	wantCaps := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 32 * time.Second, 60 * time.Second, 60 * time.Second, 60 * time.Second}
	prevMean := time.Duration(0)
	for i, want := range wantCaps {
		attempt := i + 1
		if got := loop.ExpCap(base, ceiling, attempt); got != want {
			t.Errorf("ExpCap(%d) = %v, want %v", attempt, got, want)
		}
		var sum time.Duration
		for range 2000 {
			d := jitter(attempt)
			if d < 0 || d > want {
				t.Fatalf("jitter(%d) = %v, want within [0, %v]", attempt, d, want)
			}
			sum += d
		}
		mean := sum / 2000
		// Full jitter: the mean is half the cap (within 10%), so it grows until the cap.
		if mean < want*45/100 || mean > want*55/100 {
			t.Errorf("mean jitter(%d) = %v, want ≈ %v", attempt, mean, want/2)
		}
		if want < ceiling && mean <= prevMean {
			t.Errorf("mean jitter(%d) = %v did not grow from %v", attempt, mean, prevMean)
		}
		prevMean = mean
	}
}

// TestRetryAfterPausesAllWorkers: one 429 with Retry-After 1s pauses every request,
// whoever holds the cooldown: the loop's own in front of no limiter or a *rate.Limiter,
// the *ratelimit.Limiter's (Feedback).
func TestRetryAfterPausesAllWorkers(t *testing.T) {
	tests := []struct {
		name    string
		limiter func() loop.Limiter
	}{
		{"no limiter", func() loop.Limiter { return nil }},
		{"rate.Limiter", func() loop.Limiter { return rate.NewLimiter(1000, 1) }},
		{"ratelimit.Limiter", func() loop.Limiter { return ratelimit.New(ratelimit.Config{Rate: 1000, Burst: 1}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				act := &recorder{latency: 100 * time.Millisecond, fn: func(n int, _ []loop.Item[int], _ int) (int, error) {
					if n == 0 {
						return 429, errThrottle // Retry-After 1s, seen at 100ms
					}
					return 200, nil
				}}
				sum, err := loop.Run(t.Context(), &sliceSource{n: 40}, act, loop.Options[int]{
					Concurrency: 4, Classify: classifyTest, Limiter: tt.limiter(),
				})
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				holdFrom, holdTo := 100*time.Millisecond, 1100*time.Millisecond
				for i, c := range act.calls {
					if at := c.at.Sub(start); at > holdFrom && at < holdTo {
						t.Errorf("call %d started at %v, inside the pause [%v, %v)", i, at, holdFrom, holdTo)
					}
				}
				if sum.Paused != time.Second || sum.Throttled != 1 || sum.OK != 40 || sum.Requests != 41 {
					t.Errorf("summary %+v, want paused 1s, 1 throttled, 40 ok, 41 requests", sum)
				}
			})
		})
	}
}

func TestRetryAfterBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		act := &recorder{fn: func(int, []loop.Item[int], int) (int, error) { return 429, errThrottle }}
		var c collector
		sum, err := loop.Run(t.Context(), &sliceSource{n: 1}, act, loop.Options[int]{
			MaxAttempts:     2,
			RateLimitBudget: 2500 * time.Millisecond,
			Classify:        classifyTest,
			OnResult:        c.add,
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		r := c.byIndex(t, 1)[0]
		// Calls at 0s, 1s, 2s; the third Retry-After would take the pause to 3s > 2.5s.
		// Retry-After retries do not count against MaxAttempts (2).
		if r.Status != loop.StatusFailed || r.Attempts != 3 || !errors.Is(r.Err, loop.ErrRateLimitBudget) || !errors.Is(r.Err, errThrottle) {
			t.Errorf("result %+v, want failed after 3 attempts with ErrRateLimitBudget", r)
		}
		if sum.Paused != 2*time.Second || sum.Throttled != 3 {
			t.Errorf("summary %+v, want paused 2s, 3 throttled", sum)
		}
	})
}

func TestMaxAttemptsWithRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		act := &recorder{fn: func(n int, _ []loop.Item[int], _ int) (int, error) {
			if n%2 == 0 {
				return 429, errThrottle
			}
			return 503, errTransient
		}}
		var c collector
		if _, err := loop.Run(t.Context(), &sliceSource{n: 1}, act, loop.Options[int]{
			MaxAttempts: 3, Classify: classifyTest, OnResult: c.add, Backoff: func(int) time.Duration { return time.Second },
		}); err != nil {
			t.Fatalf("Run: %v", err)
		}
		r := c.byIndex(t, 1)[0]
		var gu *loop.GaveUpError
		if !errors.As(r.Err, &gu) || gu.Attempts != 3 || r.Attempts != 6 {
			t.Errorf("result %+v, want 3 counted attempts out of 6 calls", r)
		}
	})
}

// TestLimiterPacesEveryAttempt runs a simulated minute through a 50 requests/s limiter
// with retries in the mix: every attempt waits, so the attempts hold the rate within 1%.
func TestLimiterPacesEveryAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		act := &recorder{fn: func(n int, _ []loop.Item[int], _ int) (int, error) {
			if n%4 == 0 {
				return 503, errTransient
			}
			return 200, nil
		}}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		sum, _ := loop.Run(ctx, &sliceSource{n: 1 << 40}, act, loop.Options[int]{
			Concurrency: 8,
			Limiter:     ratelimit.New(ratelimit.Config{Rate: 50, Burst: 1}),
			Backoff:     func(int) time.Duration { return 0 },
		})
		if want := 3000.0; math.Abs(float64(sum.Requests)-want) > want/100 {
			t.Errorf("%d attempts in a simulated minute, want %.0f ± 1%%", sum.Requests, want)
		}
		if sum.Retries == 0 {
			t.Errorf("no retries were made")
		}
	})
}

// feedbackLog is a Feedback limiter that records what the loop tells it, and holds its
// cooldown as the Feedback contract says.
type feedbackLog struct {
	gate  ratelimit.Gate
	waits []time.Duration
}

func (f *feedbackLog) Wait(ctx context.Context) error { return f.gate.Wait(ctx) }
func (f *feedbackLog) Accepted()                      {}
func (f *feedbackLog) Throttled(retryAfter time.Duration) {
	f.waits = append(f.waits, retryAfter)
	f.gate.Hold(time.Now().Add(retryAfter))
}

func TestSpentBudgetIsNotPassedToTheLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		act := &recorder{fn: func(int, []loop.Item[int], int) (int, error) { return 429, errThrottle }}
		lim := &feedbackLog{}
		var c collector
		loop.Run(t.Context(), &sliceSource{n: 1}, act, loop.Options[int]{
			Concurrency:     1,
			RateLimitBudget: 2500 * time.Millisecond,
			Classify:        classifyTest,
			Limiter:         lim,
			OnResult:        c.add,
		})
		// Two holds of 1s fit the budget; the third does not, so the limiter must not
		// hold its own gate for it (that pause would escape the budget).
		want := []time.Duration{time.Second, time.Second, 0}
		if len(lim.waits) != len(want) {
			t.Fatalf("limiter told %v, want %v", lim.waits, want)
		}
		for i := range want {
			if lim.waits[i] != want[i] {
				t.Fatalf("limiter told %v, want %v", lim.waits, want)
			}
		}
	})
}

// TestBackoffParksTheRequest: with one request in flight at a time, a request waiting
// out a 10s backoff does not hold the pool: the other items go meanwhile.
func TestBackoffParksTheRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		act := &recorder{latency: 10 * time.Millisecond, fn: func(n int, _ []loop.Item[int], _ int) (int, error) {
			if n == 0 {
				return 503, errTransient
			}
			return 200, nil
		}}
		var c collector
		sum, err := loop.Run(t.Context(), &sliceSource{n: 3}, act, loop.Options[int]{
			Concurrency: 1, OnResult: c.add, Backoff: func(int) time.Duration { return 10 * time.Second },
		})
		if err != nil || sum.OK != 3 {
			t.Fatalf("Run: %v, %+v", err, sum)
		}
		want := []struct {
			item int64
			at   time.Duration
		}{{0, 0}, {1, 10 * time.Millisecond}, {2, 20 * time.Millisecond}, {0, 10*time.Second + 10*time.Millisecond}}
		if len(act.calls) != len(want) {
			t.Fatalf("%d calls, want %d", len(act.calls), len(want))
		}
		for i, w := range want {
			if c := act.calls[i]; c.idx[0] != w.item || c.at.Sub(start) != w.at {
				t.Errorf("call %d: item %d at %v, want item %d at %v", i, c.idx[0], c.at.Sub(start), w.item, w.at)
			}
		}
	})
}

// forgetful is a Feedback limiter that does not hold its cooldown (against the Feedback
// contract): Wait never waits.
type forgetful struct{}

func (forgetful) Wait(context.Context) error { return nil }
func (forgetful) Accepted()                  {}
func (forgetful) Throttled(time.Duration)    {}

// TestRetryAfterWithAForgetfulLimiter: even a limiter that forgets the Retry-After this
// run passed on to it gets no request inside that window from the run.
func TestRetryAfterWithAForgetfulLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		act := &recorder{latency: 100 * time.Millisecond, fn: func(n int, _ []loop.Item[int], _ int) (int, error) {
			if n == 0 {
				return 429, errThrottle
			}
			return 200, nil
		}}
		sum, err := loop.Run(t.Context(), &sliceSource{n: 40}, act, loop.Options[int]{Concurrency: 4, Classify: classifyTest, Limiter: forgetful{}})
		if err != nil || sum.OK != 40 {
			t.Fatalf("Run: %v, %+v", err, sum)
		}
		for i, c := range act.calls {
			if at := c.at.Sub(start); at > 100*time.Millisecond && at < 1100*time.Millisecond {
				t.Errorf("call %d started at %v, inside the pause", i, at)
			}
		}
	})
}
