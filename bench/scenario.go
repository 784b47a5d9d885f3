package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// scenario is one measurement of issue 7: an input size (or two), a server,
// and the clients run against a fresh server each, runs times.
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
}

// runResult is one client process on one input against one fresh server.
type runResult struct {
	Client    string       `json:"client"`
	Rows      int          `json:"rows"`
	Run       int          `json:"run"`
	WallSec   float64      `json:"wallSec"`
	CPUSec    float64      `json:"cpuSec"`
	MaxRSSKiB int64        `json:"maxRssKiB"`
	ExitCode  int          `json:"exitCode"`
	SpreadSec float64      `json:"spreadSec,omitempty"` // several processes: first to last exit
	Server    serverStats  `json:"server"`
	Report    clientReport `json:"report"`
}

// scenarioResult is a scenario as run: its set-up, every run and the figures.
type scenarioResult struct {
	ID      int            `json:"id"`
	Name    string         `json:"name"`
	Rows    []int          `json:"rows"`
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
	bins   bins
	inputs *inputs
	runs   int
	log    io.Writer // progress lines
}

// run runs sc r.runs times and returns its result. Any failure to start or
// measure a process ends the scenario with an error; a client that fails to
// deliver is a measurement, not an error.
func (r *runner) run(ctx context.Context, sc *scenario) (scenarioResult, error) {
	res := scenarioResult{ID: sc.ID, Name: sc.Name, Rows: sc.Rows, Server: sc.Server, Clients: sc.Clients}
	for run := 1; run <= r.runs; run++ {
		for _, rows := range sc.Rows {
			file, err := r.inputs.fileOf(sc.Input, rows)
			if err != nil {
				return res, err
			}
			for _, c := range sc.Clients {
				srv := sc.Server
				srv.Seed = int64(1000*sc.ID + run)
				once := r.once
				if sc.each != nil {
					once = func(ctx context.Context, srv serverConfig, c clientConfig, file string) (runResult, error) {
						return sc.each(ctx, r, srv, c, file)
					}
				}
				rr, err := once(ctx, srv, c, file)
				if err != nil {
					return res, fmt.Errorf("scenario %d (%s), run %d, %s on %d rows: %w", sc.ID, sc.Name, run, c.Name, rows, err)
				}
				rr.Rows, rr.Run = rows, run
				fmt.Fprintf(r.log, "bench: [%d] %s, run %d/%d, %s, %d rows: %.2fs wall, %.2fs CPU, %d KiB RSS, %d/%d delivered, %d requests (%d 429), exit %d\n",
					sc.ID, sc.Name, run, r.runs, c.Name, rows, rr.WallSec, rr.CPUSec, rr.MaxRSSKiB,
					rr.Server.Unique, rows, rr.Server.Requests, rr.Server.Throttled, rr.ExitCode)
				res.Runs = append(res.Runs, rr)
			}
		}
	}
	res.Figures = sc.figures(sc, res.Runs)
	return res, nil
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
	bin := r.bins.segloop
	if c.Name == clientAgo {
		bin = r.bins.agoloop
	}
	u, err := runMeasured(ctx, bin, c.args(sb.url, file)...)
	if err != nil {
		return rr, fmt.Errorf("%w; stderr: %s", err, tail(u.Stderr, 2000))
	}
	statsCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := sb.stats(statsCtx)
	if err != nil {
		return rr, err
	}
	return runResult{
		Client:    c.Name,
		WallSec:   u.Wall.Seconds(),
		CPUSec:    u.CPU.Seconds(),
		MaxRSSKiB: u.MaxRSSKiB,
		ExitCode:  u.ExitCode,
		Server:    st,
		Report:    parseReport(c.Name, u.Stdout, u.Stderr),
	}, nil
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
