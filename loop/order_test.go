package loop_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segloop/segloop/loop"
)

// TestOrderPerKey runs three items of key "a" (the first one fails twice before it gets
// through) among items of other keys, in batches of two: the second "a" goes only once
// the first has succeeded, the third only once the second has, and the other keys are
// not held up meanwhile.
func TestOrderPerKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		keys := []string{"a", "b", "a", "c", "d", "a", "e", "f"}
		failures := 0
		act := &recorder{latency: 10 * time.Millisecond, fn: func(_ int, batch []loop.Item[int], _ int) (int, error) {
			if batch[0].Index == 0 && failures < 2 {
				failures++
				return 503, errTransient
			}
			return 200, nil
		}}
		var c collector
		_, err := loop.Run(t.Context(), &sliceSource{n: len(keys), keys: keys}, act, loop.Options[int]{
			Concurrency: 4, BatchSize: 2, OnResult: c.add,
			Backoff: func(int) time.Duration { return time.Second },
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		for i, r := range c.byIndex(t, len(keys)) {
			if r.Status != loop.StatusOK {
				t.Errorf("item %d: %s %v", i, r.Status, r.Err)
			}
		}
		first := map[int64]time.Duration{} // item -> start of the first call that carried it
		for _, call := range act.calls {
			for _, i := range call.idx {
				if _, ok := first[i]; !ok {
					first[i] = call.at.Sub(start)
				}
			}
		}
		// Item 0 is answered at 10ms, 1.02s and 2.03s (two backoffs of 1s): item 2 goes
		// after that, item 5 after item 2; b..f all go at once.
		if first[2] < 2030*time.Millisecond || first[5] <= first[2] {
			t.Errorf("a's items sent at %v, %v, %v; want each after the one before it succeeded", first[0], first[2], first[5])
		}
		for _, i := range []int64{1, 3, 4, 6, 7} {
			if first[i] > 50*time.Millisecond {
				t.Errorf("item %d (key %s) first sent at %v: held up by key a", i, keys[i], first[i])
			}
		}
	})
}

// countingSource yields n items of one key and, at each Next, records how many items
// were read but have no result yet.
type countingSource struct {
	sliceSource
	c       *collector
	maxOpen int
}

func (s *countingSource) Next(ctx context.Context) (loop.Item[int], error) {
	s.c.mu.Lock()
	s.maxOpen = max(s.maxOpen, int(s.i)-len(s.c.res))
	s.c.mu.Unlock()
	return s.sliceSource.Next(ctx)
}

// TestOrderHeldIsBounded reads 200 items of a single key with MaxHeld 5: reading pauses
// while 5 are held, so at most 5 held, 1 out and 1 final but not yet reported are read
// without a result; every item still gets one, in order; and no batch lingers (an hour
// here) while reading waits, since nothing could come to fill it.
func TestOrderHeldIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		keys := make([]string, 200)
		for i := range keys {
			keys[i] = "same"
		}
		var c collector
		src := &countingSource{sliceSource: sliceSource{n: len(keys), keys: keys}, c: &c}
		var order []int64
		act := &recorder{latency: time.Millisecond, fn: func(_ int, batch []loop.Item[int], _ int) (int, error) {
			order = append(order, batch[0].Index)
			return 200, nil
		}}
		start := time.Now()
		sum, err := loop.Run(t.Context(), src, act, loop.Options[int]{BatchSize: 10, MaxHeld: 5, BatchLinger: time.Hour, OnResult: c.add})
		if err != nil || sum.OK != 200 {
			t.Fatalf("Run: %v, %+v", err, sum)
		}
		if d := time.Since(start); d >= time.Hour {
			t.Errorf("the run took %v: batches lingered while reading waited", d)
		}
		c.byIndex(t, 200)
		if src.maxOpen > 7 {
			t.Errorf("%d items read without a result at once, want ≤ 7", src.maxOpen)
		}
		for i, idx := range order {
			if idx != int64(i) || len(act.calls[i].idx) != 1 {
				t.Fatalf("call %d carried %v, want item %d alone", i, act.calls[i].idx, i)
			}
		}
	})
}

// TestOrderStopWithHeldItems stops runs while items are held (by cancellation and by a
// fatal answer): every held item still gets exactly one result, "not sent".
func TestOrderStopWithHeldItems(t *testing.T) {
	tests := []struct {
		name   string
		cancel bool // cancel the context at 500ms; otherwise the third call is fatal
		want   string
	}{
		{name: "interrupted", cancel: true, want: "not sent: interrupted"},
		{name: "aborted", want: "not sent: run aborted: 401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				if tt.cancel {
					time.AfterFunc(500*time.Millisecond, cancel)
				}
				keys := make([]string, 50)
				for i := range keys {
					keys[i] = []string{"x", "y"}[i%2]
				}
				act := &recorder{latency: 100 * time.Millisecond, fn: func(n int, _ []loop.Item[int], _ int) (int, error) {
					if !tt.cancel && n == 2 {
						return 401, errAuth
					}
					return 200, nil
				}}
				var c collector
				sum, err := loop.Run(ctx, &sliceSource{n: len(keys), keys: keys}, act, loop.Options[int]{
					BatchSize: 5, Classify: classifyTest, OnResult: c.add,
				})
				if err == nil {
					t.Fatal("Run returned nil, want the reason it stopped")
				}
				res := c.byIndex(t, int(sum.Read))
				var notSent int
				for _, r := range res {
					switch {
					case r.Status == loop.StatusOK:
					case errors.Is(r.Err, loop.ErrNotSent) && r.Attempts == 0 && strings.HasPrefix(r.Err.Error(), tt.want):
						notSent++
					case errors.Is(r.Err, errAuth):
					default:
						t.Errorf("item %d: %s %v", r.Item.Index, r.Status, r.Err)
					}
				}
				if notSent == 0 || sum.Read < 10 {
					t.Errorf("read %d, %d not sent: want held items reported unsent", sum.Read, notSent)
				}
			})
		})
	}
}

// endlessKeyed yields items forever, all of one key, until its context ends.
type endlessKeyed struct {
	mu sync.Mutex
	i  int64
}

func (s *endlessKeyed) Next(ctx context.Context) (loop.Item[int], error) {
	if ctx.Err() != nil {
		return loop.Item[int]{}, io.EOF
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.i++
	return loop.Item[int]{Index: s.i - 1, Key: "k"}, nil
}

// TestOrderCancelWhileReadingIsBlocked cancels a run whose producer waits for room to
// hold one more item: it stops, and the run ends with a result for every item read.
func TestOrderCancelWhileReadingIsBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		act := &recorder{latency: time.Hour}
		var c collector
		sum, err := loop.Run(ctx, &endlessKeyed{}, act, loop.Options[int]{MaxHeld: 3, DrainTimeout: time.Second, OnResult: c.add})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run = %v, want the deadline", err)
		}
		c.byIndex(t, int(sum.Read))
		if sum.Read > 6 || len(act.calls) != 1 {
			t.Errorf("read %d items and made %d calls, want reading paused at the bound and one call", sum.Read, len(act.calls))
		}
	})
}
