package ratelimit_test

import (
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

// windowServer is a server of rate 20/s with a bucket of 20 that answers a refusal with
// a whole-second Retry-After and refuses everything until it ends, as segmenttest does;
// requests more than 50 ms into a window count as early.
type windowServer struct {
	mu             sync.Mutex
	bucket         *rate.Limiter
	until, opened  time.Time
	refused, early int
}

func (s *windowServer) answer(now time.Time) (ok bool, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Before(s.until) {
		if now.Sub(s.opened) > 50*time.Millisecond {
			s.early++
		}
		s.refused++
		return false, time.Duration(math.Ceil(s.until.Sub(now).Seconds())) * time.Second
	}
	r := s.bucket.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		s.refused++
		ra := time.Duration(math.Max(1, math.Ceil(d.Seconds()))) * time.Second
		s.until, s.opened = now.Add(ra), now
		return false, ra
	}
	return true, 0
}

// TestUncoordinatedProcesses runs three adaptive limiters that know nothing of each
// other, each with 8 workers and 100 requests to deliver from 200/s, against one 20/s
// server (bound 15 s): they share it without Redis within 1.3× the bound, and 1.18× on
// average over four seeds (1.2× without the boosted climb, which lets the last process
// take the capacity the others leave; each first cut lands on a tenth of 200/s, three
// times a share).
func TestUncoordinatedProcesses(t *testing.T) {
	var sum float64
	const seeds = 4
	for seed := range seeds {
		synctest.Test(t, func(t *testing.T) {
			srv := &windowServer{bucket: rate.NewLimiter(20, 20)}
			rng := rand.New(rand.NewPCG(uint64(seed), 9))
			var rngMu sync.Mutex
			latency := func() time.Duration {
				rngMu.Lock()
				defer rngMu.Unlock()
				return time.Duration(1+rng.Int64N(6)) * time.Millisecond
			}
			start := time.Now()
			var ends [3]time.Duration
			var wg sync.WaitGroup
			for p := range 3 {
				l := ratelimit.New(ratelimit.Config{Rate: 200, Adaptive: true})
				var left atomic.Int64
				left.Store(100)
				time.Sleep(latency() * 3) // the processes start a few ms apart
				wg.Go(func() {
					var workers sync.WaitGroup
					for range 8 {
						workers.Go(func() {
							for left.Add(-1) >= 0 {
								for {
									if err := l.Wait(t.Context()); err != nil {
										t.Error(err)
										return
									}
									lat := latency()
									time.Sleep(lat / 2)
									ok, ra := srv.answer(time.Now())
									time.Sleep(lat - lat/2)
									if ok {
										l.Accepted()
										break
									}
									l.Throttled(ra)
								}
							}
						})
					}
					workers.Wait()
					ends[p] = time.Since(start)
				})
			}
			wg.Wait()
			total := max(ends[0], ends[1], ends[2])
			t.Logf("seed %d: %.2f× the bound (ends %v), %d refused, %d early", seed, total.Seconds()/15, ends, srv.refused, srv.early)
			if total.Seconds()/15 > 1.3 {
				t.Errorf("three processes took %v, want ≤ 1.3 × 15 s", total)
			}
			sum += total.Seconds() / 15
		})
	}
	if mean := sum / seeds; mean > 1.18 {
		t.Errorf("on average %.3f× the bound, want ≤ 1.18×", mean)
	}
}
