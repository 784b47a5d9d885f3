package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The scenarios of the shared rate budget (issue 12) and of a declared limit (issue 11):
//
//   - sharedScenario: three segloop processes started together, 10,000 rows each in
//     batches of 100 (300 requests in all), against one sandbox allowing 20 requests/s
//     (bound 15 s): with --redis (one redis-server the bench starts, on loopback) and
//     --rate 20, the workspace's rate, and with --redis at --rate 200 (the limit unknown:
//     the shared adaptive rate finds it); then alone, each process at --rate 200 (the
//     issue's "today" row) and at --rate 20, and at --rate 200 started 100 ms apart.
//   - knownBurstScenario: one process told the server's limit, --rate 20 --burst 20,
//     against a 20/s server with a bucket of 20: bound (N − burst)/R.

// Client names of the three-process runs.
const (
	clientShared    = "segloop ×3, --redis, --rate 20"
	clientShared200 = "segloop ×3, --redis, --rate 200 (adaptive)"
	clientAlone     = "segloop ×3 alone, --rate 200 (adaptive)"
	clientAlone20   = "segloop ×3 alone, --rate 20"
	clientApart     = "segloop ×3 alone, --rate 200, started 100 ms apart"
	// apart is the time between the starts of clientApart's processes: a loaded machine
	// starts processes launched together that far apart, and a late one meets the
	// others' Retry-After window.
	apart         = 100 * time.Millisecond
	sharedProcs   = 3
	declaredBurst = 20
)

func sharedScenario(sz sizes) *scenario {
	return &scenario{ID: 8, Name: "three processes, one 20 req/s server", Rows: []int{sz.limited},
		Server: serverConfig{Rate: limitedRate, Burst: serverBurst(limitedRate)},
		Clients: []clientConfig{
			{Name: clientShared, Batch: batchSize, Rate: limitedRate},
			{Name: clientShared200, Batch: batchSize, Rate: tooFastRate},
			{Name: clientAlone, Batch: batchSize, Rate: tooFastRate},
			{Name: clientAlone20, Batch: batchSize, Rate: limitedRate},
			{Name: clientApart, Batch: batchSize, Rate: tooFastRate},
		},
		each: runProcesses, figures: sharedFigures}
}

func knownBurstScenario(sz sizes) *scenario {
	// At least 50 requests (-quick has 20): the bound is what follows the burst.
	return &scenario{ID: 9, Name: "known server limit, declared burst", Rows: []int{max(sz.limited, 5_000)},
		Server: serverConfig{Rate: limitedRate, Burst: serverBurst(limitedRate)},
		Clients: []clientConfig{{Name: clientSegloop, Batch: batchSize, Rate: limitedRate,
			Extra: []string{"--burst", strconv.Itoa(declaredBurst)}}},
		figures: knownBurstFigures}
}

// runProcesses is one run of a client of sharedScenario: a fresh sandbox (and, for
// clientShared, a fresh redis-server), three processes started together, each on rows
// rows under its own run key (clientApart's 100 ms apart). WallSec is from the first
// start to the last exit, SpreadSec between the first and the last exit; CPU and the
// reports are summed.
func runProcesses(ctx context.Context, r *runner, srv serverConfig, c clientConfig, file string) (runResult, error) {
	sb, err := startSandbox(ctx, r.bins.segloop, srv)
	if err != nil {
		return runResult{}, err
	}
	defer sb.stop()
	var extra []string
	if c.Name == clientShared || c.Name == clientShared200 {
		url, stop, err := startRedis(ctx, filepath.Dir(file))
		if err != nil {
			return runResult{}, err
		}
		defer stop()
		extra = append(extra, "--redis", url)
	}
	type out struct {
		u   usage
		err error
	}
	outs := make([]out, sharedProcs)
	offsets := make([]time.Duration, sharedProcs) // each process's start after the first's
	start := time.Now()
	var wg sync.WaitGroup
	for p := range sharedProcs {
		if c.Name == clientApart && p > 0 {
			time.Sleep(apart)
		}
		offsets[p] = time.Since(start)
		cc := c
		cc.Extra = append(append([]string{"--run-key", fmt.Sprintf("bench-process-%d", p)}, extra...), c.Extra...)
		wg.Go(func() {
			outs[p].u, outs[p].err = runMeasured(ctx, r.binOf(cc), cc.args(sb.url, file)...)
		})
	}
	wg.Wait()
	rr := runResult{Client: c.Name, Procs: sharedProcs}
	first, last := time.Duration(1<<62), time.Duration(0)
	for p, o := range outs {
		if o.err != nil {
			return rr, fmt.Errorf("%w; stderr: %s", o.err, tail(o.u.Stderr, 2000))
		}
		first, last = min(first, offsets[p]+o.u.Wall), max(last, offsets[p]+o.u.Wall)
		rr.CPUSec += o.u.CPU.Seconds()
		rr.MaxRSSKiB = max(rr.MaxRSSKiB, o.u.MaxRSSKiB)
		rr.ExitCode = max(rr.ExitCode, o.u.ExitCode)
		rep := parseReport(clientSegloop, o.u.Stdout, o.u.Stderr)
		rr.Report.OK += rep.OK
		rr.Report.Failed += rep.Failed
		rr.Report.Requests += rep.Requests
		rr.Report.Throttled += rep.Throttled
		rr.Report.Retries += rep.Retries
		rr.Report.Parsed = rep.Parsed
	}
	rr.WallSec = time.Since(start).Seconds()
	rr.SpreadSec = (last - first).Seconds()
	statsCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rr.Server, err = sb.stats(statsCtx)
	return rr, err
}

// startRedis starts a redis-server on a free loopback port, without persistence, in
// dir; stop kills it.
func startRedis(ctx context.Context, dir string) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.CommandContext(ctx, "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir, "--protected-mode", "no")
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting redis-server (Debian package redis-server): %w", err)
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	for deadline := time.Now().Add(10 * time.Second); ; {
		if pingRedis(addr) == nil {
			return "redis://" + addr + "/0", stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("redis-server on %s did not answer PING", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pingRedis(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	fmt.Fprint(conn, "PING\r\n")
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q (%v)", line, err)
	}
	return nil
}

func sharedFigures(sc *scenario, runs []runResult) []figure {
	f := &figs{name: sc.Name}
	rows := sc.Rows[0]
	b := float64(sharedProcs) * bound(rows, batchSize, sc.Server.Rate)
	for _, c := range sc.Clients {
		t := medianOf(runs, c.Name, rows, wall)
		tr := t / b
		text := fmt.Sprintf("%s = %s bound %s", fmtRatio(tr), fmtSec(t), fmtSec(b))
		share := medianOf(runs, c.Name, rows, share429)
		early := medianOf(runs, c.Name, rows, func(r runResult) float64 { return float64(r.Server.EarlyRequests) })
		del := medianOf(runs, c.Name, rows, delivered) / float64(sharedProcs*rows)
		spread := medianOf(runs, c.Name, rows, func(r runResult) float64 { return r.SpreadSec })
		switch c.Name {
		case clientShared:
			f.add(c.Name+": time ÷ bound", tr, text, "≤ 1.05× (issue 12)", atMost(tr, 1.05))
			f.add(c.Name+": requests answered 429", share, fmtPct(share), "≤ 1% (issue 12)", atMost(share, 0.01))
			f.add(c.Name+": requests inside a Retry-After window", early, fmtCount(early), "0 (issue 12)", atMost(early, 0))
		case clientAlone:
			f.add(c.Name+": time ÷ bound", tr, text, "≤ 1.3× (issue 12)", atMost(tr, 1.3))
			f.add(c.Name+": requests answered 429", share, fmtPct(share), "≤ 5% (issue 12)", atMost(share, 0.05))
			f.add(c.Name+": requests inside a Retry-After window", early, fmtCount(early), "≤ 3 (issue 12)", atMost(early, 3))
		default:
			f.add(c.Name+": time ÷ bound", tr, text, "", "")
			f.info(c.Name+": requests answered 429", share, fmtPct)
			f.info(c.Name+": requests inside a Retry-After window", early, fmtCount)
		}
		f.add(c.Name+": rows delivered", del, fmtPct(del), "100%", atLeast(del, 1))
		f.info(c.Name+": first to last exit", spread, fmtSec)
	}
	return f.list
}

func knownBurstFigures(sc *scenario, runs []runResult) []figure {
	f := &figs{name: sc.Name}
	rows := sc.Rows[0]
	requests := bound(rows, batchSize, 1)
	b := (requests - declaredBurst) / sc.Server.Rate
	t := medianOf(runs, clientSegloop, rows, wall)
	tr := t / b
	f.add("segloop: time ÷ (N − burst)/R", tr, fmt.Sprintf("%s = %s bound %s", fmtRatio(tr), fmtSec(t), fmtSec(b)), "≤ 1.02× (issue 11)", atMost(tr, 1.02))
	share := medianOf(runs, clientSegloop, rows, share429)
	f.add("segloop: requests answered 429", share, fmtPct(share), "< 1% (issue 11)", below(share, 0.01))
	del := medianOf(runs, clientSegloop, rows, delivered) / float64(rows)
	f.add("segloop: rows delivered", del, fmtPct(del), "100%", atLeast(del, 1))
	return f.list
}
