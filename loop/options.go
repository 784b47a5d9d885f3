package loop

import (
	"math/rand/v2"
	"time"
)

// Defaults used for zero Options fields. They are the engine's, stated here only: the
// packages above refer to them.
const (
	// DefaultMaxConcurrency caps the adaptive concurrency: 128 requests in flight, as many
	// connections as an HTTP client keeps idle per host by default in this project, and
	// enough for 1,000 requests/s at 128 ms round trips.
	DefaultMaxConcurrency = 128
	DefaultBatchLinger    = 200 * time.Millisecond
	DefaultMaxAttempts    = 5
	// DefaultMaxHeld bounds the items held back for the order of their key.
	DefaultMaxHeld         = 10_000
	DefaultRateLimitBudget = 15 * time.Minute
	DefaultDrainTimeout    = 10 * time.Second
	DefaultBackoffBase     = 500 * time.Millisecond
	DefaultBackoffCap      = 60 * time.Second
)

// MaxSystemic is how many Systemic refusals in a row, with no success between them,
// abort a run. After the first one, requests go one at a time until a success.
const MaxSystemic = 4

// Options configures Run. The zero value is usable: every zero field has the default its
// comment states.
type Options[T any] struct {
	// Concurrency fixes the number of requests in flight (a request counts from the
	// moment it waits on the limiter to its answer); 0 adapts it to the measured round
	// trip, between 1 and MaxConcurrency: it grows while every slot is busy and the
	// limiter has tokens to spare, so that the limiter, not the pool, bounds the rate, and
	// shrinks when round trips lengthen because the remote end queues.
	Concurrency int
	// MaxConcurrency caps the adaptive concurrency; 0 = DefaultMaxConcurrency (128). It
	// has no effect when Concurrency is set.
	MaxConcurrency int
	BatchSize      int           // items per request; 0 or 1 = one item per attempt
	BatchBytes     int           // bound on the sum of Item.Size per batch (an item over it goes alone); 0 = none
	BatchLinger    time.Duration // how long a partial batch waits for more items; 0 = 200ms
	MaxAttempts    int           // attempts per request counted by backoff retries; 0 = 5
	// MaxHeld bounds the items held back because an earlier item of their Key is not
	// final yet; reading pauses while it is reached. 0 = DefaultMaxHeld (10,000).
	MaxHeld int
	// Backoff returns the delay before retry number attempt (1 after the first failure);
	// nil = FullJitter(500ms, 60s).
	Backoff func(attempt int) time.Duration
	// RateLimitBudget bounds the run's total Retry-After hold; 0 = 15m. When a
	// Retry-After would exceed it, the request's items fail with ErrRateLimitBudget and
	// the hold is not passed on to the limiter.
	RateLimitBudget time.Duration
	Limiter         Limiter    // waited on before every attempt; nil = unlimited (see Feedback)
	Classify        Classifier // decides after failed attempts; nil = RetryAll
	// OnResult receives every Result, from one goroutine at a time, in completion order;
	// nil discards them (the Summary still counts them). It must not keep Result.Item's
	// Value beyond the call if T holds buffers the Source reuses.
	OnResult func(Result[T])
	// DrainTimeout is how long attempts in flight may go on after the run is cancelled
	// or aborted; 0 = 10s.
	DrainTimeout time.Duration
}

// withDefaults returns o with every zero field replaced by its default.
func (o Options[T]) withDefaults() Options[T] {
	if o.Concurrency < 0 {
		o.Concurrency = 0
	}
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = DefaultMaxConcurrency
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1
	}
	if o.BatchLinger <= 0 {
		o.BatchLinger = DefaultBatchLinger
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxHeld <= 0 {
		o.MaxHeld = DefaultMaxHeld
	}
	if o.Backoff == nil {
		o.Backoff = FullJitter(DefaultBackoffBase, DefaultBackoffCap)
	}
	if o.RateLimitBudget <= 0 {
		o.RateLimitBudget = DefaultRateLimitBudget
	}
	if o.Classify == nil {
		o.Classify = RetryAll
	}
	if o.OnResult == nil {
		o.OnResult = func(Result[T]) {}
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	return o
}

// pool is the number of worker goroutines: the fixed concurrency, or the adaptive cap.
func (o Options[T]) pool() int {
	if o.Concurrency > 0 {
		return o.Concurrency
	}
	return o.MaxConcurrency
}

// FullJitter returns exponential backoff with full jitter: the delay before retry n is
// uniform in [0, min(ceiling, base*2^(n-1))]. It is safe for concurrent use.
func FullJitter(base, ceiling time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := ExpCap(base, ceiling, attempt)
		if d <= 0 {
			return 0
		}
		return rand.N(d + 1)
	}
}

// ExpCap returns min(ceiling, base*2^(attempt-1)), the bound FullJitter draws under.
func ExpCap(base, ceiling time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}
