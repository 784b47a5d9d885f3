package loop_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/segloop/segloop/loop"
)

// TestRunMostlySettled: when most items are settled (diff mode's unchanged
// ones), the settled are reported on their own and the items to send still
// fill whole batches: 10,000 items of which 1% to send make one request
// per BatchSize of those, not one per BatchSize items read.
func TestRunMostlySettled(t *testing.T) {
	const n, every, batch = 10_000, 100, 50
	settled := map[int64]loop.Status{}
	for i := range int64(n) {
		if i%every != 0 {
			settled[i] = loop.StatusUnchanged
		}
	}
	var sent atomic.Int64
	act := loop.ActionFunc[int](func(_ context.Context, b []loop.Item[int], _ int) (int, error) {
		sent.Add(int64(len(b)))
		return 200, nil
	})
	var c collector
	sum, err := loop.Run(context.Background(), &sliceSource{n: n, settled: settled}, act,
		loop.Options[int]{BatchSize: batch, Concurrency: 2, OnResult: c.add})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.byIndex(t, n) {
		if want := settled[r.Item.Index]; want != "" && r.Status != want || want == "" && r.Status != loop.StatusOK {
			t.Fatalf("item %d: %s", r.Item.Index, r.Status)
		}
	}
	if sum.Unchanged != n-n/every || sum.OK != n/every || sent.Load() != n/every {
		t.Fatalf("summary %+v, %d sent", sum, sent.Load())
	}
	// 100 items to send in batches of 50: 2 requests, a few more if the
	// linger cuts a batch short on a slow machine; never one per batch read.
	if sum.Requests > 10 {
		t.Fatalf("%d requests for %d items to send in batches of %d", sum.Requests, n/every, batch)
	}
}
