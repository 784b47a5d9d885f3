package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"github.com/segloop/segloop/ratelimit"
)

// countFor runs workers goroutines that Wait on l in a loop for d and returns how many
// waits succeeded.
func countFor(t *testing.T, l *ratelimit.Limiter, workers int, d time.Duration) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	var n atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for l.Wait(ctx) == nil {
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return n.Load()
}

func TestLimiterHoldsRate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ratelimit.Config
		workers int
	}{
		{"50/s burst 1", ratelimit.Config{Rate: 50, Burst: 1}, 4},
		{"250/s burst 25", ratelimit.Config{Rate: 250, Burst: 25}, 8},
		{"1000/s default burst", ratelimit.Config{Rate: 1000}, 16},
		{"adaptive without throttles keeps the ceiling", ratelimit.Config{Rate: 100, Burst: 10, Adaptive: true}, 8},
		{"fractional rate", ratelimit.Config{Rate: 0.5}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := ratelimit.New(tt.cfg)
				got := countFor(t, l, tt.workers, time.Minute)
				want := tt.cfg.Rate * 60
				if math.Abs(float64(got)-want) > want/100+float64(max(tt.cfg.Burst, 1)) {
					t.Errorf("%d waits in a simulated minute, want %.0f ± 1%% (+ burst)", got, want)
				}
				if math.Abs(float64(got)-want) > want/100 && tt.cfg.Rate >= 50 {
					// Burst included, the rate must still hold within 1%.
					t.Errorf("%d waits in a simulated minute, want %.0f ± 1%%", got, want)
				}
				if r := l.Rate(); r != tt.cfg.Rate {
					t.Errorf("Rate() = %v, want %v", r, tt.cfg.Rate)
				}
			})
		})
	}
}

func TestLimiterUnlimited(t *testing.T) {
	for _, r := range []float64{0, -1, math.Inf(1)} {
		l := ratelimit.New(ratelimit.Config{Rate: r, Adaptive: true})
		for range 10000 {
			if err := l.Wait(t.Context()); err != nil {
				t.Fatalf("Wait: %v", err)
			}
		}
		l.Throttled(0)
		l.Accepted()
		if got := l.Rate(); !math.IsInf(got, 1) {
			t.Errorf("Rate() = %v for an unlimited limiter", got)
		}
	}
}

func TestLimiterWaitCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 1})
		_ = l.Wait(t.Context())
		cause := errors.New("shutting down")
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(100*time.Millisecond, func() { cancel(cause) })
		if err := l.Wait(ctx); !errors.Is(err, cause) {
			t.Errorf("Wait = %v, want %v", err, cause)
		}
	})
}

func TestLimiterRetryAfterHoldsEveryWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.Config{Rate: 1000, Burst: 100})
		start := time.Now()
		l.Throttled(2 * time.Second)
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				if err := l.Wait(t.Context()); err != nil {
					t.Errorf("Wait: %v", err)
				}
				if got := time.Since(start); got < 2*time.Second {
					t.Errorf("a waiter went through at %v, inside the 2s hold", got)
				}
			})
		}
		wg.Wait()
		if got := l.Paused(); got != 2*time.Second {
			t.Errorf("Paused = %v, want 2s", got)
		}
	})
}

// TestAdaptiveSteps drives the controller by hand: a server of rate 20 and burst 20
// accepts the first 20 requests at once and refuses the 21st.
func TestAdaptiveSteps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.Config{Rate: 100, Burst: 25, Adaptive: true, MinRate: 2})
		for range 20 {
			l.Accepted()
		}
		if got := l.Rate(); got != 100 {
			t.Fatalf("rate climbed above the ceiling: %v", got)
		}
		time.Sleep(100 * time.Millisecond)
		l.Throttled(time.Second)
		// First cut: 20 accepted over 0.1s + an assumed 1s of server burst.
		first := l.Rate()
		if want := 20 / 1.1 * 0.99; math.Abs(first-want) > 0.01 {
			t.Fatalf("first cut to %v, want %v", first, want)
		}
		// Refusals inside the Retry-After window are echoes: no further cut.
		l.Throttled(time.Second)
		time.Sleep(500 * time.Millisecond)
		l.Throttled(time.Second)
		if got := l.Rate(); got != first {
			t.Fatalf("echo refusal cut the rate to %v", got)
		}
		// Successes climb additively: 3% of the post-cut rate per second of sending.
		time.Sleep(time.Second)
		for range 40 {
			l.Accepted()
		}
		climbed := l.Rate()
		if climbed <= first || climbed > first*1.1 {
			t.Fatalf("after 40 successes the rate is %v, want a little above %v", climbed, first)
		}
		// The second refusal measures 40 accepted in 2s since the first one, but a
		// refusal always cuts at least 3%.
		time.Sleep(500 * time.Millisecond)
		l.Throttled(time.Second)
		if got, want := l.Rate(), min(40/2.0*0.99, climbed*0.97); math.Abs(got-want) > 0.01 {
			t.Fatalf("measured cut to %v, want %v", got, want)
		}
		// Without enough samples, repeated refusals halve the rate, down to the floor.
		for range 20 {
			time.Sleep(2 * time.Second)
			l.Throttled(time.Second)
		}
		if got := l.Rate(); got != 2 {
			t.Fatalf("rate fell to %v, want the floor 2", got)
		}
		for range 100000 {
			l.Accepted()
		}
		if got := l.Rate(); got != 100 {
			t.Fatalf("rate climbed to %v, want the ceiling 100", got)
		}
	})
}

// TestAdaptiveMeasuresAfterThePause drives the controller through two refusals from a
// server of rate 20: the second cut lands on 20 (less 1%) whether the server's bucket
// holds a second (20) or a tenth of a second (2), the 1 s pause refilling only that.
func TestAdaptiveMeasuresAfterThePause(t *testing.T) {
	tests := []struct {
		name       string
		untilFirst time.Duration // first acceptance to first refusal
		first      int           // acceptances before the first refusal: B + 20/s × untilFirst
		saved      int           // what the server's bucket saved up during the 1 s pause
	}{
		{name: "one-second bucket", untilFirst: 100 * time.Millisecond, first: 22, saved: 20},
		{name: "tenth-of-a-second bucket", untilFirst: 10 * time.Millisecond, first: 2, saved: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := ratelimit.New(ratelimit.Config{Rate: 300, Burst: 30, Adaptive: true})
				for range tt.first {
					l.Accepted()
				}
				time.Sleep(tt.untilFirst)
				l.Throttled(time.Second)
				time.Sleep(time.Second)
				// Two active seconds at 20/s after the pause, plus what it saved up.
				for range tt.saved + 40 {
					l.Accepted()
				}
				time.Sleep(2 * time.Second)
				l.Throttled(time.Second)
				if got, want := l.Rate(), 20*0.99; math.Abs(got-want) > 0.01 {
					t.Errorf("second cut to %v, want %v", got, want)
				}
			})
		})
	}
}

// TestAdaptiveNoBurstAfterPause checks that a cut's pause saves up no burst, and that the
// burst is back once a request is accepted after it.
func TestAdaptiveNoBurstAfterPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.Config{Rate: 1000, Burst: 100, Adaptive: true})
		for range 220 {
			l.Accepted()
		}
		time.Sleep(100 * time.Millisecond)
		l.Throttled(time.Second) // cut to 220/1.1s × 0.99 = 198/s, burst 19 (0.1 s)
		waits := func(n int) time.Duration {
			start := time.Now()
			for range n {
				if err := l.Wait(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			return time.Since(start)
		}
		if got := waits(3); got < time.Second+2*time.Second/198 {
			t.Errorf("three waits across the pause took %v: a burst was saved up during it", got)
		}
		l.Accepted()
		time.Sleep(time.Second) // idle: the bucket fills to its burst again
		if got := waits(19); got != 0 {
			t.Errorf("after an idle second, 19 waits took %v, want the burst at once", got)
		}
	})
}

// TestLimiterOpening checks what a new limiter may send at once: a declared burst (less
// the opening margin) or a known rate's default burst, but one token for an unknown
// limit (adaptive, no burst given).
func TestLimiterOpening(t *testing.T) {
	tests := []struct {
		name string
		cfg  ratelimit.Config
		want int // waits that return at once
	}{
		{"declared burst", ratelimit.Config{Rate: 20, Burst: 20, Known: true}, 19},
		{"declared burst, adaptive", ratelimit.Config{Rate: 20, Burst: 20, Known: true, Adaptive: true}, 19},
		{"declared burst at 200/s keeps 20 ms", ratelimit.Config{Rate: 200, Burst: 200, Known: true, Adaptive: true}, 196},
		{"known rate, default burst", ratelimit.Config{Rate: 200, Known: true}, 16},
		{"burst of one", ratelimit.Config{Rate: 20, Burst: 1, Known: true}, 1},
		{"unknown limit: one token", ratelimit.Config{Rate: 200, Adaptive: true}, 1},
		{"burst not declared: one token", ratelimit.Config{Rate: 10, Burst: 5}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := ratelimit.New(tt.cfg)
				start := time.Now()
				n := 0
				for time.Since(start) == 0 {
					if err := l.Wait(t.Context()); err != nil {
						t.Fatal(err)
					}
					n++
				}
				if got := n - 1; got != tt.want { // the last wait waited
					t.Errorf("%d waits at once, want %d", got, tt.want)
				}
				time.Sleep(time.Minute) // idle: the bucket fills to its burst
				burst := tt.cfg.Burst
				if burst == 0 {
					burst = int(math.Ceil(tt.cfg.Rate / 10))
				}
				start = time.Now()
				for range burst {
					_ = l.Wait(t.Context())
				}
				if got := time.Since(start); got != 0 {
					t.Errorf("after an idle minute, %d waits took %v, want the burst at once", burst, got)
				}
			})
		})
	}
}

// TestLimiterWaitNeverInsideHold checks the contract the loop relies on: a wait that got
// its token before a hold began does not return inside the hold.
func TestLimiterWaitNeverInsideHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.Config{Rate: 10, Burst: 1})
		_ = l.Wait(t.Context()) // the next token comes at 100 ms
		start := time.Now()
		time.AfterFunc(50*time.Millisecond, func() { l.Throttled(time.Second) })
		if err := l.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got, end := time.Since(start), 1050*time.Millisecond; got < end {
			t.Errorf("Wait returned at %v, inside the hold that ends at %v", got, end)
		}
		if !time.Now().After(l.HeldUntil()) && !time.Now().Equal(l.HeldUntil()) {
			t.Errorf("returned before HeldUntil %v", l.HeldUntil())
		}
	})
}

// TestLimiterResumeJittered checks that the waiters a hold stopped resume spread over a
// short window after it ends, not all at its end, and never before.
func TestLimiterResumeJittered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.Config{}) // unlimited: only the hold paces
		start := time.Now()
		l.Throttled(2 * time.Second)
		var mu sync.Mutex
		at := map[time.Duration]int{}
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if err := l.Wait(t.Context()); err != nil {
					t.Error(err)
				}
				mu.Lock()
				at[time.Since(start)]++
				mu.Unlock()
			})
		}
		wg.Wait()
		for d := range at {
			if d < 2*time.Second || d >= 2*time.Second+100*time.Millisecond {
				t.Errorf("a waiter resumed at %v, want within [2s, 2.1s)", d)
			}
		}
		if len(at) < 25 {
			t.Errorf("50 waiters resumed at only %d distinct moments: %v", len(at), at)
		}
		// A wait that finds the gate open does not jitter.
		before := time.Now()
		_ = l.Wait(t.Context())
		if time.Since(before) != 0 {
			t.Error("a wait on an open gate was delayed")
		}
	})
}

// TestLimiterHoldSavesNoBurst checks that a fixed-rate limiter does not open with a
// burst saved up during a Retry-After pause, and gets it back after an acceptance.
func TestLimiterHoldSavesNoBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.Config{Rate: 20, Burst: 20})
		l.Throttled(time.Second)
		time.Sleep(time.Second)
		start := time.Now()
		for range 3 {
			_ = l.Wait(t.Context())
		}
		if got := time.Since(start); got < 100*time.Millisecond {
			t.Errorf("three waits after the pause took %v, want at least two intervals (100ms)", got)
		}
		l.Accepted()
		time.Sleep(time.Minute)
		start = time.Now()
		for range 20 {
			_ = l.Wait(t.Context())
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("after an acceptance and an idle minute, 20 waits took %v, want the burst at once", got)
		}
	})
}

func TestLimiterWaitDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.Config{Rate: 1, Burst: 1})
		_ = l.Wait(t.Context())
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := l.Wait(ctx); !errors.Is(err, ratelimit.ErrWouldExceedDeadline) {
			t.Errorf("Wait = %v, want ErrWouldExceedDeadline", err)
		}
		if time.Since(start) != 0 {
			t.Error("Wait did not fail at once")
		}
		// The refused wait took no token: the next one comes a second after the first.
		if err := l.Wait(t.Context()); err != nil || time.Since(start) != time.Second {
			t.Errorf("next Wait = %v after %v, want nil after 1s", err, time.Since(start))
		}
	})
}

// TestLimiterKnownBurst sends 100 requests through a limiter told the server's limit
// (20/s, bucket 20) to a simulated server with that bucket whose requests arrive with
// 1–10 ms of jitter: the declared burst is used from the start, so the run takes about
// (N − burst)/R, and no request is refused.
func TestLimiterKnownBurst(t *testing.T) {
	for _, adaptive := range []bool{false, true} {
		t.Run(fmt.Sprintf("adaptive=%v", adaptive), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				server := rate.NewLimiter(20, 20)
				l := ratelimit.New(ratelimit.Config{Rate: 20, Burst: 20, Known: true, Adaptive: adaptive})
				var mu sync.Mutex
				rng := rand.New(rand.NewPCG(3, 4))
				sent, refused := 0, 0
				start := time.Now()
				var wg sync.WaitGroup
				for range 8 {
					wg.Go(func() {
						for {
							mu.Lock()
							if sent == 100 {
								mu.Unlock()
								return
							}
							sent++
							jitter := time.Millisecond + time.Duration(rng.Int64N(int64(9*time.Millisecond)))
							mu.Unlock()
							if err := l.Wait(t.Context()); err != nil {
								t.Error(err)
								return
							}
							time.Sleep(jitter)
							if !server.Allow() {
								mu.Lock()
								refused++
								mu.Unlock()
							}
							time.Sleep(time.Millisecond)
							l.Accepted()
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				bound := time.Duration(float64(100-20) / 20 * float64(time.Second))
				t.Logf("100 requests in %v = %.3f × (N − burst)/R, %d refused", elapsed, elapsed.Seconds()/bound.Seconds(), refused)
				if refused > 0 {
					t.Errorf("%d requests refused", refused)
				}
				if elapsed > bound*102/100 {
					t.Errorf("took %v, want ≤ 1.02 × %v", elapsed, bound)
				}
			})
		})
	}
}

// TestAdaptiveClimbBoost checks that the climb after a measured cut speeds up the longer
// it goes without a refusal, but not against a server whose bucket is tiny.
func TestAdaptiveClimbBoost(t *testing.T) {
	climb := func(firstAccepted int) (after5s, after15s float64) {
		synctest.Test(t, func(t *testing.T) {
			l := ratelimit.New(ratelimit.Config{Rate: 200, Adaptive: true})
			for range firstAccepted {
				l.Accepted()
			}
			l.Throttled(time.Second)
			time.Sleep(time.Second)
			for s := 1; s <= 15; s++ {
				for range 10 {
					time.Sleep(100 * time.Millisecond)
					l.Accepted()
				}
				if s == 5 {
					after5s = l.Rate()
				}
			}
			after15s = l.Rate()
		})
		return after5s, after15s
	}
	// 20 accepted before the first refusal: a server bucket of a second at the cut rate.
	big5, big15 := climb(20)
	// 2 accepted: a tiny bucket; the climb stays additive.
	tiny5, tiny15 := climb(2)
	t.Logf("climb after 5 s and 15 s: big bucket %.2f, %.2f; tiny bucket %.2f, %.2f", big5, big15, tiny5, tiny15)
	if big15-big5 < 4*(big5-19.8) {
		t.Errorf("big bucket: the climb did not speed up: %.2f after 5 s, %.2f after 15 s", big5, big15)
	}
	if tiny15 > 25 {
		t.Errorf("tiny bucket: climbed to %.2f in 15 s: boosted", tiny15)
	}
}
