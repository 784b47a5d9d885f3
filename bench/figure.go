package main

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// Verdicts of a figure against its target.
const (
	pass = "PASS"
	miss = "MISS"
)

// figure is one row of the table: a median figure, and where an issue sets
// one, its target and whether the figure meets it.
type figure struct {
	Scenario string  `json:"scenario"`
	Metric   string  `json:"metric"`
	Value    float64 `json:"value"`            // the median (or a ratio of medians)
	Text     string  `json:"text"`             // Value as the table shows it
	Target   string  `json:"target,omitempty"` // e.g. "≤ 0.40×"
	Verdict  string  `json:"verdict,omitempty"`
	HighLoad bool    `json:"highLoad,omitempty"` // the scenario or one of its runs started at a load above highLoad
}

// MarshalJSON writes the figure with a Value that is not a number (a ratio
// of nothing, a median of no runs) as null, which encoding/json would
// otherwise refuse.
func (f figure) MarshalJSON() ([]byte, error) {
	type plain figure // without this method
	out := struct {
		plain
		Value *float64 `json:"value"`
	}{plain: plain(f)}
	if !math.IsNaN(f.Value) && !math.IsInf(f.Value, 0) {
		out.Value = &f.Value
	}
	return json.Marshal(out)
}

// median returns the median of xs (the mean of the middle two for an even
// count), or NaN for none. xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// medianOf is the median of f over the runs of one client on one input size.
func medianOf(runs []runResult, client string, rows int, f func(runResult) float64) float64 {
	var xs []float64
	for _, r := range runs {
		if r.Client == client && r.Rows == rows {
			xs = append(xs, f(r))
		}
	}
	return median(xs)
}

// ratio is a/b, or NaN when b is zero.
func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// verdict is pass when ok holds, miss otherwise; a NaN figure always misses.
func verdict(v float64, ok bool) string {
	if ok && !math.IsNaN(v) {
		return pass
	}
	return miss
}

// atMost judges v ≤ limit.
func atMost(v, limit float64) string { return verdict(v, v <= limit) }

// below judges v < limit.
func below(v, limit float64) string { return verdict(v, v < limit) }

// atLeast judges v ≥ limit.
func atLeast(v, limit float64) string { return verdict(v, v >= limit) }

// Per-run metrics, for medianOf.
func wall(r runResult) float64   { return r.WallSec }
func cpu(r runResult) float64    { return r.CPUSec }
func rssMiB(r runResult) float64 { return float64(r.MaxRSSKiB) / 1024 }

// delivered is the number of distinct events the server recorded.
func delivered(r runResult) float64 { return float64(r.Server.Unique) }

// items is the number of rows the run's processes read in all.
func items(r runResult) int { return r.Rows * max(1, r.Procs) }

// notDelivered is the items read minus those delivered.
func notDelivered(r runResult) float64 { return float64(int64(items(r)) - r.Server.Unique) }

// share429 is the fraction of requests answered 429.
func share429(r runResult) float64 {
	return ratio(float64(r.Server.Throttled), float64(r.Server.Requests))
}

// Formatting of figure texts.
func fmtSec(v float64) string    { return fmt.Sprintf("%.2f s", v) }
func fmtRatio(v float64) string  { return fmt.Sprintf("%.2f×", v) }
func fmtPct(v float64) string    { return fmt.Sprintf("%.2f%%", 100*v) }
func fmtCount(v float64) string  { return fmt.Sprintf("%.0f", v) }
func fmtMiB(v float64) string    { return fmt.Sprintf("%.1f MiB", v) }
func fmtPerSec(v float64) string { return fmt.Sprintf("%.0f/s", v) }
func fmtMicros(v float64) string { return fmt.Sprintf("%.1f µs", v*1e6) }
