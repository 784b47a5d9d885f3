package segmenttest

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// fault is what the gate injects into an otherwise acceptable request.
type fault int

const (
	faultNone  fault = iota
	faultReset       // reset the connection without an answer
	faultFail        // answer 503
)

// gate decides, per request and under one short-held mutex, whether a
// request is throttled (token bucket and announced Retry-After windows) and
// which fault, if any, it gets. The fault RNG is drawn once per request that
// reaches it, so a fixed seed and request order give fixed faults.
type gate struct {
	mu      sync.Mutex
	limiter *rate.Limiter // nil: unlimited
	grace   time.Duration
	until   time.Time // end of the announced Retry-After window
	opened  time.Time // when the 429 that opened the window was sent
	rng     *rand.Rand
	fail    float64
	reset   float64
}

func newGate(o Options) *gate {
	g := &gate{
		grace: o.Grace,
		fail:  o.FailRate,
		reset: o.ResetRate,
		rng:   rand.New(rand.NewPCG(uint64(o.Seed), uint64(o.Seed)^0x9e3779b97f4a7c15)),
	}
	if o.Rate > 0 {
		g.limiter = rate.NewLimiter(rate.Limit(o.Rate), o.Burst)
	}
	return g
}

// throttle reports whether a request arriving at now must be answered 429.
// If so, it returns the Retry-After to announce (whole seconds, at least 1),
// the end of the window for X-RateLimit-Reset, and whether the request
// arrived inside an announced window more than the grace period after the
// 429 that opened it. A token-bucket refusal opens a new window that lasts
// the announced Retry-After.
func (g *gate) throttle(now time.Time) (wait time.Duration, until time.Time, early, throttled bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Before(g.until) {
		return wholeSeconds(g.until.Sub(now)), g.until, now.Sub(g.opened) > g.grace, true
	}
	if g.limiter == nil {
		return 0, time.Time{}, false, false
	}
	r := g.limiter.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if r.OK() && d == 0 {
		return 0, time.Time{}, false, false
	}
	r.CancelAt(now)
	wait = wholeSeconds(d)
	g.until, g.opened = now.Add(wait), now
	return wait, g.until, false, true
}

// announce opens a Retry-After window of wait starting at now, as a scripted
// 429 does, unless a longer one is already open.
func (g *gate) announce(now time.Time, wait time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if end := now.Add(wait); end.After(g.until) {
		g.until, g.opened = end, now
	}
}

// inject draws the fault for one otherwise acceptable request.
func (g *gate) inject() fault {
	if g.fail <= 0 && g.reset <= 0 {
		return faultNone
	}
	g.mu.Lock()
	x := g.rng.Float64()
	g.mu.Unlock()
	switch {
	case x < g.reset:
		return faultReset
	case x < g.reset+g.fail:
		return faultFail
	}
	return faultNone
}

// wholeSeconds rounds d up to whole seconds, at least one.
func wholeSeconds(d time.Duration) time.Duration {
	return time.Duration(max(1, math.Ceil(d.Seconds()))) * time.Second
}
