package ratelimit_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/segloop/segloop/ratelimit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGateHolds(t *testing.T) {
	// Each hold is given as (offset from start at which Hold is called, duration).
	type hold struct{ at, d time.Duration }
	tests := []struct {
		name       string
		holds      []hold
		wantOpenAt time.Duration // when a Wait started at 0 returns
		wantPaused time.Duration // total after everything ended
	}{
		{"zero gate is open", nil, 0, 0},
		{"one hold", []hold{{0, 2 * time.Second}}, 2 * time.Second, 2 * time.Second},
		{"overlap merges", []hold{{0, 2 * time.Second}, {time.Second, 3 * time.Second}}, 4 * time.Second, 4 * time.Second},
		{"shorter hold inside does not shorten", []hold{{0, 5 * time.Second}, {time.Second, time.Second}}, 5 * time.Second, 5 * time.Second},
		{"disjoint holds add up", []hold{{0, time.Second}, {3 * time.Second, 2 * time.Second}}, time.Second, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var g ratelimit.Gate
				start := time.Now()
				done := make(chan struct{})
				go func() {
					defer close(done)
					for _, h := range tt.holds {
						time.Sleep(time.Until(start.Add(h.at)))
						g.Hold(time.Now().Add(h.d))
					}
				}()
				synctest.Wait() // the holds at offset 0 are in place
				if err := g.Wait(t.Context()); err != nil {
					t.Fatalf("Wait: %v", err)
				}
				if got := time.Since(start); got != tt.wantOpenAt {
					t.Errorf("Wait returned after %v, want %v", got, tt.wantOpenAt)
				}
				<-done
				time.Sleep(time.Minute)
				if got := g.Paused(); got != tt.wantPaused {
					t.Errorf("Paused = %v, want %v", got, tt.wantPaused)
				}
			})
		})
	}
}

func TestGateWaitCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g ratelimit.Gate
		g.Hold(time.Now().Add(time.Hour))
		cause := errors.New("stop")
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(time.Second, func() { cancel(cause) })
		start := time.Now()
		if err := g.Wait(ctx); !errors.Is(err, cause) {
			t.Errorf("Wait = %v, want %v", err, cause)
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("Wait returned after %v, want 1s", got)
		}
		if got := g.Paused(); got != time.Second {
			t.Errorf("Paused mid-hold = %v, want 1s", got)
		}
	})
}

func TestGateHoldWithin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g ratelimit.Gate
		budget := 10 * time.Second
		now := time.Now()
		if err := g.HoldWithin(now.Add(6*time.Second), budget); err != nil {
			t.Fatalf("first hold: %v", err)
		}
		// Extending the same span to 10s total is within budget.
		if err := g.HoldWithin(now.Add(10*time.Second), budget); err != nil {
			t.Fatalf("extension: %v", err)
		}
		time.Sleep(20 * time.Second)
		err := g.HoldWithin(time.Now().Add(time.Second), budget)
		var be *ratelimit.BudgetError
		if !errors.Is(err, ratelimit.ErrBudgetExceeded) || !errors.As(err, &be) || be.Need != 11*time.Second {
			t.Fatalf("hold over budget = %v, want BudgetError needing 11s", err)
		}
		if !g.Until().Before(time.Now()) {
			t.Errorf("a refused hold closed the gate until %v", g.Until())
		}
	})
}
