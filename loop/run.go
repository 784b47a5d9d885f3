// Package loop is the Loop node engine: it streams items from a Source through a bounded
// pool of workers that call an Action, one batch of items per request, pacing every
// attempt with a Limiter, retrying as a Classifier decides, and reporting exactly one
// Result per item read.
//
// The pipeline has the errgroup shape: one producer reads and batches (count, byte and
// linger bounds), Options.Workers workers make the requests, and Run's own goroutine hands
// every Result to Options.OnResult in completion order. There is no goroutine per item,
// and memory is bounded by (2 × Workers + 3) × BatchSize items, whatever the input size:
// batch buffers are recycled, so a steady run allocates nothing per item.
//
// Retry policy: a failed attempt is classified. Retry backs off (full jitter) and counts
// against Options.MaxAttempts; RetryAfter holds every worker through a shared cooldown
// gate without using an attempt, within Options.RateLimitBudget; a permanent refusal of a
// batch bisects it so the good items still succeed (an item is then carried by at most
// 1+ceil(log2(BatchSize)) requests); Fatal aborts the run.
//
// loop knows nothing of HTTP or of Segment: the action and its classifier do.
package loop

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segloop/segloop/ratelimit"
	"golang.org/x/sync/errgroup"
)

// Run reads every item of src and processes it with act as opts says, calling
// opts.OnResult once per item read. It blocks until every goroutine it started has
// exited.
//
// It returns nil when the source was read to its end, whatever the items' outcomes (see
// the Summary and the Results); an *AbortError wrapping the action's error when an
// attempt was classified Fatal (unsent items then fail with "not sent: run aborted: ...");
// context.Cause(ctx) when ctx ended the run (unsent items fail with "not sent:
// interrupted: ..."; attempts in flight get opts.DrainTimeout to finish, and no retry
// starts); or the Source's error, after finishing the items already read.
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

	nBatches := 2*o.Workers + 2
	e := &engine[T]{
		opts:    o,
		src:     src,
		act:     act,
		runCtx:  runCtx,
		abort:   abort,
		doCtx:   doCtx,
		waitCtx: waitCtx,
		work:    make(chan *batch[T]),
		results: make(chan *batch[T], o.Workers),
		free:    make(chan *batch[T], nBatches),
		maxMade: nBatches,
	}
	e.fb, _ = o.Limiter.(Feedback)

	// g owns every goroutine Run starts: the producer, the Workers workers, the closer
	// of results and the drain timer. None returns an error: a bad item is a result and
	// a fatal outcome cancels runCtx, so g serves as the bounded pool's owner.
	var g errgroup.Group
	g.SetLimit(o.Workers + 3)
	var busy sync.WaitGroup
	busy.Add(1 + o.Workers)
	g.Go(func() error { defer busy.Done(); e.produce(); return nil })
	workers := make([]workerState, o.Workers)
	for i := range workers {
		g.Go(func() error { defer busy.Done(); e.work1(&workers[i]); return nil })
	}
	g.Go(func() error { busy.Wait(); close(e.results); return nil })
	done := make(chan struct{})
	g.Go(func() error { drainAfter(runCtx, done, o.DrainTimeout, stopWait, stopDo); return nil })

	var sum Summary
	e.collect(&sum)
	close(done)
	g.Wait()

	for i := range workers {
		w := &workers[i]
		sum.Requests += w.requests
		sum.Retries += w.retries
		sum.Throttled += w.throttled
		sum.Splits += w.splits
	}
	sum.Read = e.read
	sum.Paused = e.gate.Paused()
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
	opts Options[T]
	src  Source[T]
	act  Action[T]
	fb   Feedback // nil: the limiter takes no feedback
	gate ratelimit.Gate

	runCtx  context.Context         // ends on fatal abort or when the caller's ctx ends
	abort   context.CancelCauseFunc // cancels runCtx
	doCtx   context.Context         // given to Do: outlives runCtx by DrainTimeout
	waitCtx context.Context         // given to the limiter: runCtx without its deadline

	work    chan *batch[T] // producer -> workers; closed by the producer
	results chan *batch[T] // producer, workers -> collector; closed when both are done
	free    chan *batch[T] // collector -> producer: recycled batches
	made    int            // batches allocated (producer only)
	maxMade int

	read    int64 // items read (producer; read after it exits)
	readErr error // the source's fatal error (producer; read after it exits)
}

// batch is the unit that travels the pipeline: the valid items of one request, their
// results, and the invalid items read alongside them.
type batch[T any] struct {
	items []Item[T]   // valid items, sent together
	res   []Result[T] // res[i] is the outcome of items[i]; filled by a worker
	bad   []Result[T] // results of invalid items, filled by the producer
	bytes int         // sum of items[i].Size
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
		return &batch[T]{items: make([]Item[T], 0, n), res: make([]Result[T], 0, n)}
	}
	return <-e.free
}

// collect hands every result to OnResult and counts them, recycling batches, until the
// results channel is closed.
func (e *engine[T]) collect(sum *Summary) {
	for b := range e.results {
		for i := range b.res {
			sum.count(b.res[i].Status)
			e.opts.OnResult(b.res[i])
		}
		for i := range b.bad {
			sum.count(StatusInvalid)
			e.opts.OnResult(b.bad[i])
		}
		clear(b.items)
		clear(b.res)
		clear(b.bad)
		b.items, b.res, b.bad, b.bytes = b.items[:0], b.res[:0], b.bad[:0], 0
		e.free <- b // never blocks: free holds every batch ever made
	}
}

func (s *Summary) count(st Status) {
	switch st {
	case StatusOK:
		s.OK++
	case StatusInvalid:
		s.Invalid++
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
