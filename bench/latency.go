package main

import (
	"fmt"
	"time"
)

// The scenarios of issue 11's field latency: a sandbox that answers every
// request after a fixed delay, as Segment does from 20–150 ms away.
//
//   - latencyScenario: no server limit, 100,000 rows in batches of 100, at
//     50 ms (scenario 12) and 100 ms (13): segloop with its default flags
//     (--rate 250, --concurrency auto) against its own ceiling of 25,000
//     rows/s; at --rate 1000 against the analytics-go loop; at --rate 0
//     against a fixed --concurrency 64 --rate 0.
//   - singleLatencyScenario (14): single-event mode at 50 ms against a
//     server allowing 200 requests/s, --batch 1 --rate 200, defaults
//     otherwise (concurrency auto); the analytics-go loop has no single-
//     event mode and no rate, so it does not run.

// Client names of the latency scenarios.
const (
	clientDefaults = "segloop, default flags"
	clientRate1000 = "segloop --rate 1000"
	clientRate0    = "segloop --rate 0"
	clientFixed64  = "segloop --concurrency 64 --rate 0"
)

// Issue 11's targets at field latency.
const (
	defaultsTarget = 0.95 // of segloop's own ceiling, segloopDefaultRate × batch
	rate1000Target = 1.00 // × analytics-go's rows/s
	rate0Target    = 0.90 // × the fixed 64-in-flight run's rows/s
	single429Max   = 0.01 // single-event mode: share of requests answered 429, below
)

// latencyScenario is scenario id: no server limit, every answer after
// latency.
func latencyScenario(sz sizes, id int, latency time.Duration) *scenario {
	return &scenario{ID: id, Name: fmt.Sprintf("%v latency, no server limit", latency), Rows: []int{sz.latency},
		Server: serverConfig{Latency: latency},
		Clients: []clientConfig{
			{Name: clientDefaults, Batch: batchSize, DefaultRate: true},
			{Name: clientRate1000, Batch: batchSize, Rate: 1000},
			{Name: clientRate0, Batch: batchSize, Rate: 0},
			{Name: clientFixed64, Batch: batchSize, Rate: 0, Extra: []string{"--concurrency", "64"}},
			{Name: clientAgo, Batch: batchSize},
		},
		figures: latencyFigures}
}

// singleLatencyScenario is scenario 14: scenario 4 at 50 ms.
func singleLatencyScenario(sz sizes) *scenario {
	return &scenario{ID: 14, Name: "single-event mode, 50ms latency", Rows: []int{sz.single},
		Server:  serverConfig{Rate: singleRate, Burst: serverBurst(singleRate), Latency: 50 * time.Millisecond},
		Clients: []clientConfig{{Name: clientSegloop, Batch: 1, Rate: singleRate}},
		figures: singleFigures(single429Max)}
}

// rowsPerSec is a run's distinct delivered rows per second of wall time.
func rowsPerSec(r runResult) float64 { return ratio(delivered(r), r.WallSec) }

func latencyFigures(sc *scenario, runs []runResult) []figure {
	f := &figs{name: sc.Name}
	rows := sc.Rows[0]
	rate := make(map[string]float64, len(sc.Clients))
	for _, c := range sc.Clients {
		rate[c.Name] = medianOf(runs, c.Name, rows, rowsPerSec)
		f.info(fmt.Sprintf("%s: delivered rows/s (%d rows)", c.Name, rows), rate[c.Name], fmtPerSec)
		f.info(c.Name+": wall time", medianOf(runs, c.Name, rows, wall), fmtSec)
		f.info(c.Name+": CPU seconds (user+sys)", medianOf(runs, c.Name, rows, cpu), fmtSec)
		f.info(c.Name+": rows not delivered", medianOf(runs, c.Name, rows, notDelivered), fmtCount)
	}
	ceiling := float64(segloopDefaultRate * batchSize)
	d := ratio(rate[clientDefaults], ceiling)
	f.add(fmt.Sprintf("%s: rows/s ÷ its ceiling (--rate %d × batch %d)", clientDefaults, segloopDefaultRate, batchSize), d,
		fmt.Sprintf("%s = %.0f/s of %.0f/s", fmtPct(d), rate[clientDefaults], ceiling),
		fmt.Sprintf("≥ %.0f%% (issue 11)", 100*defaultsTarget), atLeast(d, defaultsTarget))
	r1 := ratio(rate[clientRate1000], rate[clientAgo])
	f.add(fmt.Sprintf("rows/s, %s ÷ %s", clientRate1000, clientAgo), r1, fmtRatio(r1),
		fmt.Sprintf("≥ %.2f× (issue 11)", rate1000Target), atLeast(r1, rate1000Target))
	r0 := ratio(rate[clientRate0], rate[clientFixed64])
	f.add(fmt.Sprintf("rows/s, %s ÷ %s", clientRate0, clientFixed64), r0, fmtRatio(r0),
		fmt.Sprintf("≥ %.2f× (issue 11)", rate0Target), atLeast(r0, rate0Target))
	return f.list
}
