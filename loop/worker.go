package loop

import (
	"fmt"
	"time"
)

// workerState is one worker's scratch space and counters; only that worker touches it
// until Run sums the counters after every worker has exited.
type workerState struct {
	stack                                []span
	requests, retries, throttled, splits int64
}

// span is a request: the items b.items[lo:hi], already carried by base earlier requests
// (a bisected batch's halves inherit their parent's count).
type span struct{ lo, hi, base int }

// work1 is one worker: it processes batches until the producer closes e.work, then
// returns. Every batch it takes goes on to the collector with every result filled.
func (e *engine[T]) work1(w *workerState) {
	for b := range e.work {
		start := time.Now()
		b.res = b.res[:len(b.items)]
		w.stack = append(w.stack[:0], span{0, len(b.items), 0})
		for len(w.stack) > 0 {
			s := w.stack[len(w.stack)-1]
			w.stack = w.stack[:len(w.stack)-1]
			e.request(w, b, s, start)
		}
		e.results <- b
	}
}

// request makes the attempts of one request until its items have an outcome, or
// bisects it (pushing the halves on w.stack).
func (e *engine[T]) request(w *workerState, b *batch[T], s span, start time.Time) {
	items := b.items[s.lo:s.hi]
	var (
		tries   int // calls of Do for this request
		counted int // of which count against MaxAttempts
	)
	for {
		if err := e.turn(); err != nil {
			if tries == 0 {
				e.fill(b, s, start, StatusFailed, s.base, 0, notSent(err))
			} else {
				last := b.res[s.lo]
				e.fill(b, s, start, StatusFailed, s.base+tries, last.Code, fmt.Errorf("%w (no retry: %w)", last.Err, err))
			}
			return
		}
		tries++
		counted++
		w.requests++
		if tries > 1 {
			w.retries++
		}
		code, err := e.act.Do(e.doCtx, items, tries)
		if err == nil {
			if e.fb != nil {
				e.fb.Accepted()
			}
			e.fill(b, s, start, StatusOK, s.base+tries, code, nil)
			return
		}
		v := e.opts.Classify(code, err)
		// The loop's gate owns the cooldown and its budget; the limiter hears of a
		// Retry-After only when the gate took it, so a spent budget bounds every pause.
		var holdErr error
		if v.RetryAfter > 0 && !v.Fatal {
			holdErr = e.gate.HoldWithin(time.Now().Add(v.RetryAfter), e.opts.RateLimitBudget)
		}
		if v.Throttled {
			w.throttled++
			if e.fb != nil {
				wait := v.RetryAfter
				if holdErr != nil {
					wait = 0
				}
				e.fb.Throttled(wait)
			}
		}
		// Keep the last failure in the first result: it is what a retry that cannot
		// start reports.
		b.res[s.lo].Code, b.res[s.lo].Err = code, err
		switch {
		case v.Fatal:
			e.abort(&AbortError{Err: err})
			e.fill(b, s, start, StatusFailed, s.base+tries, code, err)
			return
		case v.RetryAfter > 0:
			counted--
			if holdErr != nil {
				e.fill(b, s, start, StatusFailed, s.base+tries, code,
					fmt.Errorf("%w (%v): %w", ErrRateLimitBudget, e.opts.RateLimitBudget, err))
				return
			}
		case v.Retry:
			if counted >= e.opts.MaxAttempts {
				e.fill(b, s, start, StatusFailed, s.base+tries, code, &GaveUpError{Attempts: counted, Err: err})
				return
			}
			e.sleep(e.opts.Backoff(counted)) // an interruption is seen by turn
		case s.hi-s.lo > 1:
			w.splits++
			mid := s.lo + (s.hi-s.lo)/2
			w.stack = append(w.stack, span{mid, s.hi, s.base + tries}, span{s.lo, mid, s.base + tries})
			return
		default:
			e.fill(b, s, start, StatusFailed, s.base+tries, code, err)
			return
		}
	}
}

// turn waits until an attempt may start: the cooldown gate is open and the limiter grants
// it. A worker that gets its token while the gate is held waits for the gate and then
// for a fresh token, so that workers do not all fire together when a pause ends. turn
// returns why not when the run has stopped; a limiter error aborts the run.
func (e *engine[T]) turn() error {
	ctx := e.runCtx
	for {
		if ctx.Err() != nil {
			return e.stopReason()
		}
		if err := e.gate.Wait(ctx); err != nil {
			return e.stopReason()
		}
		if e.opts.Limiter == nil {
			return nil
		}
		if err := e.opts.Limiter.Wait(e.waitCtx); err != nil {
			if ctx.Err() != nil || e.waitCtx.Err() != nil {
				return e.stopReason()
			}
			// A limiter that fails for its own reasons (a shared store is down) would
			// fail every item: stop the run instead.
			e.abort(&AbortError{Err: fmt.Errorf("limiter: %w", err)})
			return e.stopReason()
		}
		if ctx.Err() != nil {
			return e.stopReason()
		}
		if !time.Now().Before(e.gate.Until()) {
			return nil
		}
	}
}

// sleep waits d, or less if the run stops.
func (e *engine[T]) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-e.runCtx.Done():
	}
}

// fill sets the results of the items of s.
func (e *engine[T]) fill(b *batch[T], s span, start time.Time, st Status, attempts, code int, err error) {
	d := time.Since(start)
	for i := s.lo; i < s.hi; i++ {
		b.res[i] = Result[T]{Item: b.items[i], Status: st, Attempts: attempts, Code: code, Err: err, Duration: d}
	}
}
