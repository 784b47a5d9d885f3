package ratelimit_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

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

func TestLimiterStartsWithOneToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.Config{Rate: 10, Burst: 5})
		start := time.Now()
		for range 3 {
			if err := l.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := time.Since(start), 200*time.Millisecond; got != want {
			t.Fatalf("three waits took %v, want %v: no opening burst", got, want)
		}
		time.Sleep(time.Second) // idle: the bucket fills to its burst
		start = time.Now()
		for range 5 {
			l.Wait(context.Background())
		}
		if got := time.Since(start); got != 0 {
			t.Fatalf("after an idle second, five waits took %v, want the burst at once", got)
		}
	})
}
