package ratelimit_test

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"github.com/segloop/segloop/ratelimit"
)

func TestRefusals(t *testing.T) {
	var r ratelimit.Refusals
	if !r.Refused(time.Second) {
		t.Error("a refusal with Retry-After is not congestion")
	}
	for range 100 {
		for range 19 {
			r.Accepted()
		}
		if r.Refused(0) {
			t.Fatal("one refusal in 20 outcomes counted as congestion")
		}
	}
	for range 32 {
		r.Accepted()
	}
	for i := range 7 {
		if r.Refused(0) {
			t.Fatalf("refusal %d of a run counted as congestion, want the 8th", i+1)
		}
	}
	if !r.Refused(0) {
		t.Fatal("8 refusals among the last 32 outcomes are not congestion")
	}
	if r.Refused(0) {
		t.Error("congestion did not clear the memory")
	}
}

// scriptedServer is the remote end of the simulations below: outcome decides each
// request's fate and how long its answer takes.
type scriptedServer func(now time.Time) (ok bool, retryAfter time.Duration, throttled bool, latency time.Duration)

// simulate runs workers that each send one request after another through l against srv,
// as the loop does (a failure backs off with full jitter from 500 ms, doubling, up to five
// attempts per item), for d, and returns the items accepted.
func simulate(t *testing.T, l *ratelimit.Limiter, srv scriptedServer, workers int, d time.Duration) int64 {
	t.Helper()
	var done atomic.Int64
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			attempt := 0
			for time.Now().Before(end) {
				if err := l.Wait(t.Context()); err != nil {
					t.Error(err)
					return
				}
				ok, ra, throttled, latency := srv(time.Now())
				time.Sleep(latency)
				if ok {
					l.Accepted()
					done.Add(1)
					attempt = 0
					continue
				}
				if throttled {
					l.Throttled(ra)
				}
				if ra > 0 {
					continue // the hold paces the retry
				}
				attempt++
				if attempt == 5 {
					attempt = 0 // the item fails; the next one starts afresh
					continue
				}
				time.Sleep(rand.N(500 * time.Millisecond << (attempt - 1)))
			}
		})
	}
	wg.Wait()
	return done.Load()
}

// TestAdaptiveSporadicRefusals runs single-event mode against a chaos server (5% 429s
// without Retry-After, 5% 500s, 10% of requests delayed 10–31 s): the pool, not the
// server's rate, is what limits, and the adaptive rate must not collapse on the
// refusals. It must deliver about what a fixed-rate limiter does.
func TestAdaptiveSporadicRefusals(t *testing.T) {
	chaos := func() scriptedServer {
		var mu sync.Mutex
		rng := rand.New(rand.NewPCG(1, 2))
		return func(time.Time) (bool, time.Duration, bool, time.Duration) {
			mu.Lock()
			x, delay := rng.Float64(), 10*time.Second+time.Duration(rng.Int64N(int64(21*time.Second)))
			mu.Unlock()
			switch {
			case x < 0.05:
				return false, 0, true, 20 * time.Millisecond
			case x < 0.10:
				return false, 0, false, 20 * time.Millisecond
			case x < 0.20:
				return true, 0, false, delay
			}
			return true, 0, false, 20 * time.Millisecond
		}
	}
	var fixed, adaptive int64
	var lowest float64
	synctest.Test(t, func(t *testing.T) {
		fixed = simulate(t, ratelimit.New(ratelimit.Config{Rate: 200}), chaos(), 8, 10*time.Minute)
	})
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(ratelimit.Config{Rate: 200, Adaptive: true})
		lowest = 200
		stop := make(chan struct{})
		watched := make(chan struct{})
		go func() { // sample the rate every second
			defer close(watched)
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Second):
					lowest = min(lowest, l.Rate())
				}
			}
		}()
		adaptive = simulate(t, l, chaos(), 8, 10*time.Minute)
		close(stop)
		<-watched
	})
	t.Logf("10 simulated minutes: fixed rate %d items, adaptive %d items; lowest adaptive rate %.1f/s", fixed, adaptive, lowest)
	if float64(adaptive) < 0.9*float64(fixed) {
		t.Errorf("adaptive delivered %d items, fixed %d: the sporadic refusals slowed it down", adaptive, fixed)
	}
	if lowest < 100 {
		t.Errorf("the adaptive rate fell to %.1f/s on sporadic refusals", lowest)
	}
}

// TestAdaptiveSustainedRefusals runs a client started at 10× a token-bucket server
// (20/s, bucket 20) that refuses without Retry-After: sustained refusals are congestion,
// and the rate comes down to the server's.
func TestAdaptiveSustainedRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bucket := rate.NewLimiter(20, 20)
		var refused, answered atomic.Int64
		srv := func(now time.Time) (bool, time.Duration, bool, time.Duration) {
			answered.Add(1)
			if bucket.AllowN(now, 1) {
				return true, 0, false, 10 * time.Millisecond
			}
			refused.Add(1)
			return false, 0, true, 10 * time.Millisecond
		}
		l := ratelimit.New(ratelimit.Config{Rate: 200, Adaptive: true})
		simulate(t, l, srv, 8, 30*time.Second)
		early := refused.Load()
		refused.Store(0)
		answered.Store(0)
		got := simulate(t, l, srv, 8, 30*time.Second)
		share := float64(refused.Load()) / float64(answered.Load())
		t.Logf("rate after 30 s %.1f/s; next 30 s: %d accepted, %.1f%% refused (first 30 s: %d refused)", l.Rate(), got, 100*share, early)
		if r := l.Rate(); r > 40 {
			t.Errorf("rate %.1f/s after 30 s of sustained refusals, want near the server's 20/s", r)
		}
		if share > 0.25 {
			t.Errorf("%.1f%% of requests refused once settled", 100*share)
		}
		if got < 500 {
			t.Errorf("%d accepted in 30 s at a server of 20/s: the rate collapsed", got)
		}
	})
}
