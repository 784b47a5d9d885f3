package loop

import (
	"fmt"
	"time"
)

// workerState is one worker's counters; only that worker touches them until Run sums
// them after every worker has exited.
type workerState struct {
	requests, retries, throttled, splits int64
}

// spawn starts one more worker. Run starts the first ones; after that only the
// dispatcher calls it, when a job is ready and every worker started is busy, so that a
// run has as many workers as it had requests in flight at most, not one per slot of the
// adaptive cap (each worker's stack grows to the depth of a request).
func (e *engine[T]) spawn() {
	w := &e.workers[e.started]
	e.started++
	e.senders.Go(func() { e.work1(w) })
}

// work1 is one worker: it makes one attempt per job the dispatcher hands it, and reports
// each job back as one event, until e.work is closed.
func (e *engine[T]) work1(w *workerState) {
	for j := range e.work {
		e.events <- e.attempt(w, j)
	}
}

// attempt makes one attempt at j (or none, if the run has stopped) and says what became
// of it: settled (every item of j has its result), parked (to go again at j.wake: a
// backoff, a Retry-After) or split (a permanent refusal of several items: the halves go
// as new requests).
func (e *engine[T]) attempt(w *workerState, j job[T]) event[T] {
	if j.tries == 0 && j.base == 0 {
		j.b.start = time.Now() // j is the batch's only job yet: no other goroutine reads it
	}
	waited, err := e.turn()
	if err != nil {
		if j.tries == 0 {
			e.finish(j, StatusFailed, 0, notSent(err))
		} else {
			e.finish(j, StatusFailed, j.code, fmt.Errorf("%w (no retry: %w)", j.err, err))
		}
		return event[T]{kind: settled}
	}
	if until := e.holds.Until(); !until.IsZero() && time.Now().Before(until) {
		// The limiter let this attempt go inside a Retry-After window this run passed on
		// to it (a Limiter that does not keep the Feedback contract): go again after it.
		j.wake = until
		return event[T]{kind: parked, job: j}
	}
	j.tries++
	j.counted++
	w.requests++
	if j.tries > 1 {
		w.retries++
	}
	start := time.Now()
	code, err := e.act.Do(e.doCtx, j.b.items[j.lo:j.hi], j.tries)
	ev := event[T]{kind: settled, attempted: true, seq: j.seq, rtt: time.Since(start), wait: waited}
	if err == nil {
		e.fb.Accepted()
		e.finish(j, StatusOK, code, nil)
		ev.ok = true
		return ev
	}
	v := e.opts.Classify(code, err)
	// The limiter holds the cooldown; the run keeps the budget, and passes on only the
	// holds that fit it, so that a spent budget bounds every pause.
	var holdErr error
	if v.RetryAfter > 0 && !v.Fatal {
		holdErr = e.holds.HoldWithin(time.Now().Add(v.RetryAfter), e.opts.RateLimitBudget)
	}
	if v.Throttled {
		w.throttled++
	}
	if v.Throttled || v.RetryAfter > 0 {
		wait := v.RetryAfter
		if holdErr != nil {
			wait = 0
		}
		e.fb.Throttled(wait)
	}
	j.code, j.err = code, err
	switch {
	case v.Fatal:
		e.abort(&AbortError{Err: err})
		e.finish(j, StatusFailed, code, err)
	case v.RetryAfter > 0:
		j.counted--
		if holdErr != nil {
			e.finish(j, StatusFailed, code, fmt.Errorf("%w (%v): %w", ErrRateLimitBudget, e.opts.RateLimitBudget, err))
			break
		}
		j.wake = e.holds.Until()
		ev.kind, ev.job = parked, j
	case v.Retry:
		if j.counted >= e.opts.MaxAttempts {
			e.finish(j, StatusFailed, code, &GaveUpError{Attempts: j.counted, Err: err})
			break
		}
		switch {
		case v.Immediate && !j.hurried:
			j.hurried = true
			j.wake = time.Now() // due at once: the dispatcher hands it out first
		case j.hurried:
			j.wake = time.Now().Add(e.opts.Backoff(j.counted - 1))
		default:
			j.wake = time.Now().Add(e.opts.Backoff(j.counted))
		}
		ev.kind, ev.job = parked, j
	case v.Systemic:
		e.finish(j, StatusFailed, code, err)
		ev.refusal = err
	case j.hi-j.lo > 1:
		w.splits++
		mid := j.lo + (j.hi-j.lo)/2
		half := job[T]{b: j.b, base: j.base + j.tries}
		ev.kind = split
		ev.job, ev.job2 = half, half
		ev.job.lo, ev.job.hi = j.lo, mid
		ev.job2.lo, ev.job2.hi = mid, j.hi
		j.b.pending.Add(1)
	default:
		e.finish(j, StatusFailed, code, err)
	}
	return ev
}

// turn waits until an attempt may start, that is until the limiter grants it (a Feedback
// limiter holds it through every Retry-After cooldown). It returns how long it waited,
// and why not when the run has stopped; a limiter error aborts the run.
func (e *engine[T]) turn() (time.Duration, error) {
	if e.runCtx.Err() != nil {
		return 0, e.stopReason()
	}
	start := time.Now()
	if err := e.lim.Wait(e.waitCtx); err != nil {
		if e.runCtx.Err() != nil || e.waitCtx.Err() != nil {
			return 0, e.stopReason()
		}
		// A limiter that fails for its own reasons (a shared store is down) would
		// fail every item: stop the run instead.
		e.abort(&AbortError{Err: fmt.Errorf("limiter: %w", err)})
		return 0, e.stopReason()
	}
	if e.runCtx.Err() != nil {
		return 0, e.stopReason()
	}
	return time.Since(start), nil
}

// finish gives every item of j its final result, lets the next items of their keys go,
// and hands the batch on to the collector once all of its requests have finished.
func (e *engine[T]) finish(j job[T], st Status, code int, err error) {
	b := j.b
	attempts := j.base + j.tries
	d := time.Since(b.start)
	f := fate{err: err, d: d, st: st, attempts: int32(attempts), code: int32(code)}
	for i := j.lo; i < j.hi; i++ {
		b.fates[i] = f
	}
	e.order.release(b.items[j.lo:j.hi])
	if b.pending.Add(-1) == 0 {
		e.results <- b
	}
}
