// Package fair shares one rate limiter fairly between several users of it:
// each permit goes to the waiting Share that has had the fewest, so a user
// with many waiters (a big run with many workers) cannot starve one with few
// (a small run, a single call), and Shares that always wait take turns. A
// Share that has nobody waiting takes no turn, and its turns go to the
// others: no permit is held back for an idle share. A Share that was idle a
// moment (its waiters were busy with their requests, or starved of CPU)
// catches up on at most Credit permits when it waits again; one idle for
// longer, or new, starts level with the others less that credit.
//
//	q := fair.New(limiter)        // one per limiter (per destination)
//	defer q.Close()
//	s := q.Share()                // one per run
//	defer s.Close()
//	err := s.Wait(ctx)            // before every request, as with the limiter itself
//
// The Share passes Accepted and Throttled on to the limiter when it takes
// that feedback (package loop's Feedback), so a Retry-After seen by one run
// pauses them all.
package fair

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Limiter is what a Queue shares out: *ratelimit.Limiter satisfies it.
type Limiter interface {
	Wait(ctx context.Context) error
}

// feedback is the optional side of a Limiter that adapts to answers.
type feedback interface {
	Accepted()
	Throttled(retryAfter time.Duration)
}

// Credit is how many permits a Share that waits again after an idle moment
// may take ahead of the others: enough to make up a pipeline's hiccup,
// too few for a Share idle for long to crowd the others out.
const Credit = 16

// ErrClosed is returned by Wait after the Queue is closed.
var ErrClosed = errors.New("fair: queue closed")

// Queue hands out one limiter's permits between its Shares. Its one
// goroutine (the dispatcher) takes a permit from the limiter only when some
// Share has a waiter, and gives it to the waiting Share that has had the
// fewest (the earliest to wait among equals). A Queue is safe for concurrent
// use; Close must be called to stop the dispatcher.
type Queue struct {
	lim Limiter
	fb  feedback // nil: lim takes no feedback

	mu    sync.Mutex
	ring  []*Share // shares with waiters, in the order they began to wait
	level uint64   // the served count of the share last granted

	wake   chan struct{} // a waiter arrived (capacity 1)
	stop   context.CancelFunc
	ctx    context.Context
	exited chan struct{}
}

// New returns a Queue over lim and starts its dispatcher.
func New(lim Limiter) *Queue {
	ctx, stop := context.WithCancel(context.Background())
	q := &Queue{lim: lim, wake: make(chan struct{}, 1), ctx: ctx, stop: stop, exited: make(chan struct{})}
	q.fb, _ = lim.(feedback)
	go q.dispatch() // owned: Close waits for it
	return q
}

// Close stops the dispatcher and waits for it; waiters get ErrClosed.
func (q *Queue) Close() {
	q.stop()
	<-q.exited
}

// Share is one user's place in the Queue. It is safe for concurrent use by
// the user's goroutines; each waits its turn in arrival order.
type Share struct {
	q       *Queue
	waiters []chan error // FIFO, each of capacity 1; guarded by q.mu
	served  uint64       // permits granted, less credit forgone; guarded by q.mu
}

// Share returns a new Share of q. Close it when done.
func (q *Queue) Share() *Share { return &Share{q: q} }

// Close takes s out of the rotation. Close does not wake the waiters still
// queued: they return only when their context ends or the Queue is closed,
// so call it once s's users have stopped waiting.
func (s *Share) Close() {
	q := s.q
	q.mu.Lock()
	defer q.mu.Unlock()
	s.waiters = nil
	q.remove(s)
}

// Wait blocks until s's turn comes and the limiter grants a permit. It
// returns context.Cause(ctx) if ctx ends first, and ErrClosed once the
// queue is closed.
func (s *Share) Wait(ctx context.Context) error {
	q := s.q
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	ch := make(chan error, 1)
	q.mu.Lock()
	s.waiters = append(s.waiters, ch)
	if len(s.waiters) == 1 {
		q.join(s)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		q.mu.Lock()
		dropped := s.drop(ch)
		q.mu.Unlock()
		if dropped {
			return context.Cause(ctx)
		}
		return <-ch // granted meanwhile: use it
	case <-q.ctx.Done():
		return ErrClosed
	}
}

// Accepted passes the limiter its feedback.
func (s *Share) Accepted() {
	if s.q.fb != nil {
		s.q.fb.Accepted()
	}
}

// Throttled passes the limiter its feedback.
func (s *Share) Throttled(retryAfter time.Duration) {
	if s.q.fb != nil {
		s.q.fb.Throttled(retryAfter)
	}
}

// drop removes waiter ch of s, reporting whether it was still waiting;
// q.mu must be held.
func (s *Share) drop(ch chan error) bool {
	for i, w := range s.waiters {
		if w == ch {
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			if len(s.waiters) == 0 {
				s.q.remove(s)
			}
			return true
		}
	}
	return false
}

// join puts s, which has just got its first waiter, at the end of the
// ring, no more than Credit permits behind the level; q.mu must be held.
func (q *Queue) join(s *Share) {
	if q.level > Credit {
		s.served = max(s.served, q.level-Credit)
	}
	q.ring = append(q.ring, s)
}

// remove takes s out of the ring; q.mu must be held.
func (q *Queue) remove(s *Share) {
	for i, r := range q.ring {
		if r == s {
			q.ring = append(q.ring[:i], q.ring[i+1:]...)
			return
		}
	}
}

// dispatch is the Queue's goroutine: while some share has a waiter, it
// takes a permit from the limiter and grants it to the share whose turn it
// is, then moves the turn on.
func (q *Queue) dispatch() {
	defer close(q.exited)
	for {
		q.mu.Lock()
		idle := len(q.ring) == 0
		q.mu.Unlock()
		if idle {
			select {
			case <-q.wake:
				continue
			case <-q.ctx.Done():
				return
			}
		}
		err := q.lim.Wait(q.ctx)
		if err != nil && q.ctx.Err() != nil {
			return
		}
		q.grant(err) // a limiter failing for its own reason fails the waiter whose turn it is

	}
}

// grant gives one permit (or the limiter's error) to the first waiter of
// the waiting share that has had the fewest; among equals, the one that has
// waited longest, so shares that always wait alternate. A permit is lost if
// every waiter left meanwhile: the limiter's rate is never exceeded.
func (q *Queue) grant(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.ring) == 0 {
		return
	}
	at := 0
	for i, r := range q.ring {
		if r.served < q.ring[at].served {
			at = i
		}
	}
	s := q.ring[at]
	ch := s.waiters[0]
	s.waiters = s.waiters[1:]
	ch <- err
	s.served++
	q.level = s.served
	q.ring = append(q.ring[:at], q.ring[at+1:]...)
	if len(s.waiters) > 0 {
		q.ring = append(q.ring, s) // to the back of its equals
	}
}
