package loop

import (
	"time"
)

// job is one request in the making: the items b.items[lo:hi] and what their attempts so
// far left behind. Jobs travel by value between the dispatcher and the workers.
type job[T any] struct {
	b       *batch[T]
	lo, hi  int
	base    int       // requests that carried these items before (a bisected batch's halves inherit)
	tries   int       // calls of Do for this request
	counted int       // of which count against MaxAttempts
	hurried bool      // an Immediate retry was made: it does not count in the backoff schedule
	code    int       // the last failed attempt's status code
	err     error     // the last failed attempt's error
	wake    time.Time // a parked job is due then
	seq     uint64    // the dispatcher numbers the jobs it hands out
}

// outcome says what became of a job a worker was handed.
type outcome int

const (
	settled outcome = iota // its items have their results
	parked                 // it waits until job.wake, then goes again
	split                  // bisected into job and job2, both to go now
)

// event is a worker's report on one job it was handed: exactly one per job.
type event[T any] struct {
	kind      outcome
	job, job2 job[T]
	attempted bool          // Do was called: seq, rtt and wait are a sample
	seq       uint64        // the job's number
	rtt       time.Duration // how long Do took
	wait      time.Duration // how long the limiter made the attempt wait
	ok        bool          // the attempt succeeded
	refusal   error         // the attempt got a Systemic refusal: its error
}

// dispatcher is the dispatch goroutine's state: jobs ready to go, jobs parked until
// their wake time, and the bound on jobs in flight (fixed, or the adaptive controller's).
type dispatcher[T any] struct {
	urgent   fifo[job[T]] // retries that are due and bisected halves: they go first
	fresh    *batch[T]    // the next new batch (at most one is taken ahead)
	parked   jobHeap[T]
	inFlight int
	handed   uint64    // jobs handed out so far
	fixed    int       // the fixed concurrency; 0 = adaptive
	ctl      *gradient // nil when fixed
	refused  int       // Systemic refusals in a row
}

func newDispatcher[T any](o Options[T]) *dispatcher[T] {
	d := &dispatcher[T]{fixed: o.Concurrency}
	if d.fixed == 0 {
		d.ctl = newGradient(o.MaxConcurrency, rateOf(o.Limiter), time.Now())
	}
	return d
}

// limit is how many jobs may be in flight now: one at a time after a Systemic refusal,
// until a success.
func (d *dispatcher[T]) limit() int {
	switch {
	case d.refused > 0:
		return 1
	case d.ctl != nil:
		return d.ctl.limit()
	}
	return d.fixed
}

// next returns the job to hand out next, if any may go.
func (d *dispatcher[T]) next() (job[T], bool) {
	if d.inFlight >= d.limit() {
		return job[T]{}, false
	}
	j, ok := d.urgent.peek()
	if !ok && d.fresh != nil {
		j, ok = job[T]{b: d.fresh, hi: len(d.fresh.items)}, true
	}
	j.seq = d.handed
	return j, ok
}

// hand records that the job next returned went to a worker.
func (d *dispatcher[T]) hand() {
	d.inFlight++
	d.handed++
	if d.ctl != nil {
		d.ctl.flight(time.Now(), d.inFlight)
	}
	if _, ok := d.urgent.peek(); ok {
		d.urgent.pop()
		return
	}
	d.fresh = nil
}

// dispatch hands jobs to the workers, within the in-flight limit, until the batcher is
// done and every job has settled; then it closes e.work. Every job handed out comes back
// as one event. Parked jobs wait on one timer; when runCtx ends they all go at once (to
// fail unsent: no attempt starts once the run has stopped).
func (e *engine[T]) dispatch(d *dispatcher[T]) {
	defer close(e.work)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var (
		batches = e.batches
		stopped = e.runCtx.Done()
		armed   time.Time // when timer fires; zero: stopped
	)
	rearm := func() {
		w, ok := d.parked.earliest()
		switch {
		case !ok:
			timer.Stop()
			armed = time.Time{}
		case !w.Equal(armed):
			timer.Reset(time.Until(w))
			armed = w
		}
	}
	for batches != nil || d.inFlight > 0 || d.urgent.len() > 0 || d.fresh != nil || d.parked.len() > 0 {
		var (
			out  chan<- job[T]
			next job[T]
			ok   bool
		)
		if next, ok = d.next(); ok {
			out = e.work
			if d.inFlight >= e.started && e.started < len(e.workers) {
				e.spawn() // every worker is busy: one more takes the job
			}
		}
		// Nil channels are left out of the select: a channel in it costs a lock.
		in, stop, fire := batches, stopped, timer.C
		if d.fresh != nil {
			in = nil
		}
		if d.parked.len() == 0 {
			stop = nil // nothing to release early when the run stops
		}
		if armed.IsZero() {
			fire = nil
		}
		select {
		case out <- next:
			d.hand()
			e.peak = max(e.peak, d.inFlight)
		case b, ok := <-in:
			if !ok {
				batches = nil
				continue
			}
			b.fates = b.fates[:len(b.items)]
			b.pending.Store(1)
			d.fresh = b
		case ev := <-e.events:
			e.onEvent(d, ev)
			rearm()
		case <-fire:
			armed = time.Time{}
			now := time.Now()
			for {
				w, ok := d.parked.earliest()
				if !ok || w.After(now) {
					break
				}
				d.urgent.push(d.parked.pop())
			}
			rearm()
		case <-stop:
			stopped = nil
			for d.parked.len() > 0 {
				d.urgent.push(d.parked.pop())
			}
			rearm()
		}
	}
}

// onEvent takes in a worker's event: the sample for the adaptive limit, the count of
// Systemic refusals (aborting at MaxSystemic), and the job's next step.
func (e *engine[T]) onEvent(d *dispatcher[T], ev event[T]) {
	d.inFlight--
	if d.ctl != nil {
		now := time.Now()
		d.ctl.flight(now, d.inFlight)
		if ev.attempted {
			d.ctl.observe(now, ev.seq, d.handed, ev.rtt, ev.wait, ev.ok)
		}
	}
	switch {
	case ev.ok:
		d.refused = 0
	case ev.refusal != nil:
		d.refused++
		if d.refused >= MaxSystemic && e.runCtx.Err() == nil {
			e.abort(&AbortError{Err: &RefusedError{Refusals: d.refused, Err: ev.refusal}})
		}
	}
	switch ev.kind {
	case parked:
		if e.runCtx.Err() != nil || !ev.job.wake.After(time.Now()) {
			d.urgent.push(ev.job)
		} else {
			d.parked.push(ev.job)
		}
	case split:
		d.urgent.push(ev.job)
		d.urgent.push(ev.job2)
	}
}

// fifo is a queue that reuses its buffer.
type fifo[V any] struct {
	buf  []V
	head int
}

func (q *fifo[V]) len() int { return len(q.buf) - q.head }

func (q *fifo[V]) push(v V) {
	if q.head > 0 && q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	}
	q.buf = append(q.buf, v)
}

func (q *fifo[V]) peek() (V, bool) {
	if q.head == len(q.buf) {
		var zero V
		return zero, false
	}
	return q.buf[q.head], true
}

func (q *fifo[V]) pop() {
	var zero V
	q.buf[q.head] = zero
	q.head++
}

// jobHeap is a min-heap of parked jobs by wake time.
type jobHeap[T any] struct{ jobs []job[T] }

func (h *jobHeap[T]) len() int { return len(h.jobs) }

func (h *jobHeap[T]) earliest() (time.Time, bool) {
	if len(h.jobs) == 0 {
		return time.Time{}, false
	}
	return h.jobs[0].wake, true
}

func (h *jobHeap[T]) push(j job[T]) {
	h.jobs = append(h.jobs, j)
	for i := len(h.jobs) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.jobs[i].wake.Before(h.jobs[p].wake) {
			break
		}
		h.jobs[i], h.jobs[p] = h.jobs[p], h.jobs[i]
		i = p
	}
}

func (h *jobHeap[T]) pop() job[T] {
	j := h.jobs[0]
	n := len(h.jobs) - 1
	h.jobs[0] = h.jobs[n]
	h.jobs[n] = job[T]{}
	h.jobs = h.jobs[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && h.jobs[l].wake.Before(h.jobs[m].wake) {
			m = l
		}
		if r := l + 1; r < n && h.jobs[r].wake.Before(h.jobs[m].wake) {
			m = r
		}
		if m == i {
			break
		}
		h.jobs[i], h.jobs[m] = h.jobs[m], h.jobs[i]
		i = m
	}
	return j
}
