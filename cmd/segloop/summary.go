package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/segloop/segloop"
)

// report is the end-of-run summary printed to stderr.
type report struct {
	segloop.Summary
	Elapsed  time.Duration
	Sandbox  *sandboxServer
	DryRun   bool
	Endpoint string
	LastLine int     // the last source line with a result
	Budget   *budget // the rate limiter; nil: none
	AtEnd    bool    // the input was read to its end

	// OutputFailed: the results could not be written, so the summary must not
	// claim every item has its result on disk.
	OutputFailed bool
}

// print writes the summary: a few human lines, or one JSON log record with
// --log-format json. err is what stopped the run, if anything.
func (r report) print(w io.Writer, log *slog.Logger, format string, err error) {
	perSec := 0.0
	if s := r.Elapsed.Seconds(); s > 0 {
		perSec = float64(r.OK+r.Failed+r.Invalid+r.Unchanged) / s
	}
	target := r.Endpoint
	switch {
	case r.DryRun:
		target = "dry run: nothing sent"
	case r.Sandbox != nil:
		target = "sandbox " + r.Sandbox.URL
	}
	if format == "json" {
		attrs := []any{
			"read", r.Read, "ok", r.OK, "invalid", r.Invalid, "failed", r.Failed, "skipped", r.Skipped, "unchanged", r.Unchanged,
			"elapsed", r.Elapsed.Round(time.Millisecond).String(), "itemsPerSec", round1(perSec),
			"requests", r.Requests, "throttled", r.Throttled, "retries", r.Retries, "splits", r.Splits,
			"paused", r.Paused.Round(time.Millisecond).String(), "target", target,
		}
		if r.Sandbox != nil {
			attrs = append(attrs, "sandbox", r.Sandbox.statsLine())
		}
		if kind, text := r.Budget.describe(); !r.DryRun {
			attrs = append(attrs, "budget", kind, "budgetDetail", text)
		}
		if err != nil {
			attrs = append(attrs, "error", err.Error(), "readToEnd", r.AtEnd)
			if !r.AtEnd {
				attrs = append(attrs, "notReadAfterLine", r.LastLine)
			}
			log.Error("import stopped", attrs...)
			return
		}
		log.Info("import finished", attrs...)
		return
	}
	var b strings.Builder
	if err != nil {
		fmt.Fprintf(&b, "segloop: import stopped: %v\n", err)
		results := "every item read has its result"
		if r.OutputFailed {
			results = "results after the write error are missing"
		}
		switch {
		case r.AtEnd:
			fmt.Fprintf(&b, "segloop: %s; the input was read to its end\n", results)
		case r.LastLine == 0:
			fmt.Fprintf(&b, "segloop: %s; no item was read (not processed)\n", results)
		default:
			fmt.Fprintf(&b, "segloop: %s; reading stopped after line %d: the rest of the input was not read (not processed)\n", results, r.LastLine)
		}
	}
	fmt.Fprintf(&b, "segloop: %d items in %s (%.1f items/s): %d ok, %d invalid, %d failed",
		r.Read, r.Elapsed.Round(time.Millisecond), perSec, r.OK, r.Invalid, r.Failed)
	if r.Skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped (done in an earlier run)", r.Skipped)
	}
	if r.Unchanged > 0 {
		fmt.Fprintf(&b, ", %d unchanged (Segment has them)", r.Unchanged)
	}
	if r.DryRun {
		fmt.Fprintf(&b, "\nsegloop: %s\n", target)
	} else {
		fmt.Fprintf(&b, "\nsegloop: %d requests, %d answered 429, %d retries, %d batch splits, paused %s by Retry-After; sent to %s\n",
			r.Requests, r.Throttled, r.Retries, r.Splits, r.Paused.Round(time.Millisecond), target)
	}
	if _, text := r.Budget.describe(); !r.DryRun {
		fmt.Fprintf(&b, "segloop: rate budget: %s\n", text)
	}
	if r.Sandbox != nil {
		fmt.Fprintf(&b, "segloop: sandbox saw %s\n", r.Sandbox.statsLine())
	}
	io.WriteString(w, b.String())
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
