package loop

import (
	"math"
	"time"
)

// Tuning of the adaptive concurrency (Options.Concurrency 0). They are constants, not
// options: the design below depends on them together.
const (
	// initialConcurrency is where the adaptive limit starts.
	initialConcurrency = 8
	// queueTolerance: a round whose mean round trip is more than this many times the
	// baseline shows a queue at the remote end.
	queueTolerance = 1.5
	// deepestCut bounds one cut: never below this fraction of the limit.
	deepestCut = 0.5
	// relief: a round after a cut whose mean is still above this fraction of the mean
	// that caused the cut shows that cutting did not shorten the round trips: they are
	// not a queue of this run's making, and become the new baseline.
	relief = 0.9
	// headroom: the limit grows only while a round's requests waited on the limiter less
	// than this fraction of their mean round trip. When the limiter binds, requests in
	// flight (those waiting on it included) so settle near (1 + headroom) × rate × round
	// trip, or up to twice that after a doubling.
	headroom = 0.5
	// minRound is the fewest samples a round is judged on.
	minRound = 4
)

// gradient is the adaptive concurrency controller, a Vegas-style gradient on the round
// trip in the manner of Netflix's concurrency-limits (Gradient2), driven by the
// dispatcher:
//
//   - A round lasts until max(4, limit/2) requests that started during it have finished
//     (so at least one round trip): requests started before it reflect the previous limit
//     and are not counted. Each round is judged on its mean round trip, the mean time its
//     requests waited on the limiter, and whether most of them finished while other work
//     was waiting for a slot (the pool was full).
//   - The baseline is the lowest round mean seen. A round whose mean exceeds the baseline
//     by queueTolerance shows a queue at the remote end: the limit is cut in proportion
//     (limit × tolerance × baseline / mean, at most by half) and slow start ends. If the
//     round after a cut is not faster (relief), the round trip grew for reasons of its
//     own (a slower network, a busier server): its mean becomes the baseline and the
//     limit may grow again.
//   - Otherwise, a round that filled the pool while the limiter had tokens to spare
//     (its requests waited on it less than headroom × the round trip) grows the limit:
//     twice as large per round in slow start, then by sqrt(limit). A round that waited
//     on the limiter, or had no work waiting, leaves the limit as it is: the limiter
//     then bounds the rate, and more requests in flight would only wait on it.
//
// The limit stays between 1 and max. gradient is not safe for concurrent use: only the
// dispatcher goroutine uses it.
type gradient struct {
	lim  float64
	max  float64
	slow bool          // slow start: double each round until the first cut
	base time.Duration // lowest round mean since the last rebase; 0 = no round yet
	cut  time.Duration // mean of the round that made the last cut, until the next round; 0 = none

	open      time.Time // start of the current round
	n, sat    int       // samples of the round, and how many found the pool full
	rtt, wait time.Duration
}

func newGradient(max int, now time.Time) *gradient {
	return &gradient{lim: float64(min(initialConcurrency, max)), max: float64(max), slow: true, open: now}
}

// limit returns the number of requests that may be in flight.
func (g *gradient) limit() int { return int(g.lim) }

// observe takes the sample of one attempt: it started (called Do) at start and took rtt,
// after waiting wait on the limiter; saturated tells whether other work was waiting for
// a slot when it finished, at now.
func (g *gradient) observe(now, start time.Time, rtt, wait time.Duration, saturated bool) {
	if start.Before(g.open) {
		return
	}
	g.n++
	g.rtt += rtt
	g.wait += wait
	if saturated {
		g.sat++
	}
	if g.n < max(minRound, int(g.lim)/2) {
		return
	}
	n := time.Duration(g.n)
	g.decide(g.rtt/n, g.wait/n, 2*g.sat >= g.n)
	g.open, g.n, g.sat, g.rtt, g.wait = now, 0, 0, 0, 0
}

// decide ends a round with the given mean round trip and limiter wait.
func (g *gradient) decide(mean, waited time.Duration, full bool) {
	if g.cut > 0 {
		if float64(mean) > relief*float64(g.cut) {
			g.base = mean
		}
		g.cut = 0
	}
	if g.base == 0 || mean < g.base {
		g.base = mean
	}
	switch {
	case float64(mean) > queueTolerance*float64(g.base):
		f := max(deepestCut, queueTolerance*float64(g.base)/float64(mean))
		g.lim = max(1, math.Floor(g.lim*f))
		g.slow = false
		g.cut = mean
	case full && float64(waited) <= headroom*float64(mean):
		if g.slow {
			g.lim = min(g.max, 2*g.lim)
		} else {
			g.lim = min(g.max, g.lim+max(1, math.Floor(math.Sqrt(g.lim))))
		}
	}
}
