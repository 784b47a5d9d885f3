package fair_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segloop/segloop/serve/fair"
)

// tokens is a limiter that grants one permit per value sent on it (or fails
// with the error sent).
type tokens chan error

func (t tokens) Wait(ctx context.Context) error {
	select {
	case err := <-t:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// users starts n goroutines per share that wait, report the share's name,
// pass h (nil: no hold), and wait again, until ctx ends.
func users(ctx context.Context, wg *sync.WaitGroup, granted chan<- string, name string, s *fair.Share, n int, h *hold) {
	for range n {
		wg.Go(func() {
			for s.Wait(ctx) == nil {
				select {
				case granted <- name:
				case <-ctx.Done():
					return
				}
				if !h.pass(ctx) {
					return
				}
			}
		})
	}
}

// hold keeps users from waiting again while it is on.
type hold struct {
	mu sync.Mutex
	on chan struct{} // nil: off; closed when released
}

func (h *hold) set() {
	h.mu.Lock()
	h.on = make(chan struct{})
	h.mu.Unlock()
}

func (h *hold) release() {
	h.mu.Lock()
	close(h.on)
	h.on = nil
	h.mu.Unlock()
}

// pass returns at once when h is nil or off, else when h is released; false
// if ctx ended first.
func (h *hold) pass(ctx context.Context) bool {
	if h == nil {
		return true
	}
	h.mu.Lock()
	on := h.on
	h.mu.Unlock()
	if on == nil {
		return true
	}
	select {
	case <-on:
		return true
	case <-ctx.Done():
		return false
	}
}

func TestRoundRobinBetweenBigAndSmall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := make(tokens)
		q := fair.New(lim)
		defer q.Close()
		big, small := q.Share(), q.Share()
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		granted := make(chan string)
		users(ctx, &wg, granted, "big", big, 8, nil)
		users(ctx, &wg, granted, "small", small, 1, nil)
		synctest.Wait()
		counts := map[string]int{}
		prev := ""
		for i := range 100 {
			lim <- nil
			got := <-granted
			synctest.Wait() // the user is waiting again
			if got == prev {
				t.Fatalf("grant %d went to %s twice in a row", i, got)
			}
			prev = got
			counts[got]++
		}
		if counts["big"] != 50 || counts["small"] != 50 {
			t.Fatalf("grants %v; want 50 each", counts)
		}
		cancel()
		wg.Wait()
	})
}

func TestIdleShareTakesNoTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := make(tokens)
		q := fair.New(lim)
		defer q.Close()
		a := q.Share()
		_ = q.Share() // nobody waits on it
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		granted := make(chan string)
		users(ctx, &wg, granted, "a", a, 2, nil)
		synctest.Wait()
		for range 10 {
			lim <- nil
			if got := <-granted; got != "a" {
				t.Fatalf("grant to %s", got)
			}
		}
		cancel()
		wg.Wait()
	})
}

// A share whose users are held from waiting for a moment (busy with their
// requests, or starved of CPU) takes its missed turns back when they wait
// again, up to fair.Credit of them, so a run's hiccup does not halve its
// share; a share idle for longer gets no more than that credit.
func TestShareCatchesUpAfterIdleMoment(t *testing.T) {
	for _, idle := range []int{24, 4 * fair.Credit} {
		synctest.Test(t, func(t *testing.T) {
			lim := make(tokens)
			q := fair.New(lim)
			defer q.Close()
			big, small := q.Share(), q.Share()
			ctx, cancel := context.WithCancel(t.Context())
			var wg sync.WaitGroup
			granted := make(chan string)
			users(ctx, &wg, granted, "big", big, 8, nil)
			h := &hold{}
			users(ctx, &wg, granted, "small", small, 4, h)
			synctest.Wait()
			counts := map[string]int{}
			step := func(n int) {
				for range n {
					lim <- nil
					counts[<-granted]++
					synctest.Wait()
				}
			}
			step(40)
			if counts["big"] != 20 || counts["small"] != 20 {
				t.Fatalf("idle %d: before the hold, grants %v; want 20 each", idle, counts)
			}
			h.set()
			step(idle + 4) // small's four users take a grant each, then all are held
			h.release()
			synctest.Wait()
			before := counts["small"]
			owed := min(counts["big"]-before, fair.Credit) // the turns small missed, up to its credit
			step(2 * fair.Credit)
			caught := counts["small"] - before
			want := owed + (2*fair.Credit-owed)/2
			if caught < want-1 || caught > want+1 {
				t.Errorf("idle %d: small got %d of the %d grants after the hold (%v in all); want %d (its missed turns, at most %d, then every other)",
					idle, caught, 2*fair.Credit, counts, want, fair.Credit)
			}
			cancel()
			wg.Wait()
		})
	}
}

func TestWaitEndsWithContextAndLimiterErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := make(tokens)
		q := fair.New(lim)
		defer q.Close()
		s := q.Share()
		defer s.Close()
		stop := errors.New("stop")
		ctx, cancel := context.WithCancelCause(t.Context())
		done := make(chan error)
		go func() { done <- s.Wait(ctx) }()
		synctest.Wait()
		cancel(stop)
		if err := <-done; !errors.Is(err, stop) {
			t.Fatalf("Wait = %v; want the context's cause", err)
		}
		// The limiter's own failure reaches the waiter whose turn it is.
		broken := errors.New("limiter store unreachable")
		go func() { done <- s.Wait(t.Context()) }()
		synctest.Wait()
		lim <- broken
		if err := <-done; !errors.Is(err, broken) {
			t.Fatalf("Wait = %v; want the limiter's error", err)
		}
	})
}

type feedbackLimiter struct {
	tokens
	mu       sync.Mutex
	accepted int
	paused   time.Duration
}

func (f *feedbackLimiter) Accepted() { f.mu.Lock(); f.accepted++; f.mu.Unlock() }
func (f *feedbackLimiter) Throttled(d time.Duration) {
	f.mu.Lock()
	f.paused += d
	f.mu.Unlock()
}

func TestFeedbackReachesTheLimiter(t *testing.T) {
	lim := &feedbackLimiter{tokens: make(tokens)}
	q := fair.New(lim)
	defer q.Close()
	s := q.Share()
	s.Accepted()
	s.Throttled(2 * time.Second)
	if lim.accepted != 1 || lim.paused != 2*time.Second {
		t.Fatalf("limiter heard %d acceptances, %v of Retry-After", lim.accepted, lim.paused)
	}
}

func TestCloseReleasesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := fair.New(make(tokens))
		s := q.Share()
		done := make(chan error)
		go func() { done <- s.Wait(context.Background()) }()
		synctest.Wait()
		q.Close()
		if err := <-done; !errors.Is(err, fair.ErrClosed) {
			t.Fatalf("Wait = %v; want ErrClosed", err)
		}
	})
}
