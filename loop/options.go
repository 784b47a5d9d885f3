package loop

import (
	"math/rand/v2"
	"time"
)

// Defaults used for zero Options fields.
const (
	DefaultWorkers         = 8
	DefaultBatchLinger     = 200 * time.Millisecond
	DefaultMaxAttempts     = 5
	DefaultRateLimitBudget = 15 * time.Minute
	DefaultDrainTimeout    = 10 * time.Second
	DefaultBackoffBase     = 500 * time.Millisecond
	DefaultBackoffCap      = 60 * time.Second
)

// Options configures Run. The zero value is usable: every zero field has the default its
// comment states.
type Options[T any] struct {
	Workers     int           // concurrent requests; 0 = DefaultWorkers (8)
	BatchSize   int           // items per request; 0 or 1 = one item per attempt
	BatchBytes  int           // bound on the sum of Item.Size per batch (an item over it goes alone); 0 = none
	BatchLinger time.Duration // how long a partial batch waits for more items; 0 = 200ms
	MaxAttempts int           // attempts per request counted by backoff retries; 0 = 5
	// Backoff returns the delay before retry number attempt (1 after the first failure);
	// nil = FullJitter(500ms, 60s).
	Backoff func(attempt int) time.Duration
	// RateLimitBudget bounds the run's total Retry-After hold; 0 = 15m. When a
	// Retry-After would exceed it, the request's items fail with ErrRateLimitBudget.
	RateLimitBudget time.Duration
	Limiter         Limiter    // waited on before every attempt; nil = unlimited
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
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
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
