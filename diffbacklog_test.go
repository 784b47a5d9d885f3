package segloop_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/ledger"
	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/source"
)

// TestDiffLargeBatchesDoNotWait: with batches of segment.MaxBatchEvents,
// a second run of unchanged users never waits for a batch's linger (the
// bound on unreported unchanged items leaves room for the loop's feed and
// open batch). In a synctest bubble time moves only when every goroutine
// waits, so a run that never waits on a timer takes no time at all.
func TestDiffLargeBatchesDoNotWait(t *testing.T) {
	const n = 12_000
	path := filepath.Join(t.TempDir(), "nightly.ledger")
	e := newDiffEnv(t, path)
	input := users(n, func(int) string { return "free" })
	if _, sum := e.run(t, input, segloop.Config{BatchSize: segment.MaxBatchEvents}); sum.OK != n {
		t.Fatalf("run 1: %+v", sum)
	}
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		l, err := ledger.Open(ctx, path, "test-destination")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		src, err := source.Open(strings.NewReader(input), source.NDJSON, source.Options{})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		sum, err := segloop.Run(ctx, segloop.Config{Source: src, Ledger: l, RunKey: "nightly", DryRun: true,
			BatchSize: segment.MaxBatchEvents, OnResult: func(segloop.Result) {}})
		if err != nil || sum.Unchanged != n {
			t.Fatalf("run 2: %v, %+v; want %d unchanged", err, sum, n)
		}
		if waited := time.Since(start); waited >= 100*time.Millisecond {
			t.Fatalf("run 2 waited %v of the bubble's clock: it stalled on a batch's linger", waited)
		}
	})
}
