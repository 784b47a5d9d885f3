package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/runstore"
	"github.com/segloop/segloop/segment"
)

// outcome is what became of a part handed to executor.work, for the queue.
type outcome int

const (
	partDone  outcome = iota // done, or no longer this ref's: drop it
	partAgain                // unfinished: hand it out again at once
	partLater                // could not be worked now (held elsewhere, store unreachable): later
)

// Why a slice's context ends, besides the server's shutdown.
var (
	// errLost: the part's lease is no longer this worker's.
	errLost = errors.New("lease lost")
	// errSliceOver: the slice outlived its time and its drain.
	errSliceOver = errors.New("slice over")
	// errCancelled is a cancelled run's error (POST /v1/runs/{id}/cancel).
	errCancelled = errors.New("run cancelled")
)

// stopRequest is the cause of a slice stopped because its run is to stop.
type stopRequest struct {
	status runstore.Status
	msg    string
}

func (e *stopRequest) Error() string { return "run stopping: " + e.msg }

// storeError is the cause of a slice stopped, or a part not worked,
// because a store did not answer (the run store, or the run's diff
// ledger): the part's unfinished items stay pending, and it is worked
// again later.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// executor works parts of runs, one slice at a time per call of work: it
// claims the part's lease, sends its pending items through segloop.Run
// with the run's fair share of its destination's limiter, stores their
// results, and releases the part (or marks it done, finishing the run when
// it was the last). Both queues (in-process, River) call it.
type executor struct {
	store   *runstore.Store
	cfg     *Config
	shares  *shares
	metrics *metrics
	log     *slog.Logger
	hc      *http.Client
	ended   *notifier // told when this process finishes a run

	mu      sync.Mutex
	clients map[string]*segment.Client    // by destination ID
	running map[string]map[*slot]struct{} // slices under way, by run id
}

// slot is one slice under way, for a local stop.
type slot struct{ cancel context.CancelCauseFunc }

// work works part ref for one slice (Config.Timings.Slice of reading new
// items, then a drain), until ctx ends (the server's shutdown: the slice
// stops, its results stored, its unsent items left pending).
func (x *executor) work(ctx context.Context, ref runstore.PartRef) (outcome, error) {
	out, err := x.workOnce(ctx, ref)
	x.metrics.slices.WithLabelValues([...]string{partDone: "done", partAgain: "again", partLater: "later"}[out]).Inc()
	return out, err
}

func (x *executor) workOnce(ctx context.Context, ref runstore.PartRef) (outcome, error) {
	t := x.cfg.Timings
	lease, err := x.store.Claim(ctx, ref, x.cfg.Replica, t.Lease)
	switch {
	case errors.Is(err, runstore.ErrStale):
		return partDone, nil
	case errors.Is(err, runstore.ErrHeld):
		return partLater, nil
	case err != nil:
		return partLater, fmt.Errorf("claiming %v: %w", ref, err)
	}
	run := lease.Run
	bg := context.WithoutCancel(ctx)
	if run.Status.Finished() {
		return partDone, lease.Release(bg)
	}
	if run.StopStatus != "" {
		return x.stop(bg, lease, run.StopError)
	}
	p, err := x.prepare(ctx, run)
	var se *storeError
	if errors.As(err, &se) {
		lease.Release(bg)
		return partLater, err
	}
	if err != nil {
		if rerr := x.store.RequestStop(bg, run.ID, runstore.Failed, err.Error()); rerr != nil && !errors.Is(rerr, runstore.ErrFinished) {
			lease.Release(bg)
			return partLater, rerr
		}
		return x.stop(bg, lease, err.Error())
	}
	return x.slice(ctx, lease, p)
}

// slice sends the part's pending items for a slice of time.
func (x *executor) slice(ctx context.Context, lease *runstore.Lease, p *prepared) (outcome, error) {
	t := x.cfg.Timings
	run := lease.Run
	bg := context.WithoutCancel(ctx)
	log := x.log.With("run", run.ID, "part", lease.Ref().Part)
	share, release, err := x.shares.run(p.dest, run.ID)
	if err != nil {
		lease.Release(bg)
		return partLater, err
	}
	defer release()

	sliceCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	unregister := x.register(run.ID, cancel)
	defer unregister()
	renewed := make(chan struct{})
	go x.renew(sliceCtx, lease, cancel, renewed) // owned: waited for below
	hard := time.AfterFunc(t.Slice+t.Lease, func() { cancel(errSliceOver) })
	defer hard.Stop()

	sink := startSink(lease, p.ledger != nil, func(err error) { cancel(&storeError{fmt.Errorf("storing results: %w", err)}) })
	src := &partSource{ctx: sliceCtx, lease: lease, sink: sink, deadline: time.Now().Add(t.Slice), now: time.Now, next: lease.Next, header: p.header}
	log.Debug("slice started", "chunk", lease.Next, "chunks", lease.Chunks)
	_, runErr := segloop.Run(sliceCtx, segloop.Config{
		Source:       src,
		Mapping:      p.mapping,
		Trigger:      p.trigger,
		RunKey:       run.RunKey,
		Client:       countingSender{c: p.client, m: x.metrics},
		BatchSize:    p.batch,
		Concurrency:  x.cfg.Workers,
		MaxAttempts:  p.attempts,
		Limiter:      share,
		Ledger:       p.sliceLedger(cancel, sink),
		DrainTimeout: x.cfg.Timeout + time.Second,
		OnResult: func(r segloop.Result) {
			if interruptedResult(r) && context.Cause(sliceCtx) != nil {
				return // not done: a later slice sends it
			}
			x.metrics.items.WithLabelValues(string(r.Status)).Inc()
			sink.add(r)
		},
	})
	storeErr := sink.close()
	cause := context.Cause(sliceCtx)
	cancel(nil)
	<-renewed

	var se *storeError
	var sr *stopRequest
	switch {
	case errors.Is(storeErr, runstore.ErrLost) || errors.Is(cause, errLost):
		log.Warn("part taken over by another worker; this slice stopped")
		return partDone, nil
	case storeErr != nil || errors.As(cause, &se) || errors.As(runErr, &se):
		err := storeErr
		if err == nil {
			err = se
		}
		log.Error("slice stopped; the part resumes later", "err", err)
		lease.Release(bg)
		return partLater, err
	case errors.As(cause, &sr):
		return x.stop(bg, lease, sr.msg)
	case ctx.Err() != nil:
		log.Info("slice paused for shutdown")
		return partAgain, lease.Release(bg)
	case errors.Is(cause, errSliceOver):
		log.Warn("slice outlived its time and drain: its unsent items wait for the next one")
		return partAgain, lease.Release(bg)
	case runErr != nil:
		if err := x.store.RequestStop(bg, run.ID, runstore.Failed, runErr.Error()); err != nil && !errors.Is(err, runstore.ErrFinished) {
			lease.Release(bg)
			return partLater, err
		}
		x.stopLocal(run.ID, &stopRequest{runstore.Failed, runErr.Error()})
		return x.stop(bg, lease, runErr.Error())
	case src.ended && sink.allStored(lease.Chunks):
		return x.done(bg, lease, log)
	}
	return partAgain, lease.Release(bg)
}

// renew renews the lease every quarter of its time until ctx ends, and
// stops the slice when the lease is lost, cannot be renewed in time, or
// the run is to stop. It closes done when it returns.
func (x *executor) renew(ctx context.Context, lease *runstore.Lease, stop context.CancelCauseFunc, done chan<- struct{}) {
	defer close(done)
	ttl := x.cfg.Timings.Lease
	t := time.NewTicker(ttl / 4)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, msg, err := lease.Renew(ctx, ttl)
		switch {
		case errors.Is(err, runstore.ErrLost):
			stop(errLost)
			return
		case err != nil:
			if ctx.Err() == nil && time.Since(last) > ttl*3/4 {
				x.log.Warn("cannot renew a part's lease: stopping its slice before another worker takes it over", "part", lease.Ref().String(), "err", err)
				stop(errLost)
				return
			}
		case st != "":
			stop(&stopRequest{st, msg})
			return
		default:
			last = time.Now()
		}
	}
}

// stop gives every item of the part without a result a failed result
// saying it was not sent because of msg, and marks the part done.
func (x *executor) stop(ctx context.Context, lease *runstore.Lease, msg string) (outcome, error) {
	reason := errors.New("not sent: " + msg)
	for no := lease.Next; no < lease.Chunks; no++ {
		items, _, err := lease.Pending(ctx, no)
		if err != nil {
			lease.Release(ctx)
			return partLater, err
		}
		results := make([]runstore.Result, 0, len(items))
		for _, it := range items {
			r := segloop.Result{Index: it.Index, Line: it.Line, Status: loop.StatusFailed, Err: reason}
			results = append(results, runstore.Result{Index: it.Index, Status: string(r.Status), Line: r.AppendJSON(nil)})
		}
		if err := lease.Record(ctx, no, results); err != nil {
			if errors.Is(err, runstore.ErrLost) {
				return partDone, nil
			}
			lease.Release(ctx)
			return partLater, err
		}
		x.metrics.items.WithLabelValues(string(loop.StatusFailed)).Add(float64(len(results)))
	}
	return x.done(ctx, lease, x.log.With("run", lease.Run.ID, "part", lease.Ref().Part))
}

// done marks the part done; the last part's worker logs the run's end and
// tells the waiters.
func (x *executor) done(ctx context.Context, lease *runstore.Lease, log *slog.Logger) (outcome, error) {
	run, finished, err := lease.Done(ctx)
	switch {
	case errors.Is(err, runstore.ErrLost):
		return partDone, nil
	case err != nil:
		lease.Release(ctx)
		return partLater, err
	}
	if finished {
		c := run.Counts
		log.Info("run finished", "status", run.Status, "ok", c.OK, "unchanged", c.Unchanged, "invalid", c.Invalid, "failed", c.Failed, "error", run.Error)
		x.ended.notify()
	}
	return partDone, nil
}

// register records a slice of run id under way, for stopLocal.
func (x *executor) register(id string, cancel context.CancelCauseFunc) (unregister func()) {
	s := &slot{cancel: cancel}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.running[id] == nil {
		x.running[id] = map[*slot]struct{}{}
	}
	x.running[id][s] = struct{}{}
	return func() {
		x.mu.Lock()
		defer x.mu.Unlock()
		delete(x.running[id], s)
		if len(x.running[id]) == 0 {
			delete(x.running, id)
		}
	}
}

// stopLocal stops this process's slices of run id at once (other
// replicas' see the stop request at their next renewal).
func (x *executor) stopLocal(id string, cause error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for s := range x.running[id] {
		s.cancel(cause)
	}
}

// notifier tells waiters that something happened: wait returns a channel
// closed at the next notify.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func newNotifier() *notifier { return &notifier{ch: make(chan struct{})} }

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

func (n *notifier) notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	close(n.ch)
	n.ch = make(chan struct{})
}
