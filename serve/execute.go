package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/runstore"
	"github.com/segloop/segloop/segment"
)

// executor runs one run at a time per call of execute: it reads the run's
// pending items from the store, sends them through segloop.Run with the
// destination's fair share of its limiter, and stores every result.
type executor struct {
	store   *runstore.Store
	cfg     *Config
	shares  *shares
	metrics *metrics
	log     *slog.Logger
	hc      *http.Client

	mu      sync.Mutex
	clients map[string]*segment.Client // by destination
}

// errStore is the cause of a run stopped because its results could not be
// stored: it stays unfinished, for the next start.
type storeError struct{ err error }

func (e *storeError) Error() string { return "storing results: " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// execute runs run until every item has a result, or ctx ends: with
// errShutdown the run stays unfinished (a restart resumes it), with
// errCancelled it finishes cancelled.
func (x *executor) execute(ctx context.Context, run runstore.Run) {
	log := x.log.With("run", run.ID)
	bg := context.WithoutCancel(ctx) // the store's work is not cut short by a cancel
	var sp spec
	if err := json.Unmarshal(run.Spec, &sp); err != nil {
		x.abort(run.ID, log, fmt.Errorf("reading the run's options: %w", err))
		return
	}
	client, err := x.client(bg, run, sp)
	if err != nil {
		x.abort(run.ID, log, err)
		return
	}
	m := mapping.Default()
	if sp.Mapping != nil {
		if m, err = mapping.Parse(sp.Mapping); err != nil {
			x.abort(run.ID, log, fmt.Errorf("mapping: %w", err))
			return
		}
	}
	trigger, err := decodeTrigger(sp.Trigger)
	if err != nil {
		x.abort(run.ID, log, fmt.Errorf("trigger: %w", err))
		return
	}
	if err := x.store.Start(bg, run.ID); err != nil {
		log.Error("cannot start run", "err", err)
		return
	}
	share := x.shares.get(run.Destination).q.Share()
	defer share.Close()

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sink := startSink(x.store, run.ID, func(err error) { cancel(&storeError{err}) })
	batch, attempts := sp.Batch, sp.MaxAttempts
	if batch == 0 {
		batch = x.cfg.Batch
	}
	if attempts == 0 {
		attempts = x.cfg.MaxAttempts
	}
	log.Info("run started", "items", run.Items, "done", run.Counts.Done())
	sum, runErr := segloop.Run(runCtx, segloop.Config{
		Source:       &storedItems{ctx: runCtx, p: x.store.Pending(run.ID)},
		Mapping:      m,
		Trigger:      trigger,
		RunKey:       run.RunKey,
		Client:       countingSender{c: client, m: x.metrics},
		BatchSize:    batch,
		Concurrency:  x.cfg.Workers,
		MaxAttempts:  attempts,
		Limiter:      share,
		DrainTimeout: x.cfg.Timeout + time.Second,
		OnResult: func(r segloop.Result) {
			if interruptedResult(r) && errors.Is(context.Cause(runCtx), errShutdown) {
				return // not done: the resumed run sends it
			}
			x.metrics.items.WithLabelValues(string(r.Status)).Inc()
			sink.add(r)
		},
	})
	storeErr := sink.close()
	cause := context.Cause(runCtx)
	var se *storeError
	switch {
	case storeErr != nil || errors.As(cause, &se):
		log.Error("run stopped: its results cannot be stored; it resumes at the next start", "err", storeErr)
	case errors.Is(cause, errShutdown):
		log.Info("run paused for shutdown; it resumes at the next start", "sent", sum.OK)
	case errors.Is(cause, errCancelled):
		x.finishLogged(run.ID, log, runstore.Cancelled, errCancelled.Error(), "not sent: "+errCancelled.Error())
	case runErr != nil:
		x.finishLogged(run.ID, log, runstore.Failed, runErr.Error(), "not sent: "+runErr.Error())
	default:
		x.finishLogged(run.ID, log, "", "", "not sent: no result")
	}
}

// abort finishes a run that cannot start as failed, every item failed.
func (x *executor) abort(id string, log *slog.Logger, err error) {
	x.finishLogged(id, log, runstore.Failed, err.Error(), "not sent: "+err.Error())
}

func (x *executor) finishLogged(id string, log *slog.Logger, st runstore.Status, msg, notSent string) {
	if err := x.finish(context.Background(), id, st, msg, notSent); err != nil {
		log.Error("cannot finish run", "err", err)
		return
	}
	if run, err := x.store.Get(context.Background(), id); err == nil {
		c := run.Counts
		log.Info("run finished", "status", run.Status, "ok", c.OK, "invalid", c.Invalid, "failed", c.Failed, "error", run.Error)
	}
}

// finish gives every item of run id still without a result a failed result
// saying notSent, then the run status st (when "", from its counts) and
// msg, and deletes its write key.
func (x *executor) finish(ctx context.Context, id string, st runstore.Status, msg, notSent string) error {
	run, err := x.store.Get(ctx, id)
	if err != nil {
		return err
	}
	if run.Counts.Done() < run.Items {
		if err := x.failPending(ctx, id, notSent); err != nil {
			return err
		}
	}
	if st == "" {
		run, err := x.store.Get(ctx, id)
		if err != nil {
			return err
		}
		st = runstore.Succeeded
		if run.Counts.Invalid+run.Counts.Failed > 0 {
			st = runstore.CompletedWithFailures
		}
	}
	return x.store.Finish(ctx, id, st, msg)
}

// failPending gives every item of run id without a result a failed result
// saying notSent.
func (x *executor) failPending(ctx context.Context, id, notSent string) error {
	p := x.store.Pending(id)
	var batch []runstore.Result
	reason := errors.New(notSent)
	for {
		it, err := p.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		r := segloop.Result{Index: it.Index, Line: it.Line, Status: loop.StatusFailed, Err: reason}
		batch = append(batch, runstore.Result{Index: it.Index, Status: string(r.Status), Line: r.AppendJSON(nil)})
		if len(batch) == sinkBatch {
			if err := x.store.Record(ctx, id, batch); err != nil {
				return err
			}
			x.metrics.items.WithLabelValues(string(loop.StatusFailed)).Add(float64(len(batch)))
			batch = batch[:0]
		}
	}
	if err := x.store.Record(ctx, id, batch); err != nil {
		return err
	}
	x.metrics.items.WithLabelValues(string(loop.StatusFailed)).Add(float64(len(batch)))
	return nil
}

// client returns the Segment client of run's destination: with the run's
// own write key (stored until it ends), or the server's. A run whose
// destination no longer matches (the server's key or endpoint changed since
// it was created) cannot resume.
func (x *executor) client(ctx context.Context, run runstore.Run, sp spec) (*segment.Client, error) {
	key := x.cfg.WriteKey
	if sp.OwnKey {
		k, ok, err := x.store.WriteKey(ctx, run.ID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errors.New("the run's write key is no longer stored")
		}
		key = k
	}
	if key == "" || Destination(x.cfg.destName(), key) != run.Destination {
		return nil, errors.New("the server's write key or endpoint changed since the run was created; retry it with its write key in X-Segment-Write-Key")
	}
	return x.clientFor(run.Destination, key)
}

// clientFor returns the cached client of destination dest, which key opens.
func (x *executor) clientFor(dest, key string) (*segment.Client, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if c, ok := x.clients[dest]; ok {
		return c, nil
	}
	c, err := segment.NewClient(segment.Config{
		WriteKey:   key,
		Endpoint:   x.cfg.Endpoint,
		HTTPClient: x.hc,
		Timeout:    x.cfg.Timeout,
		UserAgent:  x.cfg.UserAgent,
	})
	if err != nil {
		return nil, err
	}
	x.clients[dest] = c
	return c, nil
}
