package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBudgetExceeded is returned by Gate.HoldWithin when honouring a hold would take the
// gate's total pause over the caller's budget.
var ErrBudgetExceeded = errors.New("ratelimit: cooldown budget exceeded")

// BudgetError reports a hold refused by Gate.HoldWithin. It matches ErrBudgetExceeded
// with errors.Is.
type BudgetError struct {
	Budget time.Duration // the budget the caller allowed
	Need   time.Duration // total pause the hold would have committed
}

// Error implements error.
func (e *BudgetError) Error() string {
	return fmt.Sprintf("ratelimit: cooldown budget %v exceeded: holding would pause %v in total",
		e.Budget, e.Need.Round(time.Millisecond))
}

// Is reports whether target is ErrBudgetExceeded.
func (e *BudgetError) Is(target error) bool { return target == ErrBudgetExceeded }

// Gate is a cooldown shared by every worker of a run: when any of them is told to wait
// (an HTTP 429 with Retry-After), it calls Hold and every Wait blocks until that moment.
// Holds never shorten an existing cooldown; overlapping holds are merged, so the paused
// time counts each instant once.
//
// The zero Gate is open and ready to use. A Gate is safe for concurrent use; it must not
// be copied after first use. It reads the clock with time.Now, so testing/synctest
// controls it.
type Gate struct {
	until atomic.Int64 // unix nanoseconds the gate is held until; 0 = never held

	mu     sync.Mutex
	start  time.Time     // start of the current (or last) hold span
	end    time.Time     // end of the current (or last) hold span
	closed time.Duration // total of earlier, finished spans
}

// Hold closes the gate until the given moment (no effect if until is not after the end
// of the current hold). It never blocks.
func (g *Gate) Hold(until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.extend(time.Now(), until)
}

// HoldWithin is Hold, except that it refuses (returning a *BudgetError and leaving the
// gate unchanged) when the total pause committed so far, including this hold, would
// exceed budget.
func (g *Gate) HoldWithin(until time.Time, budget time.Duration) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	need := g.committedWith(now, until)
	if need > budget {
		return &BudgetError{Budget: budget, Need: need}
	}
	g.extend(now, until)
	return nil
}

// extend merges [now, until) into the spans; g.mu must be held.
func (g *Gate) extend(now, until time.Time) {
	if !until.After(now) || !until.After(g.end) {
		return
	}
	if now.Before(g.end) { // still held: lengthen the current span
		g.end = until
	} else {
		g.closed += g.end.Sub(g.start)
		g.start, g.end = now, until
	}
	g.until.Store(until.UnixNano())
}

// committedWith is the total pause the gate would have committed if [now, until) were
// merged in; g.mu must be held.
func (g *Gate) committedWith(now, until time.Time) time.Duration {
	total := g.closed + g.end.Sub(g.start)
	if !until.After(now) || !until.After(g.end) {
		return total
	}
	if now.Before(g.end) {
		return total + until.Sub(g.end)
	}
	return total + until.Sub(now)
}

// Until returns the moment the current hold ends; a time not after now means the gate
// is open.
func (g *Gate) Until() time.Time {
	n := g.until.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Wait blocks until the gate is open, re-checking if the hold is extended meanwhile. It
// returns nil at once when the gate is open, and context.Cause(ctx) if ctx is done first.
func (g *Gate) Wait(ctx context.Context) error {
	for {
		n := g.until.Load()
		if n == 0 {
			return nil
		}
		d := time.Until(time.Unix(0, n))
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

// WaitJitter is Wait, except that a caller that found the gate held returns at a random
// moment in [end, end+spread) rather than at the end itself, so that the callers a hold
// stopped do not all resume at once. A caller that finds the gate open returns at once.
func (g *Gate) WaitJitter(ctx context.Context, spread time.Duration) error {
	held := false
	for {
		if d := time.Until(g.Until()); d > 0 {
			held = true
			if err := sleep(ctx, d); err != nil {
				return err
			}
			continue
		}
		if !held || spread <= 0 {
			return nil
		}
		// The hold is over: jitter once, then look again (a new hold is waited out,
		// and jittered, in turn).
		held = false
		if err := sleep(ctx, rand.N(spread)); err != nil {
			return err
		}
	}
}

// sleep waits d, or returns context.Cause(ctx) if ctx is done first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// Paused returns the total time the gate has been held so far (holds still to come are
// not counted).
func (g *Gate) Paused() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	end := g.end
	if now.Before(end) {
		end = now
	}
	if end.Before(g.start) {
		return g.closed
	}
	return g.closed + end.Sub(g.start)
}
