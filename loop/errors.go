package loop

import (
	"errors"
	"fmt"
)

var (
	// ErrNotSent marks the error of an item that was read but never sent, because the run
	// was interrupted or aborted first.
	ErrNotSent = errors.New("not sent")
	// ErrInterrupted is the reason given when the caller's context ended the run.
	ErrInterrupted = errors.New("interrupted")
	// ErrRateLimitBudget marks the error of an item given up on because honouring the
	// remote end's Retry-After would exceed Options.RateLimitBudget.
	ErrRateLimitBudget = errors.New("rate-limit wait budget exhausted")
)

// AbortError is returned by Run when the run was aborted: an attempt was classified
// Fatal (Err is the action's error), MaxSystemic Systemic refusals came in a row (Err is
// a *RefusedError), or the Limiter failed (Err wraps its error). errors.As and errors.Is
// reach Err through it.
type AbortError struct {
	Err error // the action's error, a *RefusedError, or the limiter's error
}

// Error implements error.
func (e *AbortError) Error() string { return "run aborted: " + e.Err.Error() }

// Unwrap returns Err.
func (e *AbortError) Unwrap() error { return e.Err }

// RefusedError is the cause (inside an *AbortError) of a run aborted because the remote
// end gave MaxSystemic Systemic refusals in a row.
type RefusedError struct {
	Refusals int   // Systemic refusals in a row
	Err      error // the last one's error
}

// Error implements error.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("the remote end refused %d requests in a row, not for the items' sake: %v", e.Refusals, e.Err)
}

// Unwrap returns the last refusal's error.
func (e *RefusedError) Unwrap() error { return e.Err }

// GaveUpError is the error of an item whose request used up Options.MaxAttempts.
type GaveUpError struct {
	Attempts int   // attempts counted against the maximum
	Err      error // the last attempt's error
}

// Error implements error.
func (e *GaveUpError) Error() string {
	return fmt.Sprintf("gave up after %d attempts: %v", e.Attempts, e.Err)
}

// Unwrap returns the last attempt's error.
func (e *GaveUpError) Unwrap() error { return e.Err }

// notSent builds an unsent item's error: "not sent: <reason>".
func notSent(reason error) error { return fmt.Errorf("%w: %w", ErrNotSent, reason) }

// interrupted builds the reason of a run ended by its context.
func interrupted(cause error) error { return fmt.Errorf("%w: %w", ErrInterrupted, cause) }
