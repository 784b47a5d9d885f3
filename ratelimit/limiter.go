// Package ratelimit paces requests to a remote end that enforces a rate limit: a token
// bucket (golang.org/x/time/rate) waited on with a context, a cooldown Gate that pauses
// every worker when one of them is told to wait (HTTP 429 + Retry-After), and an adaptive
// mode that finds the rate the remote end really accepts when the user does not know it.
//
// It knows nothing of HTTP or of the work being paced: callers report outcomes through
// Limiter.Accepted and Limiter.Throttled.
package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMinRate is the floor of an adaptive Limiter whose Config.MinRate is 0, in
// requests per second.
const DefaultMinRate = 1.0

// Config configures a Limiter. The zero Config is an unlimited Limiter.
type Config struct {
	// Rate is the number of requests per second allowed; 0, a negative value or +Inf
	// means unlimited. In adaptive mode it is the ceiling the rate never exceeds.
	Rate float64
	// Burst is the number of requests that may go at once after an idle spell; 0 means
	// max(1, Rate/10), a tenth of a second's worth. A new Limiter's bucket holds one
	// token, not a full burst: a run that opened with a burst would race a server whose
	// own bucket is just as full, and lose requests to 429s at the start.
	Burst int
	// Adaptive lowers the rate when the remote end throttles (see Limiter.Throttled) and
	// climbs back on successes, never above Rate nor below MinRate. It has no effect
	// when Rate is unlimited.
	Adaptive bool
	// MinRate is the adaptive floor in requests per second; 0 means DefaultMinRate (or
	// Rate, if lower).
	MinRate float64
}

// Limiter paces requests: Wait blocks until the cooldown gate is open and a token is
// available. Accepted and Throttled feed it the remote end's answers; in adaptive mode
// they steer the rate, and a Retry-After holds the limiter's gate for every waiter.
//
// A Limiter is safe for concurrent use by any number of goroutines. Create it with New.
type Limiter struct {
	bucket *rate.Limiter // nil: unlimited
	burst  int           // configured burst
	gate   Gate

	mu      sync.Mutex
	ctl     *aimd     // nil: fixed rate
	applied float64   // the rate last given to bucket
	resume  time.Time // a cut's pause lowered the bucket's burst to 1 until then; zero: not lowered
}

// New returns a Limiter for cfg. It never fails: see Config for what each zero or out of
// range value means.
func New(cfg Config) *Limiter {
	l := &Limiter{}
	if cfg.Rate <= 0 || math.IsInf(cfg.Rate, 1) || math.IsNaN(cfg.Rate) {
		return l
	}
	l.burst = cfg.Burst
	if l.burst <= 0 {
		l.burst = max(1, int(math.Ceil(cfg.Rate/10)))
	}
	l.bucket = rate.NewLimiter(rate.Limit(cfg.Rate), l.burst)
	l.bucket.AllowN(time.Now(), l.burst-1) // start with one token (see Config.Burst)
	if cfg.Adaptive {
		floor := cfg.MinRate
		if floor <= 0 {
			floor = DefaultMinRate
		}
		l.ctl = newAIMD(cfg.Rate, floor)
		l.applied = cfg.Rate
		l.bucket.SetBurst(l.ctl.burst(l.burst))
	}
	return l
}

// Wait blocks until the gate is open and the bucket grants a token. It returns
// context.Cause(ctx) (or the bucket's error when ctx's deadline cannot be met) without
// consuming a token if ctx ends first.
func (l *Limiter) Wait(ctx context.Context) error {
	if err := l.gate.Wait(ctx); err != nil {
		return err
	}
	if l.bucket == nil {
		return nil
	}
	if err := l.bucket.Wait(ctx); err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
		return err
	}
	return nil
}

// Accepted reports that a request paced by this limiter was accepted by the remote end.
// In adaptive mode the rate climbs a little.
func (l *Limiter) Accepted() {
	if l.ctl == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.ctl.succeeded(now)
	if !l.resume.IsZero() && !now.Before(l.resume) && !now.Before(l.gate.Until()) {
		l.resume = time.Time{}
		l.bucket.SetBurst(l.ctl.burst(l.burst))
	}
	// Climbing changes the rate a little per success; tell the bucket once it adds up.
	if l.ctl.rate > l.applied*1.001 || l.ctl.rate == l.ctl.ceil && l.applied != l.ctl.ceil {
		l.apply()
	}
}

// apply gives the controller's rate to the bucket; l.mu must be held.
func (l *Limiter) apply() {
	l.applied = l.ctl.rate
	l.bucket.SetLimit(rate.Limit(l.applied))
}

// Throttled reports that the remote end refused a request for rate, asking to wait
// retryAfter (0 if it did not say). A positive retryAfter holds the gate, pausing every
// Wait until then. In adaptive mode the first refusal of an episode cuts the rate; the
// refusals that follow within the episode (requests already in flight) do not.
// A cut with a positive retryAfter also saves up no burst during the pause: the bucket
// holds one token when the gate reopens (its burst is restored on the first acceptance
// after that), since the server's own bucket may have refilled to less than ours.
func (l *Limiter) Throttled(retryAfter time.Duration) {
	now := time.Now()
	if retryAfter > 0 {
		l.gate.Hold(now.Add(retryAfter))
	}
	if l.ctl == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctl.throttled(now, retryAfter) {
		l.apply()
		if retryAfter > 0 {
			// No tokens saved up during the pause: the server's own bucket may hold fewer.
			l.bucket.SetBurst(1)
			l.resume = now.Add(retryAfter)
			return
		}
		l.resume = time.Time{}
		l.bucket.SetBurst(l.ctl.burst(l.burst))
	}
}

// Rate returns the current rate in requests per second (+Inf when unlimited), for
// progress displays.
func (l *Limiter) Rate() float64 {
	if l.bucket == nil {
		return math.Inf(1)
	}
	if l.ctl == nil {
		return float64(l.bucket.Limit())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ctl.rate
}

// Paused returns the total time this limiter's gate has held waiters because of
// Retry-After.
func (l *Limiter) Paused() time.Duration { return l.gate.Paused() }
