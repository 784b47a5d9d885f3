package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// opening is the start of a limiter whose remote limit is unknown: the first request
// goes alone, and the others wait until the remote end has answered it (end), or until
// openingTimeout after it went. A process that starts while other processes sharing the
// remote end are inside a Retry-After window then sends one request into it, where a
// ceiling of 200/s and a round trip of 20 ms would have sent four.
//
// A nil *opening is open. An opening is safe for concurrent use.
type opening struct {
	done     chan struct{} // closed when the opening ends
	ended    atomic.Bool
	once     sync.Once
	deadline atomic.Int64 // unix nanoseconds the waiters go at the latest; 0: no request has gone
}

func newOpening() *opening { return &opening{done: make(chan struct{})} }

// wait returns at once for the first caller and once the opening has ended for the
// others; context.Cause(ctx) if ctx ends first.
func (o *opening) wait(ctx context.Context) error {
	if o == nil || o.ended.Load() {
		return nil
	}
	if o.deadline.CompareAndSwap(0, time.Now().Add(openingTimeout).UnixNano()) {
		return nil // the first request
	}
	t := time.NewTimer(time.Until(time.Unix(0, o.deadline.Load())))
	defer t.Stop()
	select {
	case <-o.done:
		return nil
	case <-t.C:
		o.end()
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// end ends the opening: every waiter goes on. Calls after the first do nothing; it never
// blocks.
func (o *opening) end() {
	if o == nil || o.ended.Load() {
		return
	}
	o.once.Do(func() {
		o.ended.Store(true)
		close(o.done)
	})
}
