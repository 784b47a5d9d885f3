package loop

import (
	"context"
	"sync"
	"sync/atomic"
)

// order keeps the items of each Item.Key in input order. At most one item of a key is
// out (in a batch being built, waiting to be sent, in flight, or parked for a retry);
// the items after it are held here, and the next one is released to the batcher only
// once the one out has its final result. Items of other keys are not held up.
//
// Held items (queued or released but not yet taken) number at most max: admit blocks at
// that bound, which pauses reading. Once the run stops (drain), every held item is
// released at once (nothing more is sent, so their order no longer matters; each still
// gets its result) and keys are no longer tracked.
//
// order is safe for concurrent use: the producer admits, workers release, the batcher
// takes.
type order[T any] struct {
	mu       sync.Mutex
	out      map[string]*queue[T] // keys with an item out -> the items held after it (nil: none)
	released []Item[T]            // items whose key's earlier item is final, for the batcher
	held     int                  // items queued or released, not yet taken
	max      int
	draining bool
	// waiting: admit waits for room, so no new item comes until some are taken. Written
	// under mu; read without it by stalled.
	waiting atomic.Bool
	spare   []*queue[T] // emptied queues, for reuse

	room  chan struct{} // capacity 1: held fell below max (one waiter: the producer)
	ready chan struct{} // capacity 1: released is not empty, or admit began to wait (one waiter: the batcher)
}

// queue is the FIFO of one key's held items.
type queue[T any] struct {
	items []Item[T]
	head  int
}

func newOrder[T any](max int) *order[T] {
	return &order[T]{
		out:   make(map[string]*queue[T]),
		max:   max,
		room:  make(chan struct{}, 1),
		ready: make(chan struct{}, 1),
	}
}

// admit reports whether it (which has a Key) may go to the batcher now; if not, it is
// held until release hands it on through take. admit blocks while max items are held
// and the item would be one more, until room is made or ctx ends (then the run is
// stopping: admit drains and lets it go).
func (o *order[T]) admit(ctx context.Context, it Item[T]) bool {
	o.mu.Lock()
	for {
		if o.draining {
			o.mu.Unlock()
			return true
		}
		q, busy := o.out[it.Key]
		if !busy {
			o.out[it.Key] = nil
			o.mu.Unlock()
			return true
		}
		if o.held < o.max {
			if q == nil {
				q = o.newQueue()
				o.out[it.Key] = q
			}
			q.items = append(q.items, it)
			o.held++
			o.mu.Unlock()
			return false
		}
		o.waiting.Store(true)
		o.mu.Unlock()
		signal(o.ready) // the batcher should not linger over a batch that nothing will fill
		select {
		case <-o.room:
		case <-ctx.Done():
			o.drain()
		}
		o.mu.Lock()
		o.waiting.Store(false)
	}
}

func (o *order[T]) newQueue() *queue[T] {
	if n := len(o.spare); n > 0 {
		q := o.spare[n-1]
		o.spare = o.spare[:n-1]
		return q
	}
	return &queue[T]{}
}

// release records that items (valid items that went out) have their final results: for
// each key, the next held item is released, or the key is free again. It never blocks.
func (o *order[T]) release(items []Item[T]) {
	var woke bool
	o.mu.Lock()
	if o.draining {
		o.mu.Unlock()
		return
	}
	for i := range items {
		key := items[i].Key
		if key == "" {
			continue
		}
		q, ok := o.out[key]
		switch {
		case !ok: // admitted while draining; cannot happen once draining, see above
		case q == nil:
			delete(o.out, key)
		case q.head == len(q.items):
			delete(o.out, key)
			clear(q.items)
			q.items, q.head = q.items[:0], 0
			o.spare = append(o.spare, q)
		default:
			o.released = append(o.released, q.items[q.head])
			q.items[q.head] = Item[T]{}
			q.head++
			woke = true
		}
	}
	o.mu.Unlock()
	if woke {
		signal(o.ready)
	}
}

// take appends the released items to buf, in the order they were released, and returns
// it, and whether admit is waiting for room (then no other item comes until these have
// gone out and finished: a batch should not linger for more). The items it returns are
// no longer held.
func (o *order[T]) take(buf []Item[T]) ([]Item[T], bool) {
	o.mu.Lock()
	waiting, n := o.waiting.Load(), len(o.released)
	made := o.held >= o.max && o.held-n < o.max
	buf = append(buf, o.released...)
	o.held -= n
	clear(o.released)
	o.released = o.released[:0]
	o.mu.Unlock()
	if made {
		signal(o.room)
	}
	return buf, waiting
}

// stalled reports whether admit is waiting for room: reading has paused, so nothing
// comes from the source until held items are taken.
func (o *order[T]) stalled() bool { return o.waiting.Load() }

// holding reports whether any item is still held (queued or released, not yet taken).
func (o *order[T]) holding() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.held > 0
}

// drain stops keeping order: every queued item is released and keys are forgotten. It
// is idempotent.
func (o *order[T]) drain() {
	o.mu.Lock()
	if o.draining {
		o.mu.Unlock()
		return
	}
	o.draining = true
	for _, q := range o.out {
		if q != nil {
			o.released = append(o.released, q.items[q.head:]...)
		}
	}
	clear(o.out)
	o.spare = nil
	o.mu.Unlock()
	signal(o.ready)
	signal(o.room)
}

// signal wakes the one waiter on c, a channel of capacity 1, without blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
