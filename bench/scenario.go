package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// scenario is one measurement: an input size (or two), a server, and the
// clients run against a fresh server each, runs times.
type scenario struct {
	ID      int
	Name    string
	Rows    []int          // input sizes; every client runs on each
	Input   inputKind      // the generated input (zero: the users CSV)
	Server  serverConfig   // the sandbox of every run (Seed is set per run)
	Clients []clientConfig // run one after the other, each with its own server
	// figures turns the runs into the table's rows.
	figures func(sc *scenario, runs []runResult) []figure
	// each, if set, replaces runner.once for one client run (shared.go).
	each func(ctx context.Context, r *runner, srv serverConfig, c clientConfig, file string) (runResult, error)
	// beforeAfter, if set, is the most the tree's wall and CPU time may be
	// of the -baseline build's (issue 10: scenario 1 within 5%).
	beforeAfter float64
}

// runResult is one client process on one input against one fresh server.
type runResult struct {
	Client    string       `json:"client"`
	Build     string       `json:"build,omitempty"` // the -baseline build's label; empty: the tree measured
	Rows      int          `json:"rows"`
	Run       int          `json:"run"`
	Load      float64      `json:"load"` // 1-minute load average just before the run (-1: unknown)
	WallSec   float64      `json:"wallSec"`
	CPUSec    float64      `json:"cpuSec"`
	MaxRSSKiB int64        `json:"maxRssKiB"`
	ExitCode  int          `json:"exitCode"`
	Procs     int          `json:"procs,omitempty"`     // processes, each on Rows rows (0: one)
	SpreadSec float64      `json:"spreadSec,omitempty"` // several processes: first to last exit
	Server    serverStats  `json:"server"`
	Report    clientReport `json:"report"`
}

// scenarioResult is a scenario as run: its set-up, every run and the figures.
type scenarioResult struct {
	ID      int            `json:"id"`
	Name    string         `json:"name"`
	Rows    []int          `json:"rows"`
	Load    float64        `json:"load"` // 1-minute load average just before the scenario (-1: unknown)
	Server  serverConfig   `json:"server"`
	Clients []clientConfig `json:"clients"`
	Runs    []runResult    `json:"runs"`
	Figures []figure       `json:"figures"`
}

// bins are the two built client binaries (segloop also serves the sandbox).
type bins struct {
	segloop, agoloop string
}

// runner runs scenarios. A runner is used by one goroutine.
type runner struct {
	bins     bins
	baseline baseline // with a path: every segloop client also runs on it
	current  string   // label of the tree measured, for the before/after figures
	inputs   *inputs
	runs     int
	log      io.Writer      // progress lines
	load     func() float64 // the 1-minute load average now (-1: unknown)
}

// run runs sc r.runs times and returns its result. Any failure to start or
// measure a process ends the scenario with an error; a client that fails to
// deliver is a measurement, not an error. With a baseline, each segloop run
// is paired with a run of the baseline build on the same input and server
// seed, the two in alternating order, and the figures compare them.
func (r *runner) run(ctx context.Context, sc *scenario) (scenarioResult, error) {
	res := scenarioResult{ID: sc.ID, Name: sc.Name, Rows: sc.Rows, Load: r.load(), Server: sc.Server, Clients: sc.Clients}
	refused := make(map[string]bool) // clients whose command line the baseline refused
	for run := 1; run <= r.runs; run++ {
		for _, rows := range sc.Rows {
			file, err := r.inputs.fileOf(sc.Input, rows)
			if err != nil {
				return res, err
			}
			for _, c := range r.variants(sc.Clients, run) {
				if c.Build != "" && refused[c.Name] {
					continue
				}
				srv := sc.Server
				if c.Server != nil {
					srv = *c.Server
				}
				srv.Seed = int64(1000*sc.ID + run)
				load := r.load()
				var rr runResult
				if sc.each != nil {
					rr, err = sc.each(ctx, r, srv, c, file)
				} else {
					rr, err = r.once(ctx, srv, c, file)
				}
				if err != nil {
					return res, fmt.Errorf("scenario %d (%s), run %d, %s on %d rows: %w", sc.ID, sc.Name, run, c.label(), rows, err)
				}
				rr.Build, rr.Rows, rr.Run, rr.Load = c.Build, rows, run, load
				if c.Build != "" && rr.ExitCode == exitUsage {
					refused[c.Name] = true
					fmt.Fprintf(r.log, "bench: [%d] the baseline %s refused the command line of %s (exit %d); it is left out of this scenario\n",
						sc.ID, c.Build, c.Name, rr.ExitCode)
					continue
				}
				fmt.Fprintf(r.log, "bench: [%d] %s, run %d/%d, %s, %d rows, load %s: %.2fs wall, %.2fs CPU, %d KiB RSS, %d/%d delivered, %d requests (%d 429), exit %d\n",
					sc.ID, sc.Name, run, r.runs, c.label(), rows, fmtLoad(load), rr.WallSec, rr.CPUSec, rr.MaxRSSKiB,
					rr.Server.Unique, items(rr), rr.Server.Requests, rr.Server.Throttled, rr.ExitCode)
				res.Runs = append(res.Runs, rr)
			}
		}
	}
	current, base := splitBuilds(res.Runs)
	res.Figures = sc.figures(sc, current)
	if r.baseline.path != "" {
		res.Figures = append(res.Figures, beforeAfterFigures(sc, current, base, r.current, r.baseline.label)...)
	}
	if high := maxLoad(res); high > highLoad {
		for i := range res.Figures {
			res.Figures[i].HighLoad = true
		}
	}
	return res, nil
}

// exitUsage is segloop's exit code for a usage or configuration error
// (nothing sent): from a baseline build, a flag it does not know yet.
const exitUsage = 2

// variants lists the client runs of one run of a scenario: each client,
// and with a baseline each segloop client on the baseline build too, the
// two builds in an order that alternates from run to run so neither always
// runs first.
func (r *runner) variants(clients []clientConfig, run int) []clientConfig {
	var out []clientConfig
	for _, c := range clients {
		if r.baseline.path == "" || c.Name == clientAgo {
			out = append(out, c)
			continue
		}
		b := c
		b.Build = r.baseline.label
		if run%2 == 0 {
			out = append(out, b, c)
		} else {
			out = append(out, c, b)
		}
	}
	return out
}

// binOf is the binary client c runs.
func (r *runner) binOf(c clientConfig) string {
	switch {
	case c.Name == clientAgo:
		return r.bins.agoloop
	case c.Build != "":
		return r.baseline.path
	}
	return r.bins.segloop
}

// label is the client's name with its build, as progress lines show it.
func (c clientConfig) label() string {
	if c.Build == "" {
		return c.Name
	}
	return c.Name + " @" + c.Build
}

// splitBuilds separates the runs of the tree measured from the baseline's.
func splitBuilds(runs []runResult) (current, base []runResult) {
	for _, r := range runs {
		if r.Build == "" {
			current = append(current, r)
		} else {
			base = append(base, r)
		}
	}
	return current, base
}

// measured is the result of one process of client: its usage u, the
// server's counters st, and the report it printed.
func measured(client string, u usage, st serverStats) runResult {
	return runResult{
		Client:    client,
		WallSec:   u.Wall.Seconds(),
		CPUSec:    u.CPU.Seconds(),
		MaxRSSKiB: u.MaxRSSKiB,
		ExitCode:  u.ExitCode,
		Server:    st,
		Report:    parseReport(client, u.Stdout, u.Stderr),
	}
}

// once starts a fresh sandbox, runs one client against it, reads the
// server's counters and stops the sandbox.
func (r *runner) once(ctx context.Context, srv serverConfig, c clientConfig, file string) (rr runResult, err error) {
	sb, err := startSandbox(ctx, r.bins.segloop, srv)
	if err != nil {
		return rr, err
	}
	defer func() {
		if stopErr := sb.stop(); err == nil && stopErr != nil && ctx.Err() == nil {
			err = fmt.Errorf("stopping the sandbox: %w", stopErr)
		}
	}()
	u, err := runMeasured(ctx, r.binOf(c), c.args(sb.url, file)...)
	if err != nil {
		return rr, fmt.Errorf("%w; stderr: %s", err, tail(u.Stderr, 2000))
	}
	statsCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := sb.stats(statsCtx)
	if err != nil {
		return rr, err
	}
	return measured(c.Name, u, st), nil
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
