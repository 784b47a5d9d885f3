package segloop

import (
	"context"
	"sync/atomic"
)

// backlog counts the unchanged items handed to the loop and not reported
// yet; the reader waits for it to go down, the loop's collector counts it
// down.
type backlog struct {
	n     atomic.Int64
	limit atomic.Int64  // what the reader waits for n to reach; 0: not waiting
	room  chan struct{} // capacity 1: n came down to limit
}

func (b *backlog) add(n int) { b.n.Add(int64(n)) }

// done counts one item down, waking the reader when that brings the count
// to the limit it waits for.
func (b *backlog) done() {
	if n := b.n.Add(-1); n > 0 && n == b.limit.Load() {
		select {
		case b.room <- struct{}{}:
		default:
		}
	}
}

// wait returns once at most limit items are unreported, or with ctx's
// cause.
func (b *backlog) wait(ctx context.Context, limit int) error {
	if b.n.Load() <= int64(limit) {
		return nil
	}
	b.limit.Store(int64(limit))
	defer b.limit.Store(0)
	for b.n.Load() > int64(limit) {
		select {
		case <-b.room:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return nil
}
