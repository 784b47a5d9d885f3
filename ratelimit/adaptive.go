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
	// climbDoubling is how long the rate must climb without a refusal for the additive
	// step to double, up to maxClimbBoost times: capacity that other clients left (the
	// other processes of a workspace finished) is found in seconds, not minutes. A
	// limiter refused before any acceptance (others hold the budget; it likely has the
	// smallest share) doubles every lateDoubling.
	climbDoubling = 2 * time.Second
	lateDoubling  = time.Second
	maxClimbBoost = 32
	// burstSpan bounds the burst to this much time at the current rate, so that the
	// tokens saved up during a Retry-After pause do not overrun a server whose bucket has
	// just refilled.
	burstSpan = 100 * time.Millisecond
)

// aimd is the adaptive rate controller: additive increase, multiplicative decrease, with
// the decrease informed by a measurement of the rate the remote end really accepts.
//
// The measurement: a server that throttles with a token bucket (rate R, burst B) has an
// empty bucket at the moment it refuses a request. Between a cut at t1 (a refusal, then
// a Retry-After pause of p) and the next refusal at t2 it therefore accepted exactly
// n = S + R*t requests, t = t2-t1-p being the active time after the pause and S what its
// bucket saved up during the pause: S = min(B, R*p) (the client does not burst after a
// pause, see Limiter.Throttled, and sends at or above R until the refusal). Two readings
// bracket R:
//   - n/(t+p), pause included, assumes S = R*p: exact for a bucket of a second or more
//     (B ≥ R*p, p being a whole-second Retry-After), low for a smaller one;
//   - (n-S)/t, with S = min(B̂, R*p), uses an estimate B̂ of the server's burst: the
//     acceptances before the very first refusal (a = B + R*t0, a fresh server's full
//     bucket plus what it refilled meanwhile), an upper bound of B that is close when the
//     client starts well above R. R*p is taken from the first reading, so S is at most
//     what the first reading assumes and this reading is never the lower one; it is
//     exact for a big bucket (S = R*p) and a tiny one (S = B ≈ B̂) alike.
//
// Where B̂ is of the order of R*p the second reading is the first one's noise amplified
// by (t+p)/t: that is the case of processes that share one server, each having drawn a
// random share of its opening bucket (B̂ ≈ R*p ± 30% for three of them), and a B̂ a
// little under R*p turned a fair share into one half again as large, which the climb
// then kept. So S is taken as min(R*p, B̂*(1+16x⁴)), x = B̂/(R*p): B̂ itself for a tiny
// bucket (x ≤ 0.15: within 1%), R*p, and thus the first reading, from x = 0.5 on.
//
// The controller jumps to the second (less 1%, and at least a 3% cut), then climbs slowly
// to probe for more. It errs low when B̂ is high (a client that started near R), which the
// climb repairs; it errs high only if the server's bucket was not full at the start, and
// then each refusal still cuts at least 3%. Refusals within max(Retry-After, 250ms) of a
// cut are echoes of requests already in flight and do not cut again (a longer Retry-After
// among them extends the pause). With fewer than 4 acceptances to measure, the cut is
// blind (×0.5) and the climb 5× faster. A refusal before any acceptance at all (a
// process that starts while others have emptied the server's bucket, or inside their
// Retry-After window) cuts to a tenth of the refused rate, as the deepest first cut
// does: halving a ceiling that is ten times a share takes three more windows, each of
// which the other processes pay for too.
//
// The climb is 3% of the post-cut rate per second, but at most 3% of B̂/1s: an
// overshoot of the climb empties the server's bucket in about sqrt(2B/climb) seconds, so
// against a bucket of 0.1 s a full-rate climb would be refused (and lose a whole-second
// pause) every two seconds; scaled to B̂ it takes about as long as against a 1 s bucket.
//
// The climb speeds up the longer it goes without a refusal: the step doubles every 2 s
// since the last pause ended, up to 32×, so that capacity other clients left (the other
// processes sharing a workspace finished; each had measured its own share) is found in
// seconds, not minutes. A limiter whose first refusal came before any acceptance (it
// started while others held the budget) has no B̂; its climb is boosted all the same,
// and doubles every second: it is likely the one with the smallest share, whose climb
// is a fraction of its own small rate, and at a doubling every 2 s it took ten seconds
// to take over what the others left when they finished. (A doubling every second for
// every limiter also served processes started apart, but cost an extra window to three
// processes started together at a ceiling of the server's rate, and to the shared
// controller of package redislimit.) Against a server whose bucket B̂ holds less than
// half a second at the base rate, where an overshoot is refused at once and costs a
// whole pause, and after a blind cut, the climb is not boosted.
//
// The first refusal has no earlier one to measure from. Acceptances since the first one,
// a = B + R*t, bound R from below by a/(t+1s) for any server whose burst B is at most one
// second's worth (segmenttest's, and common practice); the first cut goes there (but
// never below a tenth of the refused rate); the second refusal, if any, measures.
//
// Known weakness: against a tiny bucket the first cut has nothing to go on (a ≈ B), so it
// lands on the tenth of the refused rate; a client started at 10×R lands on R, one started
// at 3×R lands far below R and climbs slowly (more slowly still for the climb's scaling to
// B̂) until a second refusal measures.
//
// aimd is not safe for concurrent use; Limiter guards it.
type aimd struct {
	ceil, floor float64   // bounds, requests/s
	rate        float64   // current rate
	base        float64   // rate right after the last cut: the additive step is a fraction of it
	step        float64   // additive step: climb or blindClimb
	first       time.Time // first acceptance
	lastCut     time.Time
	reopen      time.Time // end of the last cut's Retry-After pause (lastCut if none)
	serverBurst float64   // B̂: acceptances before the first refusal; 0 = unknown
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
		a.reopen = maxTime(a.reopen, now.Add(retryAfter))
		return false
	}
	next := a.rate * blindCut
	a.step = blindClimb
	switch {
	case a.lastCut.IsZero() && a.first.IsZero():
		next = a.rate * deepestFirstCut
		a.step = climb
	case a.lastCut.IsZero():
		secs := (now.Sub(a.first) + assumedBurst).Seconds()
		est := float64(a.accepted) / secs * estimateMargin
		next = min(max(est, a.rate*deepestFirstCut), a.rate*maxCut)
		a.serverBurst = float64(a.accepted)
		a.step = climb
	case !a.lastCut.IsZero() && a.accepted >= minSamples:
		if est := a.measure(now); est > 0 {
			next = min(est*estimateMargin, a.rate*maxCut)
			a.step = climb
		}
	}
	a.rate = math.Max(a.floor, math.Min(a.ceil, next))
	a.base = a.rate
	if a.step == climb && a.serverBurst > 0 {
		a.step = climb * math.Min(1, a.serverBurst/a.base)
	}
	a.lastCut = now
	a.reopen = now.Add(retryAfter)
	a.accepted = 0
	a.quietUntil = now.Add(max(retryAfter, episode))
	return true
}

// measure returns the rate the server accepted since the last cut (see aimd), or 0 if it
// cannot tell: acceptances less what the server's bucket saved up during the pause, over
// the active time since the pause ended; without B̂, or with a B̂ of the order of what
// the pause refilled, acceptances over the whole time.
func (a *aimd) measure(now time.Time) float64 {
	whole := now.Sub(a.lastCut).Seconds()
	if whole <= 0 {
		return 0
	}
	n := float64(a.accepted)
	lo := n / whole // pause included: exact for a bucket of at least R × pause
	active := now.Sub(a.reopen).Seconds()
	if active <= 0 || a.serverBurst <= 0 {
		return lo
	}
	refill := lo * (whole - active) // R*p, as the first reading has it
	x := a.serverBurst / refill
	saved := math.Min(refill, a.serverBurst*(1+16*x*x*x*x)) // see aimd: B̂ is noisy near R*p
	return (n - saved) / active
}

// succeeded records an accepted request and climbs additively: sending at rate r, the
// rate grows by climb*base per second.
func (a *aimd) succeeded(now time.Time) {
	if a.first.IsZero() {
		a.first = now
	}
	a.accepted++
	if a.rate < a.ceil {
		a.rate = math.Min(a.ceil, a.rate+a.boost(now)*a.step*a.base/a.rate)
	}
}

// boost is the factor of the additive step at now: doubled for every climbDoubling
// (lateDoubling without B̂) since the last pause ended, up to maxClimbBoost; 1 (no boost) against a server whose bucket
// B̂ (when known) holds less than half a second at the current base rate, which an
// overshoot would empty at once, and after a blind cut, whose climb is fast already.
func (a *aimd) boost(now time.Time) float64 {
	if a.lastCut.IsZero() || !now.After(a.reopen) || a.serverBurst > 0 && a.serverBurst < a.base/2 || a.step == blindClimb {
		return 1
	}
	d := climbDoubling
	if a.serverBurst <= 0 {
		d = lateDoubling
	}
	return math.Min(maxClimbBoost, math.Exp2(math.Floor(now.Sub(a.reopen).Seconds()/d.Seconds())))
}

// burst returns the bucket size to use at the current rate: the configured burst, but at
// most burstSpan's worth of requests, except that a declared burst is kept whole while
// the rate is at the ceiling (the user told us the remote end's bucket at that rate).
func (a *aimd) burst(configured int, declared bool) int {
	if declared && a.rate >= a.ceil {
		return configured
	}
	return max(1, min(configured, int(a.rate*burstSpan.Seconds())))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
