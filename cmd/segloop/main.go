// Command segloop sends every item of a CSV, JSON or JSON Lines file (plain,
// gzip or zstd), of a Parquet file, or every row of a database query, to
// Segment's Identify call through a rate limiter and a pool of requests in flight sized
// to the round trip, retrying what can be retried, and writes one result line
// per item. It also runs as an HTTP service (serve) and runs a local
// Segment-compatible server (sandbox).
//
//	segloop import [flags] FILE|-|DATABASE-URL   send every item; results NDJSON to stdout (or --results)
//	segloop serve [flags]                         the Loop node as an HTTP service: API, page, metrics
//	segloop sandbox [flags]                       run the Segment-compatible test server locally
//	segloop version
//	segloop help [import|serve|sandbox]
//
// Exit codes: 0 every item ok (or skipped, or unchanged in diff mode); 1 some
// items invalid or failed; 2 usage or configuration error (nothing sent); 3 run
// aborted (bad write key, an endpoint refusing every request, unreadable input,
// failure threshold, unwritable results); 130 interrupted.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
)

// gcPercent is the garbage collector's target when $GOGC is unset. The live
// heap of a streaming import is a few MiB, so Go's default of 100 collects
// every few MiB allocated. Each unit of live heap costs 1 + gcPercent/100
// units of peak memory, each collection CPU time; measured on 200k and 1M
// rows against the sandbox (--rate 0), 150 costs no more CPU than 200 did
// and 2.5-5 MiB less peak RSS (29-31 MiB instead of 33-36), while 100 saves
// another 1.5 MiB for about a tenth more CPU.
//
// segloop sets no memory limit (debug.SetMemoryLimit) of its own; the
// runtime's $GOMEMLIMIT works as usual. Measured on diff mode's second run
// of 1M rows (bench scenario 15), whose live heap is 2-3 MB once unchanged
// items are bounded (see the root package's diff.go), so that the heap
// stays at the runtime's 4 MB floor: GOMEMLIMIT=16MiB or 24MiB moved peak
// RSS by 1-2 MiB (40.4-42.3 MiB against 41.9-42.8, 3 interleaved runs each,
// load 2-2.6) for as much CPU or a little more; and a limit that a run's
// live heap can reach (large batches of large events in flight) would make
// the collector run back to back.
const gcPercent = 150

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := interruptible(context.Background(), os.Stderr)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	code := exitCode(err)
	if err != nil && !errors.Is(err, errReported) {
		fmt.Fprintf(os.Stderr, "segloop: %v\n", err)
	}
	os.Exit(code)
}
