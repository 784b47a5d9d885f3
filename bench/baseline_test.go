package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestVariants(t *testing.T) {
	clients := []clientConfig{{Name: clientSegloop}, {Name: clientAgo}}
	names := func(cs []clientConfig) string {
		var s []string
		for _, c := range cs {
			s = append(s, c.label())
		}
		return strings.Join(s, ", ")
	}
	r := &runner{}
	if got, want := names(r.variants(clients, 1)), "segloop, analytics-go"; got != want {
		t.Errorf("without a baseline: %s, want %s", got, want)
	}
	r.baseline = baseline{path: "/bin/segloop-old", label: "a64dfbe"}
	if got, want := names(r.variants(clients, 1)), "segloop, segloop @a64dfbe, analytics-go"; got != want {
		t.Errorf("run 1: %s, want %s", got, want)
	}
	if got, want := names(r.variants(clients, 2)), "segloop @a64dfbe, segloop, analytics-go"; got != want {
		t.Errorf("run 2 (the order alternates): %s, want %s", got, want)
	}
	r.bins = bins{segloop: "/bin/segloop", agoloop: "/bin/agoloop"}
	for _, c := range r.variants(clients, 1) {
		want := map[string]string{"segloop": "/bin/segloop", "segloop @a64dfbe": "/bin/segloop-old", "analytics-go": "/bin/agoloop"}[c.label()]
		if got := r.binOf(c); got != want {
			t.Errorf("binOf(%s) = %s, want %s", c.label(), got, want)
		}
	}
}

func TestBeforeAfterFigures(t *testing.T) {
	sc := &scenario{Name: "throughput", Rows: []int{100}, beforeAfter: 1.05,
		Clients: []clientConfig{{Name: clientSegloop}, {Name: "segloop --other"}, {Name: clientAgo}}}
	r := func(client, build string, run int, wall, cpu float64) runResult {
		return runResult{Client: client, Build: build, Rows: 100, Run: run, WallSec: wall, CPUSec: cpu, MaxRSSKiB: 1000, Server: serverStats{Unique: 100}}
	}
	runs := []runResult{
		r(clientSegloop, "", 1, 1.0, 1.2), r(clientSegloop, "old", 1, 1.0, 1.0),
		r(clientSegloop, "old", 2, 1.0, 1.0), r(clientSegloop, "", 2, 1.1, 1.0), // paired by run: 1.10×
		r(clientSegloop, "", 3, 0.9, 1.0), r(clientSegloop, "old", 3, 1.0, 1.0),
		r("segloop --other", "", 1, 1.0, 1.0), // the baseline refused it: no pair
		r(clientAgo, "", 1, 2.0, 2.0),
	}
	current, base := splitBuilds(runs)
	fs := beforeAfterFigures(sc, current, base, "new", "old")
	byMetric := make(map[string]figure)
	for _, f := range fs {
		byMetric[f.Metric] = f
	}
	tests := []struct {
		metric, text, verdict string
	}{
		{"segloop: wall time, new ÷ old", "1.00×", pass},   // ratios 1.0, 1.1, 0.9
		{"segloop: CPU seconds, new ÷ old", "1.00×", pass}, // ratios 1.2, 1.0, 1.0
		{"segloop: peak RSS, new ÷ old", "1.00×", ""},      // no target
		{"segloop @old: wall time", "1.00 s", ""},          // the baseline's own
		{"segloop --other: before/after", "no run of old (it refused the command line)", ""},
	}
	for _, tt := range tests {
		f, ok := byMetric[tt.metric]
		if !ok {
			t.Errorf("no figure %q in %v", tt.metric, fs)
			continue
		}
		if f.Text != tt.text || f.Verdict != tt.verdict {
			t.Errorf("%s: %q %q, want %q %q", tt.metric, f.Text, f.Verdict, tt.text, tt.verdict)
		}
	}
	for _, f := range fs {
		if strings.HasPrefix(f.Metric, clientAgo) {
			t.Errorf("analytics-go has no baseline build, yet %q", f.Metric)
		}
	}
	// A figure without a value (the refused client's) still encodes.
	if !math.IsNaN(byMetric["segloop --other: before/after"].Value) {
		t.Fatal("the refused client's figure has a value")
	}
	b, err := json.Marshal(fs)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	if !strings.Contains(string(b), `"value":null`) {
		t.Errorf("NaN not written as null: %s", b)
	}
}

// TestBuildBaseline builds segloop at HEAD through git archive, as -baseline
// does, and runs the binary it made.
func TestBuildBaseline(t *testing.T) {
	if _, err := gitOutput(t.Context(), "rev-parse", "--git-dir"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("not in a git checkout: %v", err)
		}
		t.Skipf("not in a git checkout: %v", err)
	}
	dir := t.TempDir()
	b, err := buildBaseline(t.Context(), dir, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	head, err := gitOutput(t.Context(), "rev-parse", "--short", "HEAD")
	if err != nil || b.label != head {
		t.Errorf("label %q, want HEAD's %q (%v)", b.label, head, err)
	}
	out, err := exec.Command(b.path, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "segloop ") {
		t.Errorf("the baseline binary: %q, %v", out, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("the sources were not removed: %v %v", entries, err)
	}
	if _, err := buildBaseline(t.Context(), dir, "no-such-ref-anywhere"); err == nil || !strings.Contains(err.Error(), "no-such-ref-anywhere") {
		t.Errorf("an unknown ref: %v", err)
	}
}
