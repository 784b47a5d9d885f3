package loop_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segloop/segloop/loop"
)

// TestSystemicRefusals: refusals that concern the remote end as a whole are not
// bisected, go one request at a time after the first, and abort the run after
// MaxSystemic in a row with no success between them; every item read still has exactly
// one result.
func TestSystemicRefusals(t *testing.T) {
	tests := []struct {
		name         string
		concurrency  int
		refuse       func(n int) bool // whether call n is refused
		wantAbort    bool
		maxRequests  int64
		wantRefusals int
	}{
		{name: "every request, 8 in flight", concurrency: 8, refuse: func(int) bool { return true }, wantAbort: true, maxRequests: 8, wantRefusals: 4},
		{name: "every request, adaptive", refuse: func(int) bool { return true }, wantAbort: true, maxRequests: 8, wantRefusals: 4},
		{name: "every request, one at a time", concurrency: 1, refuse: func(int) bool { return true }, wantAbort: true, maxRequests: loop.MaxSystemic, wantRefusals: 4},
		{name: "successes in between", concurrency: 4, refuse: func(n int) bool { return n%2 == 0 }, maxRequests: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				act := &recorder{latency: 10 * time.Millisecond, fn: func(n int, _ []loop.Item[int], _ int) (int, error) {
					if tt.refuse(n) {
						return 404, errSystemic
					}
					return 200, nil
				}}
				var c collector
				sum, err := loop.Run(t.Context(), &sliceSource{n: 1000}, act, loop.Options[int]{
					Concurrency: tt.concurrency, BatchSize: 10, Classify: classifyTest, OnResult: c.add,
				})
				var ae *loop.AbortError
				var re *loop.RefusedError
				switch {
				case !tt.wantAbort && err != nil:
					t.Fatalf("Run = %v, want nil", err)
				case tt.wantAbort && (!errors.As(err, &ae) || !errors.As(err, &re) || !errors.Is(err, errSystemic) || re.Refusals != tt.wantRefusals):
					t.Fatalf("Run = %v, want an AbortError wrapping a RefusedError of %d refusals", err, tt.wantRefusals)
				}
				res := c.byIndex(t, int(sum.Read))
				for _, r := range res {
					switch {
					case r.Status == loop.StatusOK:
					case r.Status == loop.StatusFailed && errors.Is(r.Err, errSystemic) && r.Attempts == 1 && r.Code == 404:
					case tt.wantAbort && errors.Is(r.Err, loop.ErrNotSent) && r.Attempts == 0:
					default:
						t.Errorf("item %d: %s after %d attempts: %v", r.Item.Index, r.Status, r.Attempts, r.Err)
					}
				}
				if sum.Splits != 0 || sum.Requests > tt.maxRequests || sum.Requests != int64(len(act.calls)) {
					t.Errorf("%d requests, %d splits; want ≤ %d requests and no split", sum.Requests, sum.Splits, tt.maxRequests)
				}
			})
		})
	}
}
