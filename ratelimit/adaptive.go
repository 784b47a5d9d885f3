package ratelimit

import (
	"math"
	"time"
)

// Tuning of the adaptive controller. They are constants, not options: the design below
// depends on them together.
const (
	// blindCut is the multiplicative decrease used when no measurement is available
	// (too few acceptances since the last throttle).
	blindCut = 0.5
	// deepestFirstCut bounds the first cut, whose estimate rests on an assumption about
	// the server's burst: never below this fraction of the refused rate.
	deepestFirstCut = 0.1
	// assumedBurst is the server burst the first estimate assumes, in seconds of its
	// rate: acceptances before the first refusal = B + R*t, with B ≤ R*assumedBurst.
	assumedBurst = time.Second
	// maxCut is the least a measured throttle cuts: never keep more than 97% of the rate
	// that was just refused.
	maxCut = 0.97
	// estimateMargin scales the measured accepted rate to land just under it.
	estimateMargin = 0.99
	// minSamples is the number of acceptances needed between two throttles for the
	// measured rate to be trusted.
	minSamples = 4
	// climb is the additive increase: while requests keep succeeding the rate grows by
	// this fraction of the post-cut rate per second of sending at that rate.
	climb = 0.03
	// blindClimb is the faster additive increase after a blind cut, which may have gone
	// far too deep.
	blindClimb = 0.15
	// episode is the shortest time after a cut during which further throttles are taken
	// as echoes of the same episode (requests already in flight when the rate was cut).
	episode = 250 * time.Millisecond
	// burstSpan bounds the burst to this much time at the current rate, so that the
	// tokens saved up during a Retry-After pause do not overrun a server whose bucket has
	// just refilled.
	burstSpan = 100 * time.Millisecond
)

// aimd is the adaptive rate controller: additive increase, multiplicative decrease, with
// the decrease informed by a measurement of the rate the remote end really accepts.
//
// The measurement: a server that throttles with a token bucket (rate R, burst B) has an
// empty bucket at the moment it refuses a request. Between two refusals at t1 and t2 it
// therefore accepted exactly R*(t2-t1) requests, provided its bucket never sat full (it
// does not, while the client pushes at or above R and pauses no longer than B/R). So
// acceptances/(t2-t1) measures R, Retry-After pauses included, and the controller jumps
// straight to it (less 1%, and at least a 3% cut), then climbs slowly to probe for more.
// A measurement errs only low (idle client; bucket capped during a pause longer than
// B/R), so the climb repairs any error. Refusals within max(Retry-After, 250ms) of a cut
// are echoes of requests already in flight and do not cut again. With fewer than 4
// acceptances to measure, the cut is blind (×0.5) and the climb 5× faster.
//
// The first refusal has no earlier one to measure from. Acceptances since the first one,
// a = B + R*t, bound R from below by a/(t+1s) for any server whose burst B is at most one
// second's worth (segmenttest's, and common practice); the first cut goes there (but
// never below a tenth of the refused rate); the second refusal, if any, measures.
//
// Known weakness: against a server with a burst much smaller than R × Retry-After, every
// pause wastes tokens, measurements come out low and the rate settles well under R.
//
// aimd is not safe for concurrent use; Limiter guards it.
type aimd struct {
	ceil, floor float64   // bounds, requests/s
	rate        float64   // current rate
	base        float64   // rate right after the last cut: the additive step is a fraction of it
	step        float64   // additive step: climb or blindClimb
	first       time.Time // first acceptance
	lastCut     time.Time
	quietUntil  time.Time // throttles before this are echoes of the last episode
	accepted    int64     // acceptances since lastCut
}

func newAIMD(ceil, floor float64) *aimd {
	return &aimd{ceil: ceil, floor: min(floor, ceil), rate: ceil, base: ceil, step: climb}
}

// throttled records a refusal for rate at now, with the Retry-After the remote end asked
// for (0 if none). It reports whether the rate was cut.
func (a *aimd) throttled(now time.Time, retryAfter time.Duration) bool {
	if now.Before(a.quietUntil) {
		return false
	}
	next := a.rate * blindCut
	a.step = blindClimb
	switch {
	case a.lastCut.IsZero() && !a.first.IsZero():
		secs := (now.Sub(a.first) + assumedBurst).Seconds()
		est := float64(a.accepted) / secs * estimateMargin
		next = min(max(est, a.rate*deepestFirstCut), a.rate*maxCut)
		a.step = climb
	case !a.lastCut.IsZero() && a.accepted >= minSamples:
		if secs := now.Sub(a.lastCut).Seconds(); secs > 0 {
			est := float64(a.accepted) / secs * estimateMargin
			next = min(est, a.rate*maxCut)
			a.step = climb
		}
	}
	a.rate = math.Max(a.floor, math.Min(a.ceil, next))
	a.base = a.rate
	a.lastCut = now
	a.accepted = 0
	a.quietUntil = now.Add(max(retryAfter, episode))
	return true
}

// succeeded records an accepted request and climbs additively: sending at rate r, the
// rate grows by climb*base per second.
func (a *aimd) succeeded(now time.Time) {
	if a.first.IsZero() {
		a.first = now
	}
	a.accepted++
	if a.rate < a.ceil {
		a.rate = math.Min(a.ceil, a.rate+a.step*a.base/a.rate)
	}
}

// burst returns the bucket size to use at the current rate: the configured burst, but at
// most burstSpan's worth of requests.
func (a *aimd) burst(configured int) int {
	return max(1, min(configured, int(a.rate*burstSpan.Seconds())))
}
