package main

import "testing"

func TestRetryFloor(t *testing.T) {
	if got := retryFloor(0.5, 1000, 0, 0); got != 0.5 {
		t.Errorf("floor without faults = %v s, want the clean time 0.5 s", got)
	}
	a, b := retryFloor(0.5, 1000, 0.10, 0.05), retryFloor(0.5, 1000, 0.10, 0.05)
	if a != b {
		t.Errorf("floor not deterministic: %v then %v", a, b)
	}
	// Scenario 6 at a clean time of 0.5 s: the expected slowest of 1,000
	// requests backs off about 1.3 s past the clean time.
	if a < 1.2 || a > 2.5 {
		t.Errorf("floor of 10%% 503s and 5%% resets at 0.5 s clean = %v s, want 1.2-2.5 s", a)
	}
	if c := retryFloor(0.5, 1000, 0.15, 0); c <= a {
		t.Errorf("floor with every fault backing off (%v s) not above the floor with immediate resets (%v s)", c, a)
	}
}
