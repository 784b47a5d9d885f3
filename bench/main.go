// Command bench measures segloop end to end against the Segment-compatible
// sandbox, side by side with a plain analytics-go v3.3.0 Client loop
// (bench/agoloop), and prints a markdown table of the medians with the
// targets of issues 7, 10, 11, 12 and 15, and writes every run as JSON.
//
// Usage, from the module root:
//
//	go run ./bench [-runs 3] [-quick] [-only 1,5] [-baseline REF] [-json bench/out/results.json]
//
// It builds segloop and agoloop into a temporary directory, generates the CSV
// inputs there, and for every run of every client starts a fresh
// `segloop sandbox` process on 127.0.0.1 (so the server's CPU and memory stay
// out of the client's figures). It measures the client process: wall time,
// user+system CPU seconds and peak RSS from the kernel, and the server's
// counters from GET /stats. All traffic stays on loopback; every child
// process is killed when the bench exits or is interrupted. The 1-minute load
// average is read before every scenario and every run; figures taken above
// a load of 1 are marked.
//
// With -baseline REF it also builds segloop as it is at the git ref REF (from
// git archive, in the temporary directory: the checkout is not touched) and
// runs every segloop client on both builds, interleaved, adding the ratios
// of the two to each scenario's figures: before and after in one run.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		}
		os.Exit(1)
	}
}

// errUsage is a command line error, already reported by the flag package.
var errUsage = errors.New("usage")

// options is the bench's command line.
type options struct {
	runs     int
	quick    bool
	json     string
	only     string
	baseline string
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.runs, "runs", 3, "runs of each scenario; the table shows the median")
	fs.BoolVar(&o.quick, "quick", false, "smaller inputs and one run: a smoke test of about a minute")
	fs.StringVar(&o.json, "json", filepath.Join("bench", "out", "results.json"), "write every run and figure as JSON to `FILE` (empty: don't)")
	fs.StringVar(&o.only, "only", "", "comma-separated scenario numbers to run (default: all)")
	fs.StringVar(&o.baseline, "baseline", "", "also build segloop at the git `REF` and run every segloop client on both builds, interleaved, with the ratios")
	if err := fs.Parse(args); err != nil {
		return o, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q\n", fs.Arg(0))
		return o, errUsage
	}
	if o.quick {
		o.runs = 1
	}
	if o.runs < 1 || o.runs > 99 {
		fmt.Fprintf(stderr, "bench: -runs must be between 1 and 99, got %d\n", o.runs)
		return o, errUsage
	}
	return o, nil
}

// run is the bench: build, generate, measure, print, write.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "segloop-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Fprintln(stderr, "bench: building segloop and agoloop")
	b, err := build(ctx, dir)
	if err != nil {
		return err
	}
	r := &runner{bins: b, current: currentBuild(ctx), inputs: newInputs(dir), runs: o.runs, log: stderr, load: loadNow}
	if o.baseline != "" {
		fmt.Fprintf(stderr, "bench: building segloop at %s\n", o.baseline)
		if r.baseline, err = buildBaseline(ctx, dir, o.baseline); err != nil {
			return err
		}
	}
	rep := report{Machine: thisMachine(time.Now()), Command: commandLine(args), Build: r.current,
		Baseline: r.baseline.label, Runs: o.runs, Quick: o.quick}
	scenarios, err := choose(plan(o.quick), o.only)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return errUsage
	}
	for _, sc := range scenarios {
		res, err := r.run(ctx, sc)
		if err != nil {
			return err
		}
		rep.Scenarios = append(rep.Scenarios, res)
	}
	if err := writeTable(stdout, rep); err != nil {
		return err
	}
	if o.json == "" {
		return nil
	}
	return writeJSON(o.json, rep)
}

// build compiles segloop and agoloop into dir with the go command on PATH.
func build(ctx context.Context, dir string) (bins, error) {
	b := bins{segloop: filepath.Join(dir, "segloop"), agoloop: filepath.Join(dir, "agoloop")}
	for _, t := range []struct{ out, pkg string }{
		{b.segloop, "github.com/segloop/segloop/cmd/segloop"},
		{b.agoloop, "github.com/segloop/segloop/bench/agoloop"},
	} {
		out, err := exec.CommandContext(ctx, "go", "build", "-o", t.out, t.pkg).CombinedOutput()
		if err != nil {
			return b, fmt.Errorf("go build %s: %w\n%s", t.pkg, err, out)
		}
	}
	return b, nil
}

// choose returns the scenarios of the comma-separated list only, in the
// plan's order (an empty list chooses all); a number the plan lacks is an
// error.
func choose(all []*scenario, only string) ([]*scenario, error) {
	if strings.TrimSpace(only) == "" {
		return all, nil
	}
	want := make(map[int]bool)
	for _, s := range strings.Split(only, ",") {
		id, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("-only wants scenario numbers separated by commas, got %q", s)
		}
		want[id] = true
	}
	var out []*scenario
	for _, sc := range all {
		if want[sc.ID] {
			out = append(out, sc)
			delete(want, sc.ID)
		}
	}
	for id := range want {
		return nil, fmt.Errorf("-only: there is no scenario %d", id)
	}
	return out, nil
}

// commandLine is the one-line command that reproduces this bench.
func commandLine(args []string) string {
	return strings.TrimSpace("go run ./bench " + strings.Join(args, " "))
}

// writeJSON writes rep to path, creating its directory.
func writeJSON(path string, rep report) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
