package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The load average is read before every scenario and every run: on a
// machine of two cores shared with other work, a figure taken at a load
// above highLoad is marked in the table (highLoadMark and a footnote).
const (
	loadFile     = "/proc/loadavg"
	highLoad     = 1.0
	highLoadMark = "†"
)

// readLoad returns the 1-minute load average of a /proc/loadavg file, or -1
// when the file cannot be read or parsed.
func readLoad(path string) float64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil || v < 0 {
		return -1
	}
	return v
}

// loadNow is the machine's 1-minute load average now (-1: unknown).
func loadNow() float64 { return readLoad(loadFile) }

// fmtLoad formats a load average, or "unknown" for -1.
func fmtLoad(v float64) string {
	if v < 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.2f", v)
}

// maxLoad is the highest load average read before the scenario or one of
// its runs.
func maxLoad(sc scenarioResult) float64 {
	m := sc.Load
	for _, r := range sc.Runs {
		m = max(m, r.Load)
	}
	return m
}

// loadCell is the table's load cell of a scenario: the reading before it,
// and the range of the readings before its runs.
func loadCell(sc scenarioResult) string {
	if len(sc.Runs) == 0 {
		return fmtLoad(sc.Load)
	}
	lo, hi := sc.Runs[0].Load, sc.Runs[0].Load
	for _, r := range sc.Runs[1:] {
		lo, hi = min(lo, r.Load), max(hi, r.Load)
	}
	runs := fmtLoad(lo)
	if hi != lo {
		runs += "–" + fmtLoad(hi)
	}
	return fmtLoad(sc.Load) + "; runs " + runs
}
