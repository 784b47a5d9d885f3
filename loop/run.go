// Package loop is the Loop node engine: it streams items from a Source through a pool of
// workers that call an Action, one batch of items per request, pacing every attempt with
// a Limiter, retrying as a Classifier decides, and reporting exactly one Result per item
// read.
//
// The pipeline has the errgroup shape, every goroutine owned by Run: one producer reads
// the source, a batcher groups items into batches (count, byte and linger bounds), a
// dispatcher hands requests to a pool of workers, and Run's own goroutine hands every
// Result to Options.OnResult in completion order. There is no goroutine per item.
//
// Order per key: items that share an Item.Key reach the action one at a time and in
// input order; a later one is held back (at most Options.MaxHeld items in all, reading
// pauses beyond) until the earlier one has its final result, retries included.
//
// Concurrency: Options.Concurrency fixes the requests in flight; by default it adapts
// (see Options.Concurrency) between 1 and Options.MaxConcurrency, so that the limiter,
// not the pool, is what bounds the rate.
//
// Retry policy: a failed attempt is classified. Retry backs off (full jitter) and counts
// against Options.MaxAttempts; the request waits out its backoff parked, holding no
// worker. RetryAfter holds every request through the limiter's cooldown (see Feedback)
// without using an attempt, within Options.RateLimitBudget. A permanent refusal of a
// batch bisects it so the good items still succeed (an item is then carried by at most
// 1+ceil(log2(BatchSize)) requests), unless it is Systemic: MaxSystemic of those in a row
// abort the run, as does one Fatal.
//
// Memory is bounded whatever the input size: at most (2 × pool + 3) batches are in
// circulation (pool being the fixed concurrency or the adaptive cap), each of at most
// BatchSize items to send and BatchSize settled ones, plus MaxHeld held items; batch
// buffers are recycled, so a steady run allocates nothing per item.
//
// loop knows nothing of HTTP or of Segment: the action and its classifier do.
package loop

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segloop/segloop/ratelimit"
)

// Run reads every item of src and processes it with act as opts says, calling
// opts.OnResult once per item read. It blocks until every goroutine it started has
// exited.
//
// It returns nil when the source was read to its end, whatever the items' outcomes (see
// the Summary and the Results); an *AbortError wrapping the action's error when an
// attempt was classified Fatal, wrapping a *RefusedError after MaxSystemic Systemic
// refusals in a row, or wrapping the limiter's error when Wait failed for a reason other
// than the run's end (unsent items then fail with "not sent: run aborted: ..."); context.Cause(ctx)
// when ctx ended the run (unsent items fail with "not sent: interrupted: ..."; attempts
// in flight get opts.DrainTimeout to finish, and no retry starts); or the Source's error,
// after finishing the items already read.
func Run[T any](ctx context.Context, src Source[T], act Action[T], opts Options[T]) (Summary, error) {
	start := time.Now()
	o := opts.withDefaults()
	runCtx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	doCtx, stopDo := context.WithCancel(context.WithoutCancel(ctx))
	defer stopDo()
	// The limiter must not see ctx's deadline (*rate.Limiter fails at once when a wait
	// would pass it); waitCtx ends when runCtx does.
	waitCtx, stopWait := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopWait(nil)

	pool := o.pool()
	nBatches := 2*pool + 3
	e := &engine[T]{
		opts:    o,
		src:     src,
		act:     act,
		order:   newOrder[T](o.MaxHeld),
		runCtx:  runCtx,
		abort:   abort,
		doCtx:   doCtx,
		waitCtx: waitCtx,
		batches: make(chan *batch[T]),
		work:    make(chan job[T]),
		events:  make(chan event[T], pool),
		results: make(chan *batch[T], pool),
		free:    make(chan *batch[T], nBatches),
		maxMade: nBatches,
	}
	if fb, ok := o.Limiter.(Feedback); ok {
		e.lim, e.fb = o.Limiter, fb
	} else {
		c := &cooldown{next: o.Limiter}
		e.lim, e.fb = c, c
	}

	// wg owns every goroutine Run starts. None fails: a bad item is a result and a
	// fatal outcome cancels runCtx. The workers start as they are needed (see
	// engine.spawn): first the fixed concurrency, or the adaptive one's start.
	var wg sync.WaitGroup
	e.workers = make([]workerState, pool)
	feed := make(chan Item[T], o.BatchSize)
	wg.Go(func() { e.produce(feed) })
	e.senders.Go(func() { e.batch(feed) })
	for range min(pool, max(o.Concurrency, initialConcurrency)) {
		e.spawn()
	}
	wg.Go(func() { e.dispatch(newDispatcher(o)) })
	wg.Go(func() { e.senders.Wait(); close(e.results) })
	done := make(chan struct{})
	wg.Go(func() { drainAfter(runCtx, done, o.DrainTimeout, stopWait, stopDo) })

	var sum Summary
	e.collect(&sum)
	close(done)
	wg.Wait()

	for i := range e.workers[:e.started] {
		w := &e.workers[i]
		sum.Requests += w.requests
		sum.Retries += w.retries
		sum.Throttled += w.throttled
		sum.Splits += w.splits
	}
	sum.Read = e.read
	sum.Paused = e.holds.Paused()
	sum.PeakInFlight = e.peak
	sum.Elapsed = time.Since(start)

	var ae *AbortError
	if cause := context.Cause(runCtx); errors.As(cause, &ae) {
		return sum, ae
	}
	if ctx.Err() != nil {
		return sum, context.Cause(ctx)
	}
	if e.readErr != nil {
		return sum, fmt.Errorf("loop: reading source: %w", e.readErr)
	}
	return sum, nil
}

// drainAfter, when runCtx ends, cancels the limiter waits (stopWait) at once and the
// attempts' context (stop) d later, unless done is closed first.
func drainAfter(runCtx context.Context, done <-chan struct{}, d time.Duration, stopWait context.CancelCauseFunc, stop func()) {
	select {
	case <-runCtx.Done():
		stopWait(context.Cause(runCtx))
	case <-done:
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		stop()
	case <-done:
	}
}

// engine is the state of one Run.
type engine[T any] struct {
	opts  Options[T]
	src   Source[T]
	act   Action[T]
	lim   Limiter  // the Limiter, or a cooldown in front of it
	fb    Feedback // lim's: owns the Retry-After cooldown
	order *order[T]
	// holds accounts for the Retry-After holds this run passed on to fb, within the
	// budget; it is never waited on (fb's limiter holds the requests).
	holds ratelimit.Gate

	runCtx  context.Context         // ends on fatal abort or when the caller's ctx ends
	abort   context.CancelCauseFunc // cancels runCtx
	doCtx   context.Context         // given to Do: outlives runCtx by DrainTimeout
	waitCtx context.Context         // given to the limiter: runCtx without its deadline

	batches chan *batch[T] // batcher -> dispatcher; closed by the batcher
	work    chan job[T]    // dispatcher -> workers; closed by the dispatcher
	events  chan event[T]  // workers -> dispatcher: what became of each job handed out
	results chan *batch[T] // batcher, workers -> collector; closed when both are done
	free    chan *batch[T] // collector -> batcher: recycled batches
	made    int            // batches allocated (batcher only)
	maxMade int

	// senders owns the goroutines that send to results: the batcher and the workers.
	// workers[:started] are the states of the workers started so far; the dispatcher
	// starts more (spawn) while at least one runs, so that senders never counts down
	// to zero before the dispatcher is done.
	senders sync.WaitGroup
	workers []workerState
	started int

	read    int64 // items read (producer; read after it exits)
	readErr error // the source's fatal error (producer; read after it exits)
	peak    int   // most jobs in flight (dispatcher; read after it exits)
}

// batch is the unit that travels the pipeline: the items of one request, their fates,
// and the settled items (invalid, skipped, unchanged) read alongside them. The collector
// makes each item's Result from the item and its fate, so that a batch in flight holds
// one Item per item and not a second copy of it in a Result.
type batch[T any] struct {
	items   []Item[T] // items to send, together
	fates   []fate    // fates[i] is what became of items[i]; filled by the workers
	settled []Item[T] // the items that are not sent (Err or Settled set), filled by the batcher
	bytes   int       // sum of items[i].Size
	start   time.Time // when a worker first took up the batch
	pending atomic.Int32
}

// fate is the final outcome of one item sent: its Result without the Item.
type fate struct {
	err      error
	d        time.Duration
	st       Status
	attempts int32
	code     int32
}

// sentResult is the Result of it, sent, whose fate is f.
func sentResult[T any](it Item[T], f *fate) Result[T] {
	return Result[T]{Item: it, Status: f.st, Attempts: int(f.attempts), Code: int(f.code), Err: f.err, Duration: f.d}
}

// settledResult is the Result of an item that is not sent: invalid, or settled.
func settledResult[T any](it Item[T]) Result[T] {
	if it.Err != nil {
		return Result[T]{Item: it, Status: StatusInvalid, Err: it.Err}
	}
	return Result[T]{Item: it, Status: it.Settled}
}

// get returns an empty batch, recycling one when available. It may block until the
// collector frees one; that always happens while workers run, so it takes no context.
func (e *engine[T]) get() *batch[T] {
	select {
	case b := <-e.free:
		return b
	default:
	}
	if e.made < e.maxMade {
		e.made++
		n := e.opts.BatchSize
		return &batch[T]{items: make([]Item[T], 0, n), fates: make([]fate, 0, n)}
	}
	return <-e.free
}

// collect hands every result to OnResult and counts them, recycling batches, until the
// results channel is closed.
func (e *engine[T]) collect(sum *Summary) {
	for b := range e.results {
		for i := range b.fates {
			r := sentResult(b.items[i], &b.fates[i])
			sum.count(r.Status)
			e.opts.OnResult(r)
		}
		for i := range b.settled {
			r := settledResult(b.settled[i])
			sum.count(r.Status)
			e.opts.OnResult(r)
		}
		clear(b.items)
		clear(b.fates)
		clear(b.settled)
		b.items, b.fates, b.settled, b.bytes, b.start = b.items[:0], b.fates[:0], b.settled[:0], 0, time.Time{}
		e.free <- b // never blocks: free holds every batch ever made
	}
}

func (s *Summary) count(st Status) {
	switch st {
	case StatusOK:
		s.OK++
	case StatusInvalid:
		s.Invalid++
	case StatusSkipped:
		s.Skipped++
	case StatusUnchanged:
		s.Unchanged++
	default:
		s.Failed++
	}
}

// stopReason is why no new attempt starts once runCtx has ended.
func (e *engine[T]) stopReason() error {
	cause := context.Cause(e.runCtx)
	var ae *AbortError
	if errors.As(cause, &ae) {
		return ae
	}
	return interrupted(cause)
}
