package loop_test

import (
	"context"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/ratelimit"
)

// queueServer is an Action that simulates a server with a number of parallel slots,
// each taking service to answer one request: a request that finds every slot busy
// queues (FIFO) for one, so its round trip grows with the requests in flight beyond the
// slots. It records how many requests are in flight at the server over time.
type queueServer struct {
	service time.Duration

	mu       sync.Mutex
	slots    int             // slots open now
	busy     int             // slots serving
	queue    []chan struct{} // requests waiting for a slot, first first
	start    time.Time
	inFlight int
	changes  []change // every change of inFlight
}

// change records the requests in flight at the server from a moment on.
type change struct {
	at       time.Duration // since start
	inFlight int
}

func newQueueServer(slots int, service time.Duration) *queueServer {
	return &queueServer{service: service, slots: slots, start: time.Now()}
}

func (s *queueServer) Do(ctx context.Context, _ []loop.Item[int], _ int) (int, error) {
	s.mu.Lock()
	s.count(1)
	var wait chan struct{}
	if s.busy < s.slots && len(s.queue) == 0 {
		s.busy++
	} else {
		wait = make(chan struct{})
		s.queue = append(s.queue, wait)
	}
	s.mu.Unlock()
	if wait != nil {
		<-wait // handed a slot by a request that finished
	}
	s.mu.Lock()
	service := s.service
	s.mu.Unlock()
	time.Sleep(service)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count(-1)
	s.busy--
	s.admit()
	return 200, nil
}

// count changes the requests in flight by d; s.mu must be held.
func (s *queueServer) count(d int) {
	s.inFlight += d
	s.changes = append(s.changes, change{at: time.Since(s.start), inFlight: s.inFlight})
}

// admit hands free slots to the requests queued first; s.mu must be held.
func (s *queueServer) admit() {
	for s.busy < s.slots && len(s.queue) > 0 {
		close(s.queue[0])
		s.queue = s.queue[1:]
		s.busy++
	}
}

// setService changes the service time of the requests served from now on.
func (s *queueServer) setService(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.service = d
}

// setSlots changes the number of slots; requests being served beyond it finish.
func (s *queueServer) setSlots(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slots = n
	s.admit()
}

// window returns the time-weighted mean and the maximum of the requests in flight at the
// server during [from, to), and how many requests arrived then.
func (s *queueServer) window(from, to time.Duration) (mean float64, peak, arrived int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var area float64
	prev := change{}
	for i, c := range s.changes {
		if i > 0 && c.inFlight > s.changes[i-1].inFlight && c.at >= from && c.at < to {
			arrived++
		}
		lo, hi := max(prev.at, from), min(c.at, to)
		if hi > lo {
			area += float64(prev.inFlight) * (hi - lo).Seconds()
		}
		if c.at >= from && c.at < to {
			peak = max(peak, c.inFlight)
		}
		prev = c
	}
	if hi := to; hi > max(prev.at, from) {
		area += float64(prev.inFlight) * (hi - max(prev.at, from)).Seconds()
	}
	return area / (to - from).Seconds(), peak, arrived
}

// runFor runs an endless source through act for d of simulated time.
func runFor(t *testing.T, d time.Duration, act loop.Action[int], opts loop.Options[int]) loop.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	sum, _ := loop.Run(ctx, &sliceSource{n: math.MaxInt}, act, opts)
	return sum
}

// TestAdaptiveConcurrencyGrowsToTheCap: 100ms round trips, no limiter and a server that
// never queues: the requests in flight grow to the cap and never beyond it.
func TestAdaptiveConcurrencyGrowsToTheCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newQueueServer(1000, 100*time.Millisecond)
		sum := runFor(t, 10*time.Second, srv, loop.Options[int]{MaxConcurrency: 64})
		mean, peak, n := srv.window(2*time.Second, 10*time.Second)
		t.Logf("after 2s: %d requests, %.1f in flight on average, peak %d; whole run %d requests, loop's peak %d", n, mean, peak, sum.Requests, sum.PeakInFlight)
		if mean < 60 || peak > 64 || sum.PeakInFlight > 64 {
			t.Errorf("%.1f in flight on average, peak %d (loop's %d); want ≥ 60 and never above the cap 64", mean, peak, sum.PeakInFlight)
		}
	})
}

// TestAdaptiveConcurrencyShrinksWhenTheServerQueues: a server with 64 slots that keeps
// only 8 after 10s. While it has 64 the requests in flight grow to about that many; once
// it has 8, requests queue, round trips lengthen, and the requests in flight come down
// near 8 while the 8 slots stay busy.
func TestAdaptiveConcurrencyShrinksWhenTheServerQueues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const service = 50 * time.Millisecond
		srv := newQueueServer(64, service)
		time.AfterFunc(10*time.Second, func() { srv.setSlots(8) })
		sum := runFor(t, 30*time.Second, srv, loop.Options[int]{})
		before, _, _ := srv.window(3*time.Second, 10*time.Second)
		after, peak, n := srv.window(20*time.Second, 30*time.Second)
		rate := float64(n) / 10 / (8 / service.Seconds())
		t.Logf("64 slots: %.1f in flight on average; 8 slots: %.1f on average (peak %d), %.1f%% of the server's capacity; loop's peak %d",
			before, after, peak, 100*rate, sum.PeakInFlight)
		if before < 48 {
			t.Errorf("64 slots: %.1f in flight on average, want ≥ 48", before)
		}
		if after > 16 || rate < 0.9 {
			t.Errorf("8 slots: %.1f in flight on average and %.1f%% of the capacity; want ≤ 16 and ≥ 90%%", after, 100*rate)
		}
		if sum.PeakInFlight > loop.DefaultMaxConcurrency {
			t.Errorf("peak %d in flight, above the cap %d", sum.PeakInFlight, loop.DefaultMaxConcurrency)
		}
	})
}

// TestAdaptiveConcurrencySlowerNetwork: round trips triple after 10s (a slower path, not
// a queue): the pool cuts once, finds that half the load has the same round trips, takes
// them as its new baseline, and grows back to the cap.
func TestAdaptiveConcurrencySlowerNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newQueueServer(1000, 50*time.Millisecond)
		time.AfterFunc(10*time.Second, func() { srv.setService(150 * time.Millisecond) })
		sum := runFor(t, 30*time.Second, srv, loop.Options[int]{MaxConcurrency: 64})
		before, _, _ := srv.window(3*time.Second, 10*time.Second)
		after, _, _ := srv.window(15*time.Second, 30*time.Second)
		t.Logf("50ms: %.1f in flight on average; 150ms: %.1f; loop's peak %d", before, after, sum.PeakInFlight)
		if before < 60 || after < 60 {
			t.Errorf("%.1f in flight at 50ms and %.1f at 150ms, want both ≥ 60 of the cap 64", before, after)
		}
	})
}

// TestAdaptiveConcurrencyLeavesTheRateToTheLimiter: with a limiter of R requests/s and
// round trips of L, the pool grows until the limiter is the bound (about R×L in flight
// at the server), not to the cap, and the limiter keeps its rate within 1%.
func TestAdaptiveConcurrencyLeavesTheRateToTheLimiter(t *testing.T) {
	tests := []struct {
		name    string
		rate    float64
		latency time.Duration
	}{
		{"250/s at 50ms", 250, 50 * time.Millisecond},
		{"250/s at 100ms", 250, 100 * time.Millisecond},
		{"200/s at 50ms", 200, 50 * time.Millisecond},
		{"1000/s at 100ms", 1000, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const d = 20 * time.Second
				srv := newQueueServer(10000, tt.latency)
				sum := runFor(t, d, srv, loop.Options[int]{Limiter: ratelimit.New(ratelimit.Config{Rate: tt.rate})})
				mean, _, _ := srv.window(2*time.Second, d)
				need := tt.rate * tt.latency.Seconds()
				want := tt.rate * d.Seconds()
				t.Logf("%d requests (%.2f%% of %.0f), %.1f in flight at the server on average (rate × latency = %.1f), loop's peak %d",
					sum.Requests, 100*float64(sum.Requests)/want, want, mean, need, sum.PeakInFlight)
				if math.Abs(float64(sum.Requests)-want) > want/100 {
					t.Errorf("%d requests in %v, want %.0f ± 1%%", sum.Requests, d, want)
				}
				if mean < 0.95*need || sum.PeakInFlight > max(16, int(4*need)) {
					t.Errorf("%.1f in flight at the server, loop's peak %d; want about %.1f, and a peak ≤ 4× that", mean, sum.PeakInFlight, need)
				}
			})
		})
	}
}

// TestAdaptiveConcurrencyOpensAtTheLimitersRate: an adaptive limiter at 1000
// requests/s sends its first request alone and fills its bucket meanwhile; once that
// request is answered (one round trip of 100ms) the pool is sized from its round trip
// at once, so the limiter, not the pool, sets the pace from then on: at least 97% of
// the 1000 requests the limiter allows in the first second reach the server in it.
// (Sizing the pool only after eight answers kept it at its initial 8 for a second round
// trip: 907.)
func TestAdaptiveConcurrencyOpensAtTheLimitersRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const r = 1000
		srv := newQueueServer(10000, 100*time.Millisecond)
		lim := ratelimit.New(ratelimit.Config{Rate: r, Adaptive: true})
		runFor(t, 2*time.Second, srv, loop.Options[int]{Limiter: lim})
		_, _, n := srv.window(0, time.Second)
		t.Logf("%d requests in the first second (%.1f%% of %d)", n, 100*float64(n)/r, r)
		if float64(n) < 0.97*r {
			t.Errorf("%d requests in the first second, want ≥ 97%% of %d", n, r)
		}
	})
}

// TestAdaptiveConcurrencySingleEventMode is issue 11's single-event case on the
// simulated server: one item per request, 50ms round trips, a server that allows 200
// requests/s (bucket of one second), and an adaptive limiter at --rate 200: at least
// 97% of 200 requests/s are accepted, fewer than 1% answered 429.
func TestAdaptiveConcurrencySingleEventMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 20 * time.Second
		srv := newSimServer(200, 200, 50*time.Millisecond)
		lim := ratelimit.New(ratelimit.Config{Rate: 200, Adaptive: true})
		sum := runFor(t, d, srv, loop.Options[int]{Limiter: lim, Classify: classify429})
		srv.mu.Lock()
		defer srv.mu.Unlock()
		got := float64(srv.accepted) / d.Seconds() / 200
		share429 := float64(srv.refused) / float64(sum.Requests)
		t.Logf("%.1f%% of 200 requests/s accepted, %d 429s (%.2f%%), loop's peak %d in flight", 100*got, srv.refused, 100*share429, sum.PeakInFlight)
		if got < 0.97 || share429 >= 0.01 {
			t.Errorf("%.1f%% of the limit with %.2f%% 429s, want ≥ 97%% and < 1%%", 100*got, 100*share429)
		}
	})
}
