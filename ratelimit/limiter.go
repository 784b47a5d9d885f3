// Package ratelimit paces requests to a remote end that enforces a rate limit: a token
// bucket (golang.org/x/time/rate) waited on with a context, a cooldown Gate that pauses
// every waiter when one of them is told to wait (HTTP 429 + Retry-After), an adaptive
// mode that finds the rate the remote end really accepts when the user does not know it,
// and a Registry that lets every run of one process share the limiter of a destination.
//
// It knows nothing of HTTP or of the work being paced: callers report outcomes through
// Limiter.Accepted and Limiter.Throttled. Package ratelimit/redislimit shares one budget
// among processes and machines through Redis, with the same method set.
package ratelimit

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMinRate is the floor of an adaptive Limiter whose Config.MinRate is 0, in
// requests per second.
const DefaultMinRate = 1.0

const (
	// startMargin is the arrival jitter a full opening bucket leaves room for: it opens
	// with this much time's worth of tokens (at least one) less than its burst. A client
	// that sends exactly at the server's rate from an equally full bucket is refused as
	// soon as one request arrives a little earlier, relative to the first, than its token.
	startMargin = 20 * time.Millisecond
	// maxResumeSpread bounds the jitter of the resume after a hold; the spread is a
	// tenth of the hold, up to this.
	maxResumeSpread = 100 * time.Millisecond
	// openingTimeout bounds the opening of an unknown limit (see Config.Burst): waiters
	// behind the first request go this long after it at the latest, answered or not (an
	// answer that is neither an acceptance nor a refusal, a 503, reaches no limiter).
	openingTimeout = 250 * time.Millisecond
)

// ErrWouldExceedDeadline is returned by Limiter.Wait when the context's deadline comes
// before the token would.
var ErrWouldExceedDeadline = errors.New("ratelimit: wait would exceed the context deadline")

// Config configures a Limiter. The zero Config is an unlimited Limiter.
type Config struct {
	// Rate is the number of requests per second allowed; 0, a negative value or +Inf
	// means unlimited. In adaptive mode it is the ceiling the rate never exceeds.
	Rate float64
	// Burst is the number of requests that may go at once after an idle spell; 0 means
	// max(1, Rate/10), a tenth of a second's worth. Unless Known is set, a new Limiter's
	// bucket holds one token, not a full burst: a run that opened with a burst would race
	// a server whose own bucket is just as full, and lose requests to 429s at the start.
	// An adaptive Limiter without Known also lets only its first request go until the
	// remote end answers (Accepted or Throttled), or for 250 ms at most: a process
	// that starts while other processes' Retry-After window is open sends one request
	// into it, not one per round trip's worth of its ceiling. The bucket fills meanwhile,
	// so the round trip costs no throughput.
	// In adaptive mode the burst is also capped to a tenth of a second at the current
	// rate, unless Known is set and the rate is at the ceiling.
	Burst int
	// Known declares Rate and Burst to be the remote end's own limit, as the user stated
	// it (segloop's --burst, or a fixed --rate): a new Limiter opens with its bucket full,
	// less 20 ms worth of tokens (at least one) against arrival jitter (see
	// OpeningMargin), and an adaptive one keeps the whole burst while at the ceiling.
	Known bool
	// Adaptive lowers the rate when the remote end throttles (see Limiter.Throttled) and
	// climbs back on successes, never above Rate nor below MinRate. It has no effect
	// when Rate is unlimited.
	Adaptive bool
	// MinRate is the adaptive floor in requests per second; 0 means DefaultMinRate (or
	// Rate, if lower).
	MinRate float64
}

// Limiter paces requests: Wait blocks until no hold is in force and a token is
// available. Accepted and Throttled feed it the remote end's answers: a Retry-After
// holds the limiter's gate for every waiter, and in adaptive mode the answers steer
// the rate. The Limiter is the single owner of the Retry-After cooldown of the runs
// that use it.
//
// A Limiter is safe for concurrent use by any number of goroutines. Create it with New.
type Limiter struct {
	bucket   *rate.Limiter // nil: unlimited
	burst    int           // configured (or default) burst
	declared bool          // Config.Known
	gate     Gate
	spread   atomic.Int64 // resume jitter of the current hold, in nanoseconds
	pausing  atomic.Bool  // a hold lowered the bucket's burst to 1 (see resume)
	opening  *opening     // nil: every waiter may take a token at once

	mu       sync.Mutex
	ctl      *aimd // nil: fixed rate
	refusals Refusals
	applied  float64   // the rate last given to bucket
	resume   time.Time // a hold lowered the bucket's burst to 1 until then; zero: not lowered
}

// New returns a Limiter for cfg. It never fails: see Config for what each zero or out of
// range value means.
func New(cfg Config) *Limiter {
	l := &Limiter{}
	if cfg.Rate <= 0 || math.IsInf(cfg.Rate, 1) || math.IsNaN(cfg.Rate) {
		return l
	}
	l.burst = cfg.Burst
	l.declared = cfg.Known
	if l.burst <= 0 {
		l.burst = max(1, int(math.Ceil(cfg.Rate/10)))
	}
	l.bucket = rate.NewLimiter(rate.Limit(cfg.Rate), l.burst)
	if cfg.Adaptive {
		floor := cfg.MinRate
		if floor <= 0 {
			floor = DefaultMinRate
		}
		l.ctl = newAIMD(cfg.Rate, floor)
		l.applied = cfg.Rate
		l.bucket.SetBurst(l.burstNow())
		if !cfg.Known {
			l.opening = newOpening()
		}
	}
	open := 1 // the unknown limit's cautious start (see Config.Burst)
	if l.declared {
		open = max(1, l.bucket.Burst()-OpeningMargin(cfg.Rate))
	}
	l.bucket.AllowN(time.Now(), l.bucket.Burst()-open)
	return l
}

// OpeningMargin is how many tokens less than its burst a Known limiter of the given rate
// opens with: 20 ms worth, at least one. A client that sends exactly at a server's rate
// from a bucket as full as the server's is refused as soon as one request arrives a
// little earlier, relative to the first one, than its token came.
func OpeningMargin(rate float64) int {
	return max(1, int(math.Ceil(rate*startMargin.Seconds())))
}

// burstNow is the bucket size for the current rate; l.mu must be held (or l not yet
// shared).
func (l *Limiter) burstNow() int {
	if l.ctl == nil {
		return l.burst
	}
	return l.ctl.burst(l.burst, l.declared)
}

// Wait blocks until no hold is in force and the bucket grants a token. It returns only
// outside every hold the limiter knows of: a token obtained while a hold began is given
// up, the hold is waited out, and a fresh token is taken. Waiters that a hold stopped
// resume at jittered moments within a short spread after it ends (a tenth of the hold,
// at most 100 ms), not all at once. An adaptive limiter of unknown limit lets only one
// Wait return until the first Accepted or Throttled, or for 250 ms (see Config.Burst).
//
// Wait returns context.Cause(ctx), without consuming a token, if ctx ends first, and
// ErrWouldExceedDeadline at once if ctx's deadline comes before the token would.
func (l *Limiter) Wait(ctx context.Context) error {
	for {
		if err := l.gate.WaitJitter(ctx, time.Duration(l.spread.Load())); err != nil {
			return err
		}
		if l.bucket == nil {
			return nil
		}
		if err := l.opening.wait(ctx); err != nil {
			return err
		}
		if err := l.take(ctx); err != nil {
			return err
		}
		if !time.Now().Before(l.gate.Until()) {
			return nil
		}
	}
}

// take waits for one token of the bucket.
func (l *Limiter) take(ctx context.Context) error {
	now := time.Now()
	r := l.bucket.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d == 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && dl.Before(now.Add(d)) {
		r.CancelAt(now)
		return ErrWouldExceedDeadline
	}
	if err := sleep(ctx, d); err != nil {
		r.Cancel()
		return err
	}
	return nil
}

// Accepted reports that a request paced by this limiter was accepted by the remote end.
// In adaptive mode the rate climbs a little. The first acceptance after a hold gives the
// bucket its burst back. It never blocks for long.
func (l *Limiter) Accepted() {
	l.opening.end()
	if l.bucket == nil || l.ctl == nil && !l.pausing.Load() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !l.resume.IsZero() && !now.Before(l.resume) && !now.Before(l.gate.Until()) {
		l.resume = time.Time{}
		l.pausing.Store(false)
		l.bucket.SetBurst(l.burstNow())
	}
	if l.ctl == nil {
		return
	}
	l.refusals.Accepted()
	l.ctl.succeeded(now)
	// Climbing changes the rate a little per success; tell the bucket once it adds up.
	if l.ctl.rate > l.applied*1.001 || l.ctl.rate == l.ctl.ceil && l.applied != l.ctl.ceil {
		l.apply()
	}
}

// apply gives the controller's rate to the bucket; l.mu must be held.
func (l *Limiter) apply() {
	l.applied = l.ctl.rate
	l.bucket.SetLimit(rate.Limit(l.applied))
	if l.resume.IsZero() {
		l.bucket.SetBurst(l.burstNow())
	}
}

// Throttled reports that the remote end refused a request for rate, asking to wait
// retryAfter (0 if it did not say). A positive retryAfter holds the gate (see Hold),
// pausing every Wait until then.
//
// In adaptive mode a refusal with a Retry-After cuts the rate, the first of an episode
// only (the refusals that follow within it are requests already in flight). A refusal
// without a Retry-After is a refusal to retry, not proof of congestion: it cuts only
// when refusals are a sustained share of the recent outcomes (see Refusals), so a
// server that refuses a few requests at random does not collapse the rate.
func (l *Limiter) Throttled(retryAfter time.Duration) {
	now := time.Now()
	if retryAfter > 0 {
		l.Hold(now.Add(retryAfter))
	}
	l.opening.end()
	if l.ctl == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refusals.Refused(retryAfter) && l.ctl.throttled(now, retryAfter) {
		l.apply()
	}
}

// Hold closes the limiter's gate until the given moment, as a Retry-After does, without
// changing the rate: every Wait blocks until then (no effect if until is not after the
// current hold's end). The pause saves up no burst: the bucket holds one token when the
// gate reopens, and its burst is restored on the first acceptance after that, since the
// remote end's own bucket may have refilled to less than ours. It never blocks for long.
func (l *Limiter) Hold(until time.Time) {
	now := time.Now()
	if !until.After(now) || !until.After(l.gate.Until()) {
		return
	}
	l.spread.Store(int64(min(maxResumeSpread, until.Sub(now)/10)))
	l.gate.Hold(until)
	if l.bucket == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucket.SetBurst(1)
	l.resume = maxTime(l.resume, until)
	l.pausing.Store(true)
}

// HeldUntil returns the end of the current hold; a time not after now means none.
func (l *Limiter) HeldUntil() time.Time { return l.gate.Until() }

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
