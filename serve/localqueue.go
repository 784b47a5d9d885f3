package serve

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/segloop/segloop/runstore"
)

// queue hands parts of runs out to be worked: in-process for the embedded
// store (localQueue), through River's jobs in PostgreSQL for replicas
// (riverQueue). Both call executor.work for each slice of a part.
type queue interface {
	// enqueue hands parts out; a part already handed out is not doubled.
	enqueue(ctx context.Context, parts []runstore.PartRef) error
	// run works parts until ctx ends, then waits for the slices under way
	// (they store their results and release their parts).
	run(ctx context.Context) error
}

// localQueue works the parts of one process's store with a fixed number of
// slots, first in first out: a part whose slice ended goes to the back, so
// the parts of every run take turns.
type localQueue struct {
	x     *executor
	slots int
	every time.Duration // reconcile period
	log   *slog.Logger

	mu    sync.Mutex
	queue []runstore.PartRef
	known map[runstore.PartRef]bool // queued or being worked
	wake  chan struct{}             // capacity 1: the queue has parts
}

func newLocalQueue(x *executor, slots int, every time.Duration, log *slog.Logger) *localQueue {
	return &localQueue{x: x, slots: slots, every: every, log: log, known: map[runstore.PartRef]bool{}, wake: make(chan struct{}, 1)}
}

func (q *localQueue) enqueue(_ context.Context, parts []runstore.PartRef) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range parts {
		if !q.known[p] {
			q.known[p] = true
			q.queue = append(q.queue, p)
		}
	}
	q.signal()
	return nil
}

func (q *localQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *localQueue) run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range q.slots {
		wg.Go(func() { q.worker(ctx) })
	}
	wg.Go(func() { reconcile(ctx, q.x.store, q.every, q, q.log) })
	wg.Wait()
	return nil
}

// take returns the next part, waiting for one; false once ctx ends.
func (q *localQueue) take(ctx context.Context) (runstore.PartRef, bool) {
	for {
		q.mu.Lock()
		if len(q.queue) > 0 {
			p := q.queue[0]
			q.queue = q.queue[1:]
			if len(q.queue) > 0 {
				q.signal()
			}
			q.mu.Unlock()
			return p, true
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return runstore.PartRef{}, false
		case <-q.wake:
		}
	}
}

func (q *localQueue) worker(ctx context.Context) {
	for {
		p, ok := q.take(ctx)
		if !ok {
			return
		}
		out, err := q.x.work(ctx, p)
		if err != nil {
			q.log.Error("working a part", "part", p.String(), "err", err)
		}
		q.mu.Lock()
		if out == partAgain && ctx.Err() == nil {
			q.queue = append(q.queue, p)
			q.signal()
		} else {
			delete(q.known, p) // done, or left for the reconciler to hand out later
		}
		q.mu.Unlock()
	}
}

// reconcile hands out, at once and then every period until ctx ends, the
// parts of unfinished runs that nobody works: those whose worker's lease
// ran out (taken over at a new epoch) and those released or never handed
// out (a crash between a run's commit and its enqueue, a slice that could
// not store its results).
func reconcile(ctx context.Context, st *runstore.Store, every time.Duration, q queue, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		expired, err := st.ExpireLeases(ctx)
		if err == nil && len(expired) > 0 {
			log.Warn("parts taken over from workers whose lease ran out", "parts", len(expired))
		}
		var idle []runstore.PartRef
		if err == nil {
			idle, err = st.IdleParts(ctx)
		}
		if err == nil {
			err = q.enqueue(ctx, idle)
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("cannot look for parts to work; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
