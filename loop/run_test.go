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
	case errors.Is(err, errSystemic):
		return loop.Verdict{Systemic: true}
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
		{name: "batches of 4", n: 10, opts: loop.Options[int]{BatchSize: 4, Concurrency: 1}, wantMaxLen: 4, wantBatches: 3},
		{name: "byte bound", n: 10, size: 10, opts: loop.Options[int]{BatchSize: 100, BatchBytes: 25, Concurrency: 2}, wantMaxLen: 2, wantBatches: 5},
		{name: "invalid items never sent", n: 10, bad: []int64{0, 3, 9}, opts: loop.Options[int]{BatchSize: 3, Concurrency: 3}, wantMaxLen: 3, wantBatches: 3},
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
		sum, err := loop.Run(t.Context(), src, act, loop.Options[int]{Concurrency: 2, BatchSize: 2, Classify: classifyTest, OnResult: c.add})
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
			Concurrency: 4, BatchSize: 3, OnResult: c.add, Backoff: func(int) time.Duration { return 300 * time.Millisecond },
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
		sum, err := loop.Run(ctx, &sliceSource{n: 10}, act, loop.Options[int]{Concurrency: 2, DrainTimeout: 2 * time.Second, OnResult: c.add})
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

// TestSettledItems: items the source marks skipped or unchanged are reported with that
// status, attempts 0, and never sent; they count as successes and in the Summary.
func TestSettledItems(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &sliceSource{n: 10, bad: map[int64]bool{4: true}, settled: map[int64]loop.Status{
			0: loop.StatusSkipped, 3: loop.StatusUnchanged, 4: loop.StatusSkipped, 9: loop.StatusUnchanged,
		}}
		act := &recorder{}
		var c collector
		sum, err := loop.Run(t.Context(), src, act, loop.Options[int]{BatchSize: 4, OnResult: c.add})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		want := map[int64]loop.Status{0: loop.StatusSkipped, 3: loop.StatusUnchanged, 4: loop.StatusInvalid, 9: loop.StatusUnchanged}
		for i, r := range c.byIndex(t, 10) {
			w, ok := want[int64(i)]
			if !ok {
				w = loop.StatusOK
			}
			if r.Status != w || (w != loop.StatusOK && r.Attempts != 0) || r.Status.Success() != (w != loop.StatusInvalid) {
				t.Errorf("item %d: %s after %d attempts, want %s", i, r.Status, r.Attempts, w)
			}
		}
		for _, call := range act.calls {
			for _, i := range call.idx {
				if _, ok := want[i]; ok {
					t.Errorf("item %d was sent", i)
				}
			}
		}
		if sum.Read != 10 || sum.OK != 6 || sum.Skipped != 1 || sum.Unchanged != 2 || sum.Invalid != 1 || sum.Failed != 0 {
			t.Errorf("summary %+v, want 10 read: 6 ok, 1 skipped, 2 unchanged, 1 invalid", sum)
		}
	})
}
