package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
		want float64
	}{
		{"the 1-minute figure", write("ok", "0.42 1.30 2.00 1/321 4567\n"), 0.42},
		{"empty", write("empty", ""), -1},
		{"not a number", write("bad", "x 1 2\n"), -1},
		{"missing", filepath.Join(dir, "none"), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := readLoad(tt.path); got != tt.want {
				t.Errorf("readLoad = %v, want %v", got, tt.want)
			}
		})
	}
	if got := readLoad(loadFile); got < 0 {
		t.Logf("no load average on this machine (%s)", loadFile)
	}
}

func TestLoadCell(t *testing.T) {
	tests := []struct {
		name     string
		sc       scenarioResult
		cell     string
		max      float64
		unknowns bool
	}{
		{"no runs", scenarioResult{Load: 0.5}, "0.50", 0.5, false},
		{"one reading", scenarioResult{Load: 0.5, Runs: []runResult{{Load: 0.7}}}, "0.50; runs 0.70", 0.7, false},
		{"a range", scenarioResult{Load: 2, Runs: []runResult{{Load: 0.7}, {Load: 1.2}, {Load: 0.9}}}, "2.00; runs 0.70–1.20", 2, false},
		{"unknown", scenarioResult{Load: -1, Runs: []runResult{{Load: -1}}}, "unknown; runs unknown", -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loadCell(tt.sc); got != tt.cell {
				t.Errorf("loadCell = %q, want %q", got, tt.cell)
			}
			if got := maxLoad(tt.sc); got != tt.max {
				t.Errorf("maxLoad = %v, want %v", got, tt.max)
			}
		})
	}
}
