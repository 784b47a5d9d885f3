package loop

import (
	"errors"
	"io"
	"time"
)

// produce reads the source and feeds the batcher, then closes feed. It stops reading
// when runCtx ends, at io.EOF, or at the source's first other error (kept in e.readErr).
// An item whose key has an earlier item out is held by e.order instead (admit may block
// there, which pauses reading while MaxHeld items are held).
func (e *engine[T]) produce(feed chan<- Item[T]) {
	defer close(feed)
	for e.runCtx.Err() == nil {
		it, err := e.src.Next(e.runCtx)
		if err != nil {
			if !errors.Is(err, io.EOF) && e.runCtx.Err() == nil {
				e.readErr = err
			}
			return
		}
		e.read++
		if it.Err == nil && it.Settled == "" && it.Key != "" && !e.order.admit(e.runCtx, it) {
			continue // held: the batcher takes it once its key's earlier item is final
		}
		feed <- it
	}
}

// batch groups the items of feed, and the held items e.order releases, into batches
// bounded by BatchSize items to send (and as many settled ones, which are only
// reported), BatchBytes bytes and BatchLinger time since a batch's first item. Batches with items to send go to the
// dispatcher, the others straight to the collector; a batch does not linger when nothing
// can come to fill it (feed is closed, or reading waits for held items to go). It
// returns, after closing e.batches, once feed is closed and no item is held any more. When runCtx ends it
// drains e.order, so that held items come out (and fail unsent) instead of waiting.
func (e *engine[T]) batch(feed <-chan Item[T]) {
	defer close(e.batches)
	var (
		b        *batch[T]
		timer    = time.NewTimer(time.Hour)
		tick     <-chan time.Time // nil while no batch is open
		released []Item[T]
		stopped  = e.runCtx.Done()
	)
	timer.Stop()
	defer timer.Stop()
	flush := func() {
		if b == nil {
			return
		}
		if len(b.items) == 0 {
			e.results <- b
		} else {
			e.batches <- b
		}
		if tick != nil {
			timer.Stop()
		}
		b, tick = nil, nil
	}
	open := func() {
		b = e.get()
		if e.opts.BatchSize > 1 { // a batch of one is full at once: no linger
			timer.Reset(e.opts.BatchLinger)
			tick = timer.C
		}
	}
	add := func(it Item[T]) {
		if b == nil {
			open()
		}
		switch {
		case it.Err != nil || it.Settled != "":
			b.settled = append(b.settled, it)
		default:
			if e.opts.BatchBytes > 0 && len(b.items) > 0 && b.bytes+it.Size > e.opts.BatchBytes {
				flush()
				open()
			}
			b.items = append(b.items, it)
			b.bytes += it.Size
		}
		switch {
		case len(b.items) >= e.opts.BatchSize || len(b.settled) >= e.opts.BatchSize && len(b.items) == 0:
			flush()
		case len(b.settled) >= e.opts.BatchSize:
			// Report the settled items on their own and keep filling the
			// batch: when most items are settled (diff mode's unchanged
			// ones), flushing here would send batches of an item or two.
			s := e.get()
			s.settled, b.settled = b.settled, s.settled
			e.results <- s
		}
	}
	for feed != nil || e.order.holding() {
		select {
		case it, ok := <-feed:
			// Take what else is queued without a full select, which costs a lock per
			// channel; at most a batch's worth, so that releases and ticks are not
			// kept waiting.
			for n := 1; ok; n++ {
				add(it)
				more := false
				if n < e.opts.BatchSize {
					select {
					case it, ok = <-feed:
						more = true
					default:
					}
				}
				if !more {
					break
				}
			}
			switch {
			case !ok:
				feed = nil
				flush() // no more items to wait for: only released ones, which need no linger
			case len(feed) == 0 && e.order.stalled():
				// Reading waits for held items to go: nothing comes to fill the batch. (The
				// signal on order.ready may have been taken before these items came.)
				flush()
			}
		case <-e.order.ready:
			var waiting bool
			released, waiting = e.order.take(released[:0])
			for _, it := range released {
				add(it)
			}
			clear(released)
			if feed == nil || waiting {
				flush() // nothing else is coming to fill the batch
			}
		case <-tick:
			flush()
		case <-stopped:
			stopped = nil
			e.order.drain()
		}
	}
	flush()
}
