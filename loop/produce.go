package loop

import (
	"errors"
	"io"
	"time"
)

// produce reads the source and sends batches to the workers (invalid-only batches go
// straight to the collector), then closes e.work. It stops reading when runCtx ends, at
// io.EOF, or at the source's first other error (kept in e.readErr).
func (e *engine[T]) produce() {
	defer close(e.work)
	if e.opts.BatchSize == 1 {
		e.produceSingle()
		return
	}
	feed := make(chan Item[T], e.opts.BatchSize)
	done := make(chan struct{})
	go func() { // owned: produce waits for it below
		defer close(done)
		e.batch(feed)
	}()
	e.readAll(func(it Item[T]) { feed <- it })
	close(feed)
	<-done
}

// readAll calls emit for every item read until the source ends or the run stops.
func (e *engine[T]) readAll(emit func(Item[T])) {
	for e.runCtx.Err() == nil {
		it, err := e.src.Next(e.runCtx)
		if err != nil {
			if !errors.Is(err, io.EOF) && e.runCtx.Err() == nil {
				e.readErr = err
			}
			return
		}
		e.read++
		emit(it)
	}
}

// produceSingle is the producer for one item per request: no linger, no second
// goroutine.
func (e *engine[T]) produceSingle() {
	e.readAll(func(it Item[T]) {
		b := e.get()
		if it.Err != nil {
			b.bad = append(b.bad, invalid(it))
			e.results <- b
			return
		}
		b.items = append(b.items, it)
		e.work <- b
	})
}

// batch groups the items of feed into batches bounded by BatchSize items (valid and
// invalid alike), BatchBytes bytes and BatchLinger time since a batch's first item.
func (e *engine[T]) batch(feed <-chan Item[T]) {
	var (
		b     *batch[T]
		timer = time.NewTimer(time.Hour)
		tick  <-chan time.Time // nil while no batch is open
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
			e.work <- b
		}
		b, tick = nil, nil
		timer.Stop()
	}
	open := func() {
		b = e.get()
		timer.Reset(e.opts.BatchLinger)
		tick = timer.C
	}
	for {
		select {
		case it, ok := <-feed:
			if !ok {
				flush()
				return
			}
			if b == nil {
				open()
			}
			if it.Err != nil {
				b.bad = append(b.bad, invalid(it))
			} else {
				if e.opts.BatchBytes > 0 && len(b.items) > 0 && b.bytes+it.Size > e.opts.BatchBytes {
					flush()
					open()
				}
				b.items = append(b.items, it)
				b.bytes += it.Size
			}
			if len(b.items)+len(b.bad) >= e.opts.BatchSize {
				flush()
			}
		case <-tick:
			flush()
		}
	}
}

// invalid is the result of an item the source marked invalid.
func invalid[T any](it Item[T]) Result[T] {
	return Result[T]{Item: it, Status: StatusInvalid, Err: it.Err}
}
