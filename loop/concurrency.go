package loop

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// Tuning of the adaptive concurrency (Options.Concurrency 0). They are constants, not
// options: the design below depends on them together.
const (
	// initialConcurrency is where the adaptive limit starts.
	initialConcurrency = 8
	// queueTolerance: a round whose mean round trip is more than this many times the
	// baseline, and longer by at least minQueue, shows a queue at the remote end.
	queueTolerance = 1.5
	// minQueue is the least lengthening of the round trip taken for a queue: below it the
	// round trip is noise (a loaded machine varies that much on loopback), and a queue
	// that short costs nothing worth cutting for.
	minQueue = time.Millisecond
	// deepestCut bounds the gradient: a cut aims at no less than this fraction of the
	// limit.
	deepestCut = 0.5
	// smoothing: a cut goes this share of the way to where the gradient aims, so that
	// one noisy round costs little while a lasting queue still halves the limit in a
	// few rounds.
	smoothing = 0.5
	// relief: two probe rounds in a row (at half the limit) whose means are within this
	// factor of the rounds before them show that the round trips are not a queue of this
	// run's making: the last probe's mean becomes the baseline. (One alone may have met a
	// queue still building; much longer round trips say nothing: conditions changed
	// during the probe. Either way the next cut probes again.)
	relief = 0.9
	// probeEvery is the least time between two probe rounds.
	probeEvery = 10 * time.Second
	// headroom: with a limiter of known rate R, the limit is (1 + headroom) × R × round
	// trip, enough for the limiter to reach its rate.
	headroom = 0.5
	// slowExit: in slow start, a round whose mean round trip exceeds the baseline by this
	// factor ends slow start (as HyStart ends TCP's on a delay increase): the queue it
	// announces may not show as one before the next doubling has overshot it.
	slowExit = 1.125
	// minRound is the fewest samples a round is judged on.
	minRound = 8
	// fullUse is the share of the limit that must be in flight, on average over a round,
	// for the pool to count as full.
	fullUse = 0.8
)

// gradient is the adaptive concurrency controller, a Vegas-style gradient on the round
// trip in the manner of Netflix's concurrency-limits (Gradient2), driven by the
// dispatcher:
//
//   - A round lasts until max(8, limit/2) requests handed out during it have finished,
//     so at least one round trip: requests handed out before it reflect the previous
//     limit and are not counted. Each round is judged on its mean round trip and on
//     whether the pool was full (on average over the round, fullUse of the limit in
//     flight). Under a limiter of known rate, the first accepted answer already sizes
//     the pool (see size).
//   - The baseline is the lowest round mean seen. A round whose mean exceeds it by
//     queueTolerance (and by minQueue) shows a queue at the remote end: the limit is cut
//     towards limit × tolerance × baseline / mean (halfway, and by half at most), and
//     slow start ends. A queue seen with one request in flight is not of this run's
//     making: its mean becomes the baseline.
//   - A cut is followed, at most every probeEvery, by a probe round at half the limit. If
//     halving the load left the round trips as they were (within a tenth), twice in a
//     row, the latency is not a queue of this run's making (a slower network, a busier
//     server): the probe's mean becomes the baseline. The limit then goes back to where
//     the cut left it.
//   - Otherwise the limit follows the limiter: with a limiter whose rate R is known
//     (*ratelimit.Limiter, *rate.Limiter, or none: R unlimited), the target is (1 +
//     headroom) × R × round trip; the limit goes to it at once if the pool was full (a
//     limiter that binds sets the load, so more requests in flight only wait on it), and
//     is trimmed back to it when it is twice as much (the limiter slowed down). With R
//     unlimited, a full pool grows the limit, twice as large per round in slow start, then
//     by sqrt(limit); slow start also ends at a round whose mean exceeds the baseline by
//     slowExit. With a limiter that does not say its rate, the pool grows the same
//     way while most of a round's requests waited on it less than a tenth of their round
//     trip.
//
// The limit stays between 1 and max. gradient is not safe for concurrent use: only the
// dispatcher goroutine uses it.
type gradient struct {
	lim      float64
	max      float64
	rate     func() float64 // the limiter's rate in requests/s (+Inf: unlimited); nil: unknown
	slow     bool           // slow start: double each round until the first cut
	base     time.Duration  // lowest round mean (or a probe's); 0 = no round yet
	probing  bool           // the current round is a probe at half the limit
	resume   float64        // the limit to go back to after the probe
	prev     time.Duration  // mean of the round before the probe
	probedAt time.Time      // start of the last probe; zero: never
	same     bool           // the last probe found the same round trips at half the load
	sized    bool           // an accepted answer has been seen (see size)

	open     uint64    // the current round counts the requests handed out from this one on
	openedAt time.Time // when the current round began
	n, waits int       // samples of the round; of which waited long on the limiter
	rtt      time.Duration
	inFlight int       // requests in flight now
	since    time.Time // when inFlight last changed
	area     float64   // requests in flight × seconds, over the round so far
}

func newGradient(max int, rate func() float64, now time.Time) *gradient {
	return &gradient{lim: float64(min(initialConcurrency, max)), max: float64(max), rate: rate, slow: true, openedAt: now, since: now}
}

// rateOf returns a function reporting lim's rate in requests/s, or nil if lim does not
// say: *ratelimit.Limiter's Rate, *rate.Limiter's Limit, and +Inf for no limiter.
func rateOf(lim Limiter) func() float64 {
	switch l := lim.(type) {
	case nil:
		return func() float64 { return math.Inf(1) }
	case interface{ Rate() float64 }:
		return l.Rate
	case interface{ Limit() rate.Limit }:
		return func() float64 { return float64(l.Limit()) }
	}
	return nil
}

// size sizes the pool from the first accepted answer, if the limiter's rate R is known
// and finite: the limit becomes at least the target (1 + headroom) × R × its round trip
// (Little's law) at once, instead of after the first round's eight answers. Behind an
// adaptive limiter's opening (its first request goes alone until answered) waiting for
// them kept the pool at its initial size for a second round trip. It only ever raises
// the limit: one answer is too little to cut on (a quick refusal, a stale connection),
// and a long one (a connection's handshake) costs nothing lasting: the limiter still
// keeps the rate, and a later round trims a limit twice its target.
func (g *gradient) size(rtt time.Duration) {
	g.sized = true
	if g.rate == nil {
		return
	}
	if r := g.rate(); !math.IsInf(r, 1) {
		g.lim = max(g.lim, min(g.max, math.Ceil((1+headroom)*r*rtt.Seconds())))
	}
}

// limit returns the number of requests that may be in flight.
func (g *gradient) limit() int { return int(g.lim) }

// flight records that n requests are in flight from now on.
func (g *gradient) flight(now time.Time, n int) {
	g.area += float64(g.inFlight) * now.Sub(g.since).Seconds()
	g.inFlight, g.since = n, now
}

// observe takes the sample of one attempt, at now: seq numbers the requests in the order
// they were handed out (handed is the number handed out so far), rtt is how long the
// attempt took after waiting wait on the limiter, and ok says whether it was accepted.
func (g *gradient) observe(now time.Time, seq, handed uint64, rtt, wait time.Duration, ok bool) {
	if seq < g.open {
		return
	}
	if ok && !g.sized {
		g.size(rtt)
	}
	g.n++
	g.rtt += rtt
	if wait*10 > rtt {
		g.waits++
	}
	if g.n < max(minRound, int(g.lim)/2) {
		return
	}
	g.flight(now, g.inFlight)
	full := true
	if d := now.Sub(g.openedAt).Seconds(); d > 0 {
		full = g.area/d >= fullUse*g.lim
	}
	g.decide(now, g.rtt/time.Duration(g.n), full, 2*g.waits >= g.n)
	g.open, g.openedAt, g.n, g.waits, g.rtt, g.area = handed, now, 0, 0, 0, 0
}

// decide ends a round with the given mean round trip; full: the pool was full; waited:
// the limiter made most requests wait.
func (g *gradient) decide(now time.Time, mean time.Duration, full, waited bool) {
	if g.probing {
		switch m, p := float64(mean), float64(g.prev); {
		case m >= relief*p && m*relief <= p && g.same:
			g.base, g.same = mean, false // half the load, the same round trips, twice: not our queue
		case m >= relief*p && m*relief <= p:
			g.same, g.probedAt = true, time.Time{} // to be confirmed by the next cut's probe
		case m < p:
			g.base, g.same = min(g.base, mean), false // relief: the queue was ours
		default:
			g.same, g.probedAt = false, time.Time{} // slower still: things changed meanwhile, probe again
		}
		g.probing, g.lim = false, g.resume
		return
	}
	if g.base == 0 || mean < g.base {
		g.base = mean
	}
	if float64(mean) > queueTolerance*float64(g.base) && mean-g.base > minQueue {
		if g.lim <= 1 {
			g.base = mean // nothing left to cut: the round trips are what they are
			return
		}
		f := max(deepestCut, queueTolerance*float64(g.base)/float64(mean))
		g.lim = max(1, math.Floor(g.lim*(1-smoothing*(1-f))))
		g.slow = false
		if g.probedAt.IsZero() || now.Sub(g.probedAt) >= probeEvery {
			g.probing, g.resume, g.prev, g.probedAt = true, g.lim, mean, now
			g.lim = max(1, math.Floor(g.lim/2))
		}
		return
	}
	target := math.Inf(1) // the most requests in flight the limiter can use
	switch {
	case g.rate != nil:
		target = max(1, math.Ceil((1+headroom)*g.rate()*mean.Seconds()))
	case waited:
		target = g.lim
	}
	switch {
	case full && g.lim < target && !math.IsInf(target, 1):
		g.lim = min(g.max, target)
	case full && g.lim < target:
		if g.slow && float64(mean) > slowExit*float64(g.base) {
			g.slow = false // the round trips have begun to lengthen: grow gently from now on
		}
		step := max(1, math.Floor(math.Sqrt(g.lim)))
		if g.slow {
			step = g.lim
		}
		g.lim = min(g.max, g.lim+step)
	case g.lim > 2*target:
		g.lim = min(g.max, target)
	}
}
