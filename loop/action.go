package loop

import (
	"context"
	"time"
)

// Action does the work for a batch of items, one attempt at a time.
type Action[T any] interface {
	// Do makes ONE attempt at the batch (1 ≤ len ≤ Options.BatchSize); attempt counts the
	// calls made for this request, from 1, Retry-After retries included. It returns the
	// remote status code (0 if none) and a non-nil error unless the attempt succeeded.
	// Do is called from several goroutines at once; it must not keep batch after it
	// returns.
	Do(ctx context.Context, batch []Item[T], attempt int) (code int, err error)
}

// ActionFunc adapts a function to an Action.
type ActionFunc[T any] func(ctx context.Context, batch []Item[T], attempt int) (int, error)

// Do calls f.
func (f ActionFunc[T]) Do(ctx context.Context, batch []Item[T], attempt int) (int, error) {
	return f(ctx, batch, attempt)
}

// Classifier decides what to do after a failed attempt (err != nil). It is called from
// several goroutines at once and must not block.
type Classifier func(code int, err error) Verdict

// Verdict is a Classifier's decision. The zero Verdict means a permanent failure: no
// retry, a batch is bisected, a single item fails.
type Verdict struct {
	// Retry tries again after a backoff, counting against Options.MaxAttempts, unless
	// RetryAfter > 0. The request waits out its backoff parked: it holds no worker.
	Retry bool
	// Immediate, with Retry, tries again at once instead of after a backoff, once per
	// request: for a failure that says nothing about the remote end's load, such as a
	// kept-alive connection the remote end had already closed. The attempt counts
	// against MaxAttempts like any other, and waits on the limiter, but it does not
	// lengthen the request's later backoffs (the first backoff after it is the first
	// step of the schedule). A request's later Immediate failures back off.
	Immediate bool
	// RetryAfter > 0 pauses every request this long (a shared cooldown held by the
	// limiter, see Feedback) and then retries; it does not use an attempt, and the run's
	// total hold is bounded by Options.RateLimitBudget.
	RetryAfter time.Duration
	// Throttled marks a refusal for rate (HTTP 429): it is counted, and reported to a
	// limiter that implements Feedback.
	Throttled bool
	// Fatal stops the whole run (e.g. a bad credential).
	Fatal bool
	// Systemic marks a permanent refusal that concerns the remote end as a whole (a wrong
	// address, an untrusted certificate), not the items: the request is not bisected and
	// its items fail; after MaxSystemic such refusals in a row with no success between
	// them, the run aborts with an *AbortError wrapping a *RefusedError.
	Systemic bool
}

// RetryAll is the default Classifier: every failure is retryable.
func RetryAll(int, error) Verdict { return Verdict{Retry: true} }

// Limiter paces attempts: Run calls Wait before every attempt, retries included.
// *rate.Limiter and *ratelimit.Limiter satisfy it. Wait must return promptly with an
// error once ctx is done; an error while ctx is not done aborts the run (an *AbortError
// wrapping it), since a limiter that fails would fail every item.
type Limiter interface {
	Wait(ctx context.Context) error
}

// Feedback is implemented by limiters that hear the remote end's answers, such as
// *ratelimit.Limiter. Run calls Accepted after each successful attempt, and Throttled
// after each failed attempt whose Verdict is Throttled or has a RetryAfter. Both must
// not block.
//
// A Feedback limiter owns the Retry-After cooldown: Throttled(d) with d > 0 must hold
// every Wait until d from now, and Wait must return only outside every hold it knows
// of (re-checking after it got its token). Run passes on only the holds that fit
// Options.RateLimitBudget (a refused one is reported as Throttled(0)). For a Limiter
// without Feedback, or none, Run keeps a cooldown of its own in front of it.
type Feedback interface {
	Accepted()
	Throttled(retryAfter time.Duration)
}
