package serve

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/segloop/segloop/runstore"
)

// cancelRun is POST /v1/runs/{id}/cancel: it answers once the run has
// stopped, with the run. The run's workers, on any replica, stop within a
// lease renewal; its items without a result fail "not sent: run cancelled".
func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request) {
	run, e := s.run(r)
	if e != nil {
		writeError(w, e)
		return
	}
	err := s.store.RequestStop(r.Context(), run.ID, runstore.Cancelled, errCancelled.Error())
	if errors.Is(err, runstore.ErrFinished) {
		writeError(w, &apiError{Status: http.StatusConflict, Code: codeAlreadyFinished, Message: "run " + run.ID + " has already finished: " + string(run.Status)})
		return
	}
	if err != nil {
		writeError(w, internal(err))
		return
	}
	s.exec.stopLocal(run.ID, &stopRequest{runstore.Cancelled, errCancelled.Error()})
	s.stopIdle(r.Context(), run)
	if _, err := s.waitFinished(r.Context(), run.ID); err != nil || r.Context().Err() != nil {
		if err != nil {
			writeError(w, internal(err))
		}
		return
	}
	s.getRun(w, r)
}

// stopIdle stops at once the parts of run that no worker holds (queued
// behind other runs' parts): their items fail "not sent: run cancelled"
// now, not when a slot frees. Held parts stop at their worker's next
// renewal.
func (s *Server) stopIdle(ctx context.Context, run runstore.Run) {
	idle, err := s.store.IdleParts(ctx)
	if err != nil {
		s.log.Warn("cannot look for the run's idle parts", "run", run.ID, "err", err)
		return
	}
	for _, p := range idle {
		if p.Run != run.Seq {
			continue
		}
		if _, err := s.exec.work(ctx, p); err != nil {
			s.log.Warn("cannot stop a part of the run; its worker will", "run", run.ID, "part", p.Part, "err", err)
		}
	}
}

// waitFinished returns run id once it has finished, or as it is when ctx
// ends or the server shuts down. It polls the store (another replica may
// finish it) and wakes early when this process finishes a run.
func (s *Server) waitFinished(ctx context.Context, id string) (runstore.Run, error) {
	every := 20 * time.Millisecond
	for {
		ended := s.exec.ended.wait()
		run, err := s.store.Get(ctx, id)
		if err != nil || run.Status.Finished() {
			return run, err
		}
		t := time.NewTimer(every)
		select {
		case <-ended:
		case <-t.C:
		case <-ctx.Done():
		case <-s.stopped:
		}
		t.Stop()
		if ctx.Err() != nil {
			return run, nil
		}
		select {
		case <-s.stopped:
			return s.store.Get(context.WithoutCancel(ctx), id)
		default:
		}
		every = min(2*every, time.Second)
	}
}
