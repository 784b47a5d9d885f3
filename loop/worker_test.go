package loop_test

import (
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"github.com/segloop/segloop/loop"
)

// TestWorkersFollowInFlight: with the adaptive concurrency (cap 128) held low by the
// limiter (200 requests/s at 5 ms round trips wants 2 in flight), the run does not start
// a worker per slot of the cap: its goroutines number its own few (producer, batcher,
// dispatcher, the two that wait on them) and at most the first workers or the peak in
// flight, whichever is more.
func TestWorkersFollowInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		before := runtime.NumGoroutine()
		var most atomic.Int64
		act := &recorder{latency: 5 * time.Millisecond, fn: func(int, []loop.Item[int], int) (int, error) {
			most.Store(max(most.Load(), int64(runtime.NumGoroutine())))
			return 200, nil
		}}
		var c collector
		sum, err := loop.Run(t.Context(), &sliceSource{n: 400}, act, loop.Options[int]{
			Limiter:  rate.NewLimiter(200, 1),
			OnResult: c.add,
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		c.byIndex(t, 400)
		const own, first = 5, 8
		if got, want := int(most.Load())-before, own+max(first, sum.PeakInFlight); got > want {
			t.Errorf("%d goroutines during the run (peak in flight %d), want at most %d", got, sum.PeakInFlight, want)
		}
	})
}
