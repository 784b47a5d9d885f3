package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBench runs the quick bench end to end (builds segloop and agoloop,
// starts sandbox processes). It is skipped unless SEGLOOP_BENCH=1, so CI and
// go test ./... never run it.
func TestBench(t *testing.T) {
	if os.Getenv("SEGLOOP_BENCH") != "1" {
		t.Skip("set SEGLOOP_BENCH=1 to run the end-to-end bench (about a minute)")
	}
	var stdout, stderr bytes.Buffer
	out := filepath.Join(t.TempDir(), "results.json")
	if err := run(t.Context(), []string{"-quick", "-json", out}, &stdout, &stderr); err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr.String())
	}
	t.Logf("\n%s", stdout.String())
	for _, sc := range plan(true) {
		if !strings.Contains(stdout.String(), fmt.Sprintf("| %d |", sc.ID)) {
			t.Errorf("the table has no scenario %d:\n%s", sc.ID, stdout.String())
		}
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("no JSON written: %v", err)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want float64
	}{
		{"one", []float64{3}, 3},
		{"odd, unsorted", []float64{5, 1, 3}, 3},
		{"even takes the mean of the middle two", []float64{4, 1, 3, 2}, 2.5},
		{"repeated", []float64{2, 2, 9}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.xs...)
			if got := median(tt.xs); got != tt.want {
				t.Errorf("median(%v) = %v, want %v", in, got, tt.want)
			}
			for i := range in {
				if in[i] != tt.xs[i] {
					t.Fatalf("median modified its input: %v, was %v", tt.xs, in)
				}
			}
		})
	}
	t.Run("none is NaN", func(t *testing.T) {
		if got := median(nil); !math.IsNaN(got) {
			t.Errorf("median(nil) = %v, want NaN", got)
		}
	})
}

func TestVerdicts(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"at most, equal", atMost(0.4, 0.4), pass},
		{"at most, above", atMost(0.41, 0.4), miss},
		{"below, equal", below(0.01, 0.01), miss},
		{"below, under", below(0.009, 0.01), pass},
		{"at least, equal", atLeast(1, 1), pass},
		{"at least, under", atLeast(0.999, 1), miss},
		{"NaN misses", atMost(math.NaN(), 1), miss},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %s, want %s", tt.got, tt.want)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	rep := report{
		Machine:  machine{CPU: "Test CPU", Cores: 2, GoVersion: "go1.26", OS: "linux/amd64", Date: "2026-01-02 03:04 UTC", Load: "0.10"},
		Command:  "go run ./bench -runs 3",
		Build:    "e0a4398",
		Baseline: "a64dfbe",
		Runs:     3,
		Scenarios: []scenarioResult{
			{ID: 1, Name: "throughput", Load: 0.1, Runs: []runResult{{Load: 0.3}, {Load: 0.2}}, Figures: []figure{
				{Metric: "CPU a|b", Text: "0.30×", Target: "≤ 0.40×", Verdict: pass},
				{Metric: "items/s", Text: "1000/s"},
			}},
			{ID: 2, Name: "limit", Load: 1.5, Runs: []runResult{{Load: 1.5}}, Figures: []figure{
				{Metric: "time", Text: "1.00×", Target: "≤ 1.10×", Verdict: pass, HighLoad: true},
			}},
		},
	}
	var b strings.Builder
	if err := writeTable(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := "Machine: Test CPU, 2 cores, go1.26, linux/amd64; 2026-01-02 03:04 UTC; load average 0.10 at the start. Median of 3 run(s).\n\n" +
		"Command: `go run ./bench -runs 3` at e0a4398, baseline a64dfbe\n\n" +
		"| # | Scenario | Figure | Median | Target | Result | Load |\n" +
		"|---|---|---|---|---|---|---|\n" +
		"| 1 | throughput | CPU a\\|b | 0.30× | ≤ 0.40× | PASS | 0.10; runs 0.20–0.30 |\n" +
		"| 1 | throughput | items/s | 1000/s | – | – | 0.10; runs 0.20–0.30 |\n" +
		"| 2 | limit | time | 1.00× † | ≤ 1.10× | PASS | 1.50; runs 1.50 |\n" +
		"\n† taken at a 1-minute load average above 1 (Load: the reading before the scenario; runs: the range of the readings before each run): other work shared the machine, so the figure is noisy.\n"
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestParseCPUModel(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"first model name", "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: other\n", "AMD EPYC 7B13"},
		{"none", "processor\t: 0\n", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseCPUModel([]byte(tt.in)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseReport(t *testing.T) {
	tests := []struct {
		name           string
		client         string
		stdout, stderr string
		want           clientReport
	}{
		{
			name:   "segloop JSON summary",
			client: clientSegloop,
			stderr: "warning: something\n" +
				`{"time":"x","level":"INFO","msg":"import finished","read":10,"ok":9,"invalid":1,"failed":0,"requests":3,"throttled":1,"retries":2,"paused":"1.5s","elapsed":"2.25s"}` + "\n",
			want: clientReport{OK: 9, Failed: 1, Requests: 3, Throttled: 1, Retries: 2, Paused: 1500e6, Elapsed: 2250e6, Parsed: true},
		},
		{
			name:   "segloop without a summary",
			client: clientSegloop,
			stderr: "segloop: usage\n",
			want:   clientReport{},
		},
		{
			name:   "agoloop line",
			client: clientAgo,
			stdout: "agoloop: enqueued 100, succeeded 90, failed 8, rejected 2\n",
			want:   clientReport{OK: 90, Failed: 10, Parsed: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseReport(tt.client, []byte(tt.stdout), []byte(tt.stderr)); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestArgs(t *testing.T) {
	srv := serverConfig{Rate: 20, Burst: 2, FailRate: 0.1, ResetRate: 0.05, Seed: 7}
	if got, want := strings.Join(srv.args(), " "), "sandbox --addr 127.0.0.1:0 --rate 20 --burst 2 --fail-rate 0.1 --reset-rate 0.05 --latency 0s --seed 7"; got != want {
		t.Errorf("sandbox args:\n got %s\nwant %s", got, want)
	}
	srv.Latency = 50 * time.Millisecond
	if got, want := strings.Join(srv.args(), " "), "sandbox --addr 127.0.0.1:0 --rate 20 --burst 2 --fail-rate 0.1 --reset-rate 0.05 --latency 50ms --seed 7"; got != want {
		t.Errorf("sandbox args with latency:\n got %s\nwant %s", got, want)
	}
	c := clientConfig{Name: clientSegloop, Batch: 100, Rate: 0}
	if got, want := strings.Join(c.args("http://h", "f.csv"), " "), "import --endpoint http://h --write-key bench-write-key --batch 100 --rate 0 --results /dev/null --log-format json f.csv"; got != want {
		t.Errorf("segloop args:\n got %s\nwant %s", got, want)
	}
	d := clientConfig{Name: clientDefaults, Batch: 100, Rate: 7, DefaultRate: true, Extra: []string{"--concurrency", "64"}}
	if got, want := strings.Join(d.args("http://h", "f.csv"), " "), "import --endpoint http://h --write-key bench-write-key --batch 100 --results /dev/null --log-format json --concurrency 64 f.csv"; got != want {
		t.Errorf("segloop args at the default rate:\n got %s\nwant %s", got, want)
	}
	a := clientConfig{Name: clientAgo, Batch: 100}
	if got, want := strings.Join(a.args("http://h", "f.csv"), " "), "--endpoint http://h --write-key bench-write-key --batch 100 f.csv"; got != want {
		t.Errorf("agoloop args:\n got %s\nwant %s", got, want)
	}
}

func TestInputs(t *testing.T) {
	in := newInputs(t.TempDir())
	p, err := in.file(50)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 51 || lines[0]+"\n" != csvHeader {
		t.Fatalf("got %d lines starting %q, want the header and 50 rows", len(lines), lines[0])
	}
	if !strings.HasPrefix(lines[1], "u0000001,") || strings.Count(lines[1], ",") != 6 {
		t.Errorf("first row %q", lines[1])
	}
	again, err := in.file(50)
	if err != nil || again != p {
		t.Errorf("second call: %q, %v; want the same file %q", again, err, p)
	}
}

func TestBound(t *testing.T) {
	if got := bound(10_000, 100, 20); got != 5 {
		t.Errorf("bound(10000, 100, 20) = %v, want 5", got)
	}
	if got := bound(101, 100, 20); got != 0.1 {
		t.Errorf("bound(101, 100, 20) = %v, want 0.1 (two requests)", got)
	}
}

// BenchmarkWriteUsers measures the input generator (it writes up to 1M rows
// before the runs).
func BenchmarkWriteUsers(b *testing.B) {
	b.ReportAllocs()
	dir := b.TempDir()
	for i := 0; b.Loop(); i++ {
		in := newInputs(dir)
		if _, err := in.file(10_000 + i%2); err != nil {
			b.Fatal(err)
		}
	}
}
