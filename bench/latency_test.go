package main

import (
	"testing"
	"time"
)

// latencyRuns are one run per client of a latency scenario on rows rows,
// each taking the wall time given.
func latencyRuns(rows int, walls map[string]float64) []runResult {
	var runs []runResult
	for c, w := range walls {
		runs = append(runs, runResult{Client: c, Rows: rows, Run: 1, WallSec: w, Server: serverStats{Unique: int64(rows)}})
	}
	return runs
}

func TestLatencyFigures(t *testing.T) {
	sc := latencyScenario(sizes{latency: 100_000}, 12, 50*time.Millisecond)
	tests := []struct {
		name  string
		walls map[string]float64
		want  map[string]string // metric → verdict
	}{
		{
			name:  "every target met",
			walls: map[string]float64{clientDefaults: 4.1, clientRate1000: 1.0, clientRate0: 1.1, clientFixed64: 1.0, clientAgo: 2.0},
			want: map[string]string{
				"segloop, default flags: rows/s ÷ its ceiling (--rate 250 × batch 100)": pass, // 24,390/s of 25,000/s
				"rows/s, segloop --rate 1000 ÷ analytics-go":                            pass,
				"rows/s, segloop --rate 0 ÷ segloop --concurrency 64 --rate 0":          pass, // 0.91×
			},
		},
		{
			name:  "every target missed",
			walls: map[string]float64{clientDefaults: 4.3, clientRate1000: 2.1, clientRate0: 1.2, clientFixed64: 1.0, clientAgo: 2.0},
			want: map[string]string{
				"segloop, default flags: rows/s ÷ its ceiling (--rate 250 × batch 100)": miss, // 93%
				"rows/s, segloop --rate 1000 ÷ analytics-go":                            miss,
				"rows/s, segloop --rate 0 ÷ segloop --concurrency 64 --rate 0":          miss, // 0.83×
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := verdicts(sc.figures(sc, latencyRuns(100_000, tt.walls)))
			for m, v := range tt.want {
				if got[m] != v {
					t.Errorf("%s: got %q, want %s (all: %v)", m, got[m], v, got)
				}
			}
		})
	}
}

func TestSingleLatencyFigures(t *testing.T) {
	sc := singleLatencyScenario(sizes{single: 4_200})
	if sc.Server.Latency != 50*time.Millisecond || sc.Server.Rate != 200 || sc.Clients[0].Batch != 1 || sc.Clients[0].Rate != 200 {
		t.Fatalf("scenario 14 is %+v", sc)
	}
	run := func(accepted, throttled int64) []runResult {
		return []runResult{{Client: clientSegloop, Rows: 4_200, Run: 1, WallSec: 21,
			Server: serverStats{Requests: accepted + throttled, Accepted: accepted, Throttled: throttled, Unique: accepted}}}
	}
	got := verdicts(sc.figures(sc, run(4_200, 20)))
	if got["segloop: accepted requests/s (limit 200/s)"] != pass || got["segloop: requests answered 429"] != pass {
		t.Errorf("200/s with 0.5%% 429s: %v", got)
	}
	got = verdicts(sc.figures(sc, run(4_000, 60)))
	if got["segloop: accepted requests/s (limit 200/s)"] != miss || got["segloop: requests answered 429"] != miss {
		t.Errorf("190/s with 1.5%% 429s: %v", got)
	}
}

// verdicts maps each figure's metric to its verdict ("" when it has no target).
func verdicts(fs []figure) map[string]string {
	m := make(map[string]string, len(fs))
	for _, f := range fs {
		m[f.Metric] = f.Verdict
	}
	return m
}
