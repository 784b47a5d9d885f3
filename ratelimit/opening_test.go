package ratelimit_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segloop/segloop/ratelimit"
)

// TestLimiterOpeningUnknown checks the opening of an unknown limit: the first request goes
// alone until the remote end answers it (here a refusal, whose Retry-After then holds
// the others), or until the opening's bound if no answer comes; a known limit has none.
func TestLimiterOpeningUnknown(t *testing.T) {
	waiters := func(t *testing.T, l *ratelimit.Limiter, n int) (gone *atomic.Int64, wait func()) {
		gone = new(atomic.Int64)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if err := l.Wait(t.Context()); err != nil {
					t.Error(err)
				}
				gone.Add(1)
			})
		}
		return gone, wg.Wait
	}
	t.Run("answered", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := ratelimit.New(ratelimit.Config{Rate: 200, Adaptive: true})
			gone, wait := waiters(t, l, 8)
			time.Sleep(20 * time.Millisecond) // a round trip: four tokens at 200/s
			synctest.Wait()
			if n := gone.Load(); n != 1 {
				t.Fatalf("%d requests went before the first answer, want 1", n)
			}
			l.Throttled(time.Second) // inside others' window: the rest wait it out
			synctest.Wait()
			if n := gone.Load(); n != 1 {
				t.Fatalf("%d requests went inside the Retry-After the first one was told of, want 1", n)
			}
			wait()
		})
	})
	t.Run("unanswered", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := ratelimit.New(ratelimit.Config{Rate: 200, Adaptive: true})
			gone, wait := waiters(t, l, 8)
			synctest.Wait()
			if n := gone.Load(); n != 1 {
				t.Fatalf("%d requests went at once, want 1", n)
			}
			wait() // no answer ever comes (a 503 reaches no limiter): the others go anyway
			if n := gone.Load(); n != 8 {
				t.Fatalf("%d of 8 waits returned", n)
			}
		})
	})
	t.Run("known", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := ratelimit.New(ratelimit.Config{Rate: 200, Burst: 20, Known: true, Adaptive: true})
			gone, wait := waiters(t, l, 8)
			synctest.Wait()
			if n := gone.Load(); n != 8 {
				t.Fatalf("a known limit let %d of 8 requests go at once, want 8 (its burst is 20)", n)
			}
			wait()
		})
	})
}
