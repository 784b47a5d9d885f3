package ratelimit

import (
	"math/bits"
	"time"
)

// Tuning of Refusals.
const (
	// refusalWindow is how many recent outcomes Refusals remembers (at most 64).
	refusalWindow = 32
	// sustainedRefusals is how many refusals among the last refusalWindow outcomes make
	// a refusal without Retry-After evidence of congestion: a quarter of them. A server
	// that refuses 5% of requests at random reaches it about once in 10,000 outcomes; a
	// client sending at 1.4× or more of a server's limit reaches it within a few dozen.
	sustainedRefusals = 8
)

// Refusals tells a refusal that signals congestion from a sporadic one. A refusal with a
// Retry-After is always congestion: the remote end says how long to wait. A refusal
// without one (an HTTP 429 with no Retry-After) is a refusal to retry, not proof of
// congestion; it counts as congestion only when refusals are a sustained share of the
// recent outcomes (8 of the last 32). Without this rule an adaptive rate collapses
// against a server that refuses a few requests at random.
//
// The zero Refusals remembers no outcome and is ready to use. It is not safe for
// concurrent use.
type Refusals struct {
	recent uint64 // bit i set: the i-th latest outcome was a refusal
}

// Accepted records an accepted request.
func (r *Refusals) Accepted() { r.push(false) }

// Refused records a refusal with the Retry-After the remote end asked for (0 if none)
// and reports whether it is evidence of congestion: always with a Retry-After, and
// without one when the recent refusals are a sustained share. Congestion clears the
// memory, so that the next verdict rests on fresh outcomes.
func (r *Refusals) Refused(retryAfter time.Duration) bool {
	r.push(true)
	if retryAfter <= 0 && bits.OnesCount64(r.recent) < sustainedRefusals {
		return false
	}
	*r = Refusals{}
	return true
}

func (r *Refusals) push(refused bool) {
	r.recent <<= 1
	if refused {
		r.recent |= 1
	}
	r.recent &= 1<<refusalWindow - 1
}
