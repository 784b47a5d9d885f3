package loop_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segloop/segloop/loop"
)

const errStale = testError("connection reset before any answer")

// classifyStale says Retry for errTransient and Retry+Immediate for errStale.
func classifyStale(_ int, err error) loop.Verdict {
	return loop.Verdict{Retry: true, Immediate: errors.Is(err, errStale)}
}

// TestRetryImmediate: a request's first Immediate failure goes again at once, waiting on
// the limiter and counting against MaxAttempts; the backoff after it is the first step
// of the schedule; a second Immediate failure backs off.
func TestRetryImmediate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// attempt 1 stale, 2 a 503, 3 stale again, 4 ok
		answers := []error{errStale, errTransient, errStale, nil}
		act := &recorder{fn: func(n int, _ []loop.Item[int], _ int) (int, error) {
			if err := answers[n]; err != nil {
				return 0, err
			}
			return 200, nil
		}}
		var backoffs []int
		lim := &countingLimiter{}
		var c collector
		sum, err := loop.Run(t.Context(), &sliceSource{n: 1}, act, loop.Options[int]{
			MaxAttempts: 4,
			Classify:    classifyStale,
			Limiter:     lim,
			Backoff: func(attempt int) time.Duration {
				backoffs = append(backoffs, attempt)
				return time.Duration(attempt) * time.Second
			},
			OnResult: c.add,
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		r := c.byIndex(t, 1)[0]
		if r.Status != loop.StatusOK || r.Attempts != 4 || sum.Requests != 4 || sum.Retries != 3 {
			t.Fatalf("result %+v, summary %+v; want ok after 4 attempts, 3 retries", r, sum)
		}
		if n := lim.waits.Load(); n != 4 {
			t.Errorf("the limiter was waited on %d times, want 4 (once per attempt)", n)
		}
		// After the stale attempt 1: at once. After the 503 (attempt 2): backoff step 1,
		// not 2. After the second stale failure (attempt 3): step 2.
		if len(backoffs) != 2 || backoffs[0] != 1 || backoffs[1] != 2 {
			t.Errorf("backoff steps %v, want [1 2]", backoffs)
		}
		gaps := []time.Duration{0, time.Second, 2 * time.Second}
		for i, want := range gaps {
			if got := act.calls[i+1].at.Sub(act.calls[i].at); got != want {
				t.Errorf("gap before attempt %d = %v, want %v", i+2, got, want)
			}
		}
		for i, call := range act.calls {
			if call.attempt != i+1 {
				t.Errorf("call %d has attempt %d", i, call.attempt)
			}
		}
	})
}

// TestRetryImmediateCounts: Immediate retries use attempts; a request that keeps failing
// so gives up at MaxAttempts.
func TestRetryImmediateCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		act := &recorder{fn: func(int, []loop.Item[int], int) (int, error) { return 0, errStale }}
		var c collector
		_, err := loop.Run(t.Context(), &sliceSource{n: 1}, act, loop.Options[int]{
			MaxAttempts: 3,
			Classify:    classifyStale,
			Backoff:     func(int) time.Duration { return time.Second },
			OnResult:    c.add,
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		r := c.byIndex(t, 1)[0]
		var gu *loop.GaveUpError
		if r.Status != loop.StatusFailed || r.Attempts != 3 || !errors.As(r.Err, &gu) || gu.Attempts != 3 || len(act.calls) != 3 {
			t.Fatalf("result %+v after %d calls; want failed, given up after 3", r, len(act.calls))
		}
	})
}

// countingLimiter lets every attempt go and counts the waits.
type countingLimiter struct{ waits atomic.Int64 }

func (l *countingLimiter) Wait(ctx context.Context) error {
	l.waits.Add(1)
	return ctx.Err()
}
