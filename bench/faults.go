package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/segloop/segloop/loop"
)

// faultsTarget is issue 11's bound on the time through faults, × the clean time.
const faultsTarget = 2.0

// cleanOf maps each of scenario 6's faulty segloop clients to the client
// whose clean time it is judged against.
var cleanOf = map[string]string{clientSegloop: clientClean, clientDefaults: clientDefaultsClean}

func faultFigures(sc *scenario, runs []runResult) []figure {
	f := &figs{name: sc.Name}
	rows := sc.Rows[0]
	for _, c := range sc.Clients {
		del := medianOf(runs, c.Name, rows, delivered) / float64(rows)
		switch c.Name {
		case clientClean, clientDefaultsClean:
			f.info(c.Name+": wall time", medianOf(runs, c.Name, rows, wall), fmtSec)
			f.info(c.Name+": rows not delivered", medianOf(runs, c.Name, rows, notDelivered), fmtCount)
			continue
		case clientSegloop, clientDefaults:
			clean := medianOf(runs, cleanOf[c.Name], rows, wall)
			t := medianOf(runs, c.Name, rows, wall)
			tr := ratio(t, clean)
			f.add(c.Name+": time ÷ clean time", tr, fmt.Sprintf("%s = %s clean %s", fmtRatio(tr), fmtSec(t), fmtSec(clean)),
				fmt.Sprintf("≤ %.0f× (issue 11)", faultsTarget), atMost(tr, faultsTarget))
			floor := retryFloor(clean, batches(rows), sc.Server.FailRate, sc.Server.ResetRate)
			f.info(c.Name+": the retry rule's floor (simulated), ÷ clean time", ratio(floor, clean), func(v float64) string {
				return fmt.Sprintf("%s = %s", fmtRatio(v), fmtSec(floor))
			})
			f.info(c.Name+": time ÷ the retry rule's floor", ratio(t, floor), fmtRatio)
			f.add(c.Name+": rows delivered", del, fmtPct(del), "100% (issue 11)", atLeast(del, 1))
			f.info(c.Name+": retries", medianOf(runs, c.Name, rows, func(r runResult) float64 { return float64(r.Report.Retries) }), fmtCount)
		default:
			f.info(c.Name+": rows delivered", del, fmtPct)
			f.info(c.Name+": rows lost", medianOf(runs, c.Name, rows, notDelivered), fmtCount)
		}
		f.info(c.Name+": requests beyond one per batch", medianOf(runs, c.Name, rows, func(r runResult) float64 {
			return float64(r.Server.Requests) - float64(batches(rows))
		}), fmtCount)
		f.info(c.Name+": duplicate events (same messageId)", medianOf(runs, c.Name, rows, func(r runResult) float64 { return float64(r.Server.Duplicates) }), fmtCount)
		f.info(c.Name+": wall time", medianOf(runs, c.Name, rows, wall), fmtSec)
	}
	return f.list
}

// batches is the number of requests of rows items at batchSize a request.
func batches(rows int) int { return int(math.Ceil(float64(rows) / float64(batchSize))) }

// retryFloor is the median wall time, in seconds, that SEGMENT.md's retry
// rule itself allows a run whose clean time is clean: n requests start evenly
// over the clean time, each attempt fails with probability fail (a 503: a
// backoff of full jitter, base loop.DefaultBackoffBase doubling to
// loop.DefaultBackoffCap) or reset (the first reset of a request is retried at
// once, as a stale kept-alive connection is; a later one backs off), and the
// run ends when the last request has its answer. Round trips and the limiter
// are free, so the floor is a lower bound on what any client keeping to the
// rule can reach; it is a seeded simulation of 501 runs, the same on every
// call.
func retryFloor(clean float64, n int, fail, reset float64) float64 {
	rng := rand.New(rand.NewPCG(6, 11))
	base, ceil := loop.DefaultBackoffBase.Seconds(), loop.DefaultBackoffCap.Seconds()
	ends := make([]float64, 501)
	for s := range ends {
		end := clean
		for i := range n {
			t := clean * float64(i) / float64(n)
			backoffs, immediate := 0, false
			for backoffs < loop.DefaultMaxAttempts-1 {
				u := rng.Float64()
				if u >= fail+reset {
					break
				}
				if u >= fail && !immediate {
					immediate = true
					continue
				}
				t += rng.Float64() * min(ceil, base*math.Exp2(float64(backoffs)))
				backoffs++
			}
			end = max(end, t)
		}
		ends[s] = end
	}
	slices.Sort(ends)
	return ends[len(ends)/2]
}
