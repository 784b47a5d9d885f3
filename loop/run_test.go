package loop_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segloop/segloop/loop"
)

// call is one recorded Action.Do.
type call struct {
	at      time.Time
	idx     []int64
	attempt int
}

// recorder is an Action that answers with fn and records every call.
type recorder struct {
	latency time.Duration
	fn      func(n int, batch []loop.Item[int], attempt int) (int, error) // n counts calls from 0

	mu    sync.Mutex
	calls []call
}

func (r *recorder) Do(ctx context.Context, batch []loop.Item[int], attempt int) (int, error) {
	c := call{at: time.Now(), attempt: attempt}
	for _, it := range batch {
		c.idx = append(c.idx, it.Index)
	}
	r.mu.Lock()
	n := len(r.calls)
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	if r.latency > 0 {
		select {
		case <-time.After(r.latency):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if r.fn == nil {
		return 200, nil
	}
	return r.fn(n, batch, attempt)
}

func classifyTest(code int, err error) loop.Verdict {
	switch {
	case errors.Is(err, errAuth):
		return loop.Verdict{Fatal: true}
	case errors.Is(err, errBad):
		return loop.Verdict{}
	case errors.Is(err, errThrottle):
		return loop.Verdict{Throttled: true, RetryAfter: time.Second}
	}
	return loop.Verdict{Retry: true}
}

func TestRunBatching(t *testing.T) {
	tests := []struct {
		name        string
		n, size     int
		bad         []int64
		opts        loop.Options[int]
		wantMaxLen  int
		wantBatches int
	}{
		{name: "single items", n: 10, wantMaxLen: 1, wantBatches: 10},
		{name: "batches of 4", n: 10, opts: loop.Options[int]{BatchSize: 4, Workers: 1}, wantMaxLen: 4, wantBatches: 3},
		{name: "byte bound", n: 10, size: 10, opts: loop.Options[int]{BatchSize: 100, BatchBytes: 25, Workers: 2}, wantMaxLen: 2, wantBatches: 5},
		{name: "invalid items never sent", n: 10, bad: []int64{0, 3, 9}, opts: loop.Options[int]{BatchSize: 3, Workers: 3}, wantMaxLen: 3, wantBatches: 3},
		{name: "all invalid", n: 5, bad: []int64{0, 1, 2, 3, 4}, opts: loop.Options[int]{BatchSize: 2}, wantMaxLen: 0, wantBatches: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := &sliceSource{n: tt.n, size: tt.size, bad: map[int64]bool{}}
				for _, i := range tt.bad {
					src.bad[i] = true
				}
				act := &recorder{}
				var c collector
				tt.opts.OnResult = c.add
				sum, err := loop.Run(t.Context(), src, act, tt.opts)
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				res := c.byIndex(t, tt.n)
				for i, r := range res {
					want := loop.StatusOK
					if src.bad[int64(i)] {
						want = loop.StatusInvalid
					}
					if r.Status != want || r.Item.Line != i+2 || r.Item.Value != i {
						t.Errorf("result %d = %+v, want status %s, line %d", i, r, want, i+2)
					}
				}
				if len(act.calls) != tt.wantBatches {
					t.Errorf("got %d requests, want %d", len(act.calls), tt.wantBatches)
				}
				for _, c := range act.calls {
					if len(c.idx) > tt.wantMaxLen || len(c.idx) == 0 {
						t.Errorf("request of %d items, want 1..%d", len(c.idx), tt.wantMaxLen)
					}
					for _, i := range c.idx {
						if src.bad[i] {
							t.Errorf("invalid item %d sent", i)
						}
					}
				}
				wantOK := int64(tt.n - len(tt.bad))
				if sum.Read != int64(tt.n) || sum.OK != wantOK || sum.Invalid != int64(len(tt.bad)) || sum.Failed != 0 {
					t.Errorf("summary %+v, want read %d ok %d invalid %d", sum, tt.n, wantOK, len(tt.bad))
				}
			})
		})
	}
}

// slowSource yields n items, one every gap.
type slowSource struct {
	sliceSource
	gap time.Duration
}

func (s *slowSource) Next(ctx context.Context) (loop.Item[int], error) {
	select {
	case <-time.After(s.gap):
	case <-ctx.Done():
		return loop.Item[int]{}, ctx.Err()
	}
	return s.sliceSource.Next(ctx)
}

func TestRunLinger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		act := &recorder{}
		src := &slowSource{sliceSource: sliceSource{n: 3}, gap: time.Second}
		if _, err := loop.Run(t.Context(), src, act, loop.Options[int]{BatchSize: 10, BatchLinger: 200 * time.Millisecond}); err != nil {
			t.Fatalf("Run: %v", err)
		}
		for i, c := range act.calls {
			want := time.Duration(i+1)*time.Second + 200*time.Millisecond
			if len(c.idx) != 1 || c.at.Sub(start) != want {
				t.Errorf("request %d: %d items at %v, want 1 at %v", i, len(c.idx), c.at.Sub(start), want)
			}
		}
	})
}

func TestRetryBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base, ceiling := 500*time.Millisecond, 3*time.Second
		jitter := loop.FullJitter(base, ceiling)
		var delays []time.Duration
		act := &recorder{fn: func(int, []loop.Item[int], int) (int, error) { return 503, errTransient }}
		var c collector
		sum, err := loop.Run(t.Context(), &sliceSource{n: 1}, act, loop.Options[int]{
			MaxAttempts: 7,
			Backoff: func(attempt int) time.Duration {
				d := jitter(attempt)
				delays = append(delays, d)
				return d
			},
			OnResult: c.add,
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		r := c.byIndex(t, 1)[0]
		var gu *loop.GaveUpError
		if r.Status != loop.StatusFailed || r.Attempts != 7 || r.Code != 503 || !errors.As(r.Err, &gu) || gu.Attempts != 7 || !errors.Is(r.Err, errTransient) {
			t.Fatalf("result %+v, want failed after 7 attempts wrapping %v", r, errTransient)
		}
		if len(act.calls) != 7 || len(delays) != 6 || sum.Retries != 6 || sum.Requests != 7 {
			t.Fatalf("%d calls, %d backoffs, summary %+v; want 7, 6", len(act.calls), len(delays), sum)
		}
		for i, c := range act.calls {
			if c.attempt != i+1 {
				t.Errorf("call %d has attempt %d", i, c.attempt)
			}
			if i > 0 {
				if gap := c.at.Sub(act.calls[i-1].at); gap != delays[i-1] {
					t.Errorf("gap before call %d = %v, want the backoff %v", i, gap, delays[i-1])
				}
			}
		}
		for i, d := range delays {
			if max := loop.ExpCap(base, ceiling, i+1); d < 0 || d > max {
				t.Errorf("backoff %d = %v, want within [0, %v]", i+1, d, max)
			}
		}
	})
}

func TestFullJitterBounds(t *testing.T) {
	base, ceiling := 500*time.Millisecond, 60*time.Second
	jitter := loop.FullJitter(base, ceiling)
	wantCaps := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 32 * time.Second, 60 * time.Second, 60 * time.Second, 60 * time.Second}
	prevMean := time.Duration(0)
	for i, want := range wantCaps {
		attempt := i + 1
		if got := loop.ExpCap(base, ceiling, attempt); got != want {
			t.Errorf("ExpCap(%d) = %v, want %v", attempt, got, want)
		}
		var sum time.Duration
		for range 2000 {
			d := jitter(attempt)
			if d < 0 || d > want {
				t.Fatalf("jitter(%d) = %v, want within [0, %v]", attempt, d, want)
			}
			sum += d
		}
		mean := sum / 2000
		// Full jitter: the mean is half the cap (within 10%), so it grows until the cap.
		if mean < want*45/100 || mean > want*55/100 {
			t.Errorf("mean jitter(%d) = %v, want ≈ %v", attempt, mean, want/2)
		}
		if want < ceiling && mean <= prevMean {
			t.Errorf("mean jitter(%d) = %v did not grow from %v", attempt, mean, prevMean)
		}
		prevMean = mean
	}
}

func TestRetryAfterPausesAllWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		act := &recorder{latency: 100 * time.Millisecond, fn: func(n int, _ []loop.Item[int], _ int) (int, error) {
			if n == 0 {
				return 429, errThrottle // Retry-After 1s, seen at 100ms
			}
			return 200, nil
		}}
		sum, err := loop.Run(t.Context(), &sliceSource{n: 40}, act, loop.Options[int]{Workers: 4, Classify: classifyTest})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		holdFrom, holdTo := 100*time.Millisecond, 1100*time.Millisecond
		for i, c := range act.calls {
			if at := c.at.Sub(start); at > holdFrom && at < holdTo {
				t.Errorf("call %d started at %v, inside the pause [%v, %v)", i, at, holdFrom, holdTo)
			}
		}
		if sum.Paused != time.Second || sum.Throttled != 1 || sum.OK != 40 || sum.Requests != 41 {
			t.Errorf("summary %+v, want paused 1s, 1 throttled, 40 ok, 41 requests", sum)
		}
	})
}

func TestRetryAfterBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		act := &recorder{fn: func(int, []loop.Item[int], int) (int, error) { return 429, errThrottle }}
		var c collector
		sum, err := loop.Run(t.Context(), &sliceSource{n: 1}, act, loop.Options[int]{
			MaxAttempts:     2,
			RateLimitBudget: 2500 * time.Millisecond,
			Classify:        classifyTest,
			OnResult:        c.add,
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		r := c.byIndex(t, 1)[0]
		// Calls at 0s, 1s, 2s; the third Retry-After would take the pause to 3s > 2.5s.
		// Retry-After retries do not count against MaxAttempts (2).
		if r.Status != loop.StatusFailed || r.Attempts != 3 || !errors.Is(r.Err, loop.ErrRateLimitBudget) || !errors.Is(r.Err, errThrottle) {
			t.Errorf("result %+v, want failed after 3 attempts with ErrRateLimitBudget", r)
		}
		if sum.Paused != 2*time.Second || sum.Throttled != 3 {
			t.Errorf("summary %+v, want paused 2s, 3 throttled", sum)
		}
	})
}

func TestMaxAttemptsWithRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		act := &recorder{fn: func(n int, _ []loop.Item[int], _ int) (int, error) {
			if n%2 == 0 {
				return 429, errThrottle
			}
			return 503, errTransient
		}}
		var c collector
		if _, err := loop.Run(t.Context(), &sliceSource{n: 1}, act, loop.Options[int]{
			MaxAttempts: 3, Classify: classifyTest, OnResult: c.add, Backoff: func(int) time.Duration { return time.Second },
		}); err != nil {
			t.Fatalf("Run: %v", err)
		}
		r := c.byIndex(t, 1)[0]
		var gu *loop.GaveUpError
		if !errors.As(r.Err, &gu) || gu.Attempts != 3 || r.Attempts != 6 {
			t.Errorf("result %+v, want 3 counted attempts out of 6 calls", r)
		}
	})
}

func TestBisect(t *testing.T) {
	bad := map[int64]bool{2: true, 5: true}
	act := &recorder{fn: func(_ int, batch []loop.Item[int], _ int) (int, error) {
		for _, it := range batch {
			if bad[it.Index] {
				return 400, errBad
			}
		}
		return 200, nil
	}}
	var c collector
	sum, err := loop.Run(t.Context(), &sliceSource{n: 8}, act, loop.Options[int]{BatchSize: 8, Classify: classifyTest, OnResult: c.add})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	res := c.byIndex(t, 8)
	// [0,8) -> [0,4) [4,8) -> [0,2) ok, [2,4) -> 2 bad, 3 ok; [4,6) -> 4 ok, 5 bad; [6,8) ok.
	wantAttempts := []int{3, 3, 4, 4, 4, 4, 3, 3}
	for i, r := range res {
		want := loop.StatusOK
		if bad[int64(i)] {
			want = loop.StatusFailed
		}
		if r.Status != want || r.Attempts != wantAttempts[i] {
			t.Errorf("item %d: %s after %d requests, want %s after %d", i, r.Status, r.Attempts, want, wantAttempts[i])
		}
		if want == loop.StatusFailed && (!errors.Is(r.Err, errBad) || r.Code != 400) {
			t.Errorf("item %d: err %v code %d, want %v 400", i, r.Err, r.Code, errBad)
		}
	}
	if sum.Splits != 5 || sum.OK != 6 || sum.Failed != 2 || sum.Requests != 11 {
		t.Errorf("summary %+v, want 5 splits, 6 ok, 2 failed, 11 requests", sum)
	}
}

func TestFatalStopsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		act := &recorder{latency: 10 * time.Millisecond, fn: func(n int, _ []loop.Item[int], _ int) (int, error) {
			if n == 5 {
				return 401, errAuth
			}
			return 200, nil
		}}
		var c collector
		src := &sliceSource{n: 1000}
		sum, err := loop.Run(t.Context(), src, act, loop.Options[int]{Workers: 2, BatchSize: 2, Classify: classifyTest, OnResult: c.add})
		var ae *loop.AbortError
		if !errors.As(err, &ae) || !errors.Is(err, errAuth) {
			t.Fatalf("Run = %v, want an AbortError wrapping %v", err, errAuth)
		}
		if sum.Read >= 1000 || src.i != sum.Read {
			t.Errorf("read %d items (source at %d), want reading to stop early", sum.Read, src.i)
		}
		res := c.byIndex(t, int(sum.Read))
		var notSent int
		for _, r := range res {
			switch {
			case r.Status == loop.StatusOK:
			case errors.Is(r.Err, errAuth) && !errors.Is(r.Err, loop.ErrNotSent):
			case errors.Is(r.Err, loop.ErrNotSent) && r.Attempts == 0 && strings.HasPrefix(r.Err.Error(), "not sent: run aborted: 401"):
				notSent++
			default:
				t.Errorf("item %d: %s %v", r.Item.Index, r.Status, r.Err)
			}
		}
		if notSent == 0 {
			t.Errorf("no item reported as not sent")
		}
		if int(sum.Requests) != len(act.calls) || sum.Requests > 7 {
			t.Errorf("%d requests after a fatal answer to the 6th", sum.Requests)
		}
	})
}

func TestCancelMidRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(1050*time.Millisecond, cancel)
		act := &recorder{latency: 100 * time.Millisecond, fn: func(n int, _ []loop.Item[int], _ int) (int, error) {
			if n%3 == 0 {
				return 503, errTransient // retried after a backoff, unless cancelled first
			}
			return 200, nil
		}}
		var c collector
		start := time.Now()
		sum, err := loop.Run(ctx, &sliceSource{n: 1 << 40}, act, loop.Options[int]{
			Workers: 4, BatchSize: 3, OnResult: c.add, Backoff: func(int) time.Duration { return 300 * time.Millisecond },
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		res := c.byIndex(t, int(sum.Read))
		counts := map[string]int{}
		for _, r := range res {
			switch {
			case r.Status == loop.StatusOK:
				counts["ok"]++
			case errors.Is(r.Err, loop.ErrNotSent) && strings.HasPrefix(r.Err.Error(), "not sent: interrupted: context canceled"):
				counts["not sent"]++
			case r.Status == loop.StatusFailed && errors.Is(r.Err, errTransient) && errors.Is(r.Err, context.Canceled):
				counts["no retry"]++
			default:
				t.Errorf("item %d: %s %v", r.Item.Index, r.Status, r.Err)
			}
		}
		if counts["ok"] == 0 || counts["not sent"] == 0 || counts["no retry"] == 0 {
			t.Errorf("outcomes %v, want some of each", counts)
		}
		if got := time.Since(start); got != 1100*time.Millisecond {
			t.Errorf("Run returned after %v, want 1.1s (in-flight attempts finish)", got)
		}
		if sum.OK+sum.Failed != sum.Read {
			t.Errorf("summary %+v does not add up", sum)
		}
	})
}

func TestDrainTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		act := &recorder{latency: time.Hour}
		var c collector
		start := time.Now()
		sum, err := loop.Run(ctx, &sliceSource{n: 10}, act, loop.Options[int]{Workers: 2, DrainTimeout: 2 * time.Second, OnResult: c.add})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run = %v, want context.DeadlineExceeded", err)
		}
		if got := time.Since(start); got != 3*time.Second {
			t.Errorf("Run returned after %v, want 3s (1s + drain 2s)", got)
		}
		res := c.byIndex(t, int(sum.Read))
		inFlight := 0
		for _, r := range res {
			if r.Attempts == 1 && errors.Is(r.Err, context.Canceled) {
				inFlight++
			} else if !errors.Is(r.Err, loop.ErrNotSent) {
				t.Errorf("item %d: %s %v", r.Item.Index, r.Status, r.Err)
			}
		}
		if inFlight != 2 {
			t.Errorf("%d items cut off in flight, want 2", inFlight)
		}
	})
}

// failingSource fails after n items.
type failingSource struct{ sliceSource }

var errDisk = errors.New("disk on fire")

func (s *failingSource) Next(ctx context.Context) (loop.Item[int], error) {
	it, err := s.sliceSource.Next(ctx)
	if errors.Is(err, io.EOF) {
		return it, errDisk
	}
	return it, err
}

func TestSourceError(t *testing.T) {
	var c collector
	sum, err := loop.Run(t.Context(), &failingSource{sliceSource{n: 7}}, &recorder{}, loop.Options[int]{BatchSize: 3, OnResult: c.add})
	if !errors.Is(err, errDisk) {
		t.Fatalf("Run = %v, want %v", err, errDisk)
	}
	res := c.byIndex(t, 7)
	if i := slices.IndexFunc(res, func(r loop.Result[int]) bool { return r.Status != loop.StatusOK }); i >= 0 || sum.OK != 7 {
		t.Errorf("items read before the error were not all sent: %+v", sum)
	}
}
