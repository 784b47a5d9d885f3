package loop

import (
	"math"
	"testing"
	"time"
)

// TestGradientSlowStartExit: in slow start a full round doubles the limit while its
// round trips stay at the baseline; one whose round trips lengthen by more than
// slowExit (though not enough to be taken for a queue) ends slow start, and the limit
// grows by its square root from then on.
func TestGradientSlowStartExit(t *testing.T) {
	unlimited := func() float64 { return math.Inf(1) }
	now := time.Unix(0, 0)
	tests := []struct {
		name     string
		mean     time.Duration // of the second round, at 16; the first, at 8, had 10ms
		wantLim  int
		wantSlow bool
	}{
		{"same round trips", 10 * time.Millisecond, 32, true},
		{"within slowExit", 11 * time.Millisecond, 32, true},
		{"longer by a fifth", 12 * time.Millisecond, 20, false},
		{"a queue", 20 * time.Millisecond, 14, false}, // cut halfway to 16 × 1.5 × 10/20, then probed
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGradient(128, unlimited, now)
			g.decide(now, 10*time.Millisecond, true, false)
			if g.limit() != 16 || !g.slow {
				t.Fatalf("after the first round: limit %d, slow %v; want 16 in slow start", g.limit(), g.slow)
			}
			g.decide(now.Add(time.Second), tt.mean, true, false)
			if g.resume > 0 && g.probing {
				g.lim = g.resume // look past the probe round at the limit the cut set
			}
			if g.limit() != tt.wantLim || g.slow != tt.wantSlow {
				t.Errorf("limit %d, slow %v; want %d, %v", g.limit(), g.slow, tt.wantLim, tt.wantSlow)
			}
		})
	}
}

// TestGradientSizedByTheFirstAnswer: under a limiter of known rate the first accepted
// answer raises the limit to (1 + headroom) × rate × its round trip, within the cap, at
// once; it never lowers it, and neither a refused answer nor a later one sizes it.
// Without a known, finite rate it does nothing.
func TestGradientSizedByTheFirstAnswer(t *testing.T) {
	now := time.Unix(0, 0)
	rate := func(r float64) func() float64 { return func() float64 { return r } }
	type answer struct {
		rtt time.Duration
		ok  bool
	}
	tests := []struct {
		name    string
		rate    func() float64
		max     int
		answers []answer
		want    int
	}{
		{"1000/s, 100ms", rate(1000), 1000, []answer{{100 * time.Millisecond, true}}, 150},
		{"within the cap", rate(1000), 128, []answer{{100 * time.Millisecond, true}}, 128},
		{"a quick answer does not cut", rate(250), 128, []answer{{time.Millisecond, true}}, initialConcurrency},
		{"a refusal does not size", rate(1000), 1000, []answer{{100 * time.Millisecond, false}}, initialConcurrency},
		{"only the first accepted answer", rate(1000), 1000, []answer{{10 * time.Millisecond, true}, {100 * time.Millisecond, true}}, 15},
		{"no limiter", func() float64 { return math.Inf(1) }, 1000, []answer{{100 * time.Millisecond, true}}, initialConcurrency},
		{"a limiter that does not say its rate", nil, 1000, []answer{{100 * time.Millisecond, true}}, initialConcurrency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGradient(tt.max, tt.rate, now)
			for i, a := range tt.answers {
				g.observe(now.Add(a.rtt), uint64(i), initialConcurrency, a.rtt, 0, a.ok)
			}
			if g.limit() != tt.want {
				t.Errorf("limit %d, want %d", g.limit(), tt.want)
			}
		})
	}
}
