package serve

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"

	"github.com/segloop/segloop/runstore"
)

// Why a run's context ends.
var (
	// errShutdown stops runs for a restart: what was not sent stays pending.
	errShutdown = errors.New("server shutting down")
	// errCancelled stops a run for good (POST /v1/runs/{id}/cancel).
	errCancelled = errors.New("run cancelled")
)

// manager starts, resumes, cancels and stops runs: at most maxRuns run at
// once, the others wait in creation order. Every run goroutine is its own
// and stop waits for them all.
type manager struct {
	x       *executor
	maxRuns int
	log     *slog.Logger

	mu       sync.Mutex
	queue    []runstore.Run
	running  map[string]context.CancelCauseFunc
	waiters  map[string]chan struct{} // closed when the run ends (or stops)
	stopping bool
	stopped  chan struct{} // closed by stop: runs pause, waiters give up
	wg       sync.WaitGroup
}

func newManager(x *executor, maxRuns int, log *slog.Logger) *manager {
	return &manager{
		x: x, maxRuns: maxRuns, log: log,
		running: map[string]context.CancelCauseFunc{},
		waiters: map[string]chan struct{}{},
		stopped: make(chan struct{}),
	}
}

// submit queues run to start as soon as a slot is free. During stop it does
// nothing: the run is durable and the next start resumes it.
func (m *manager) submit(run runstore.Run) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopping {
		return
	}
	m.queue = append(m.queue, run)
	m.startLocked()
}

func (m *manager) startLocked() {
	for len(m.running) < m.maxRuns && len(m.queue) > 0 {
		run := m.queue[0]
		m.queue = m.queue[1:]
		ctx, cancel := context.WithCancelCause(context.Background())
		m.running[run.ID] = cancel
		m.wg.Add(1)
		go m.run(ctx, run) // owned: stop waits on m.wg
	}
}

func (m *manager) run(ctx context.Context, run runstore.Run) {
	defer m.wg.Done()
	m.x.execute(ctx, run)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.running[run.ID](nil)
	delete(m.running, run.ID)
	m.wake(run.ID)
	m.startLocked()
}

// wake tells run id's waiters it ended; m.mu must be held.
func (m *manager) wake(id string) {
	if ch, ok := m.waiters[id]; ok {
		close(ch)
		delete(m.waiters, id)
	}
}

// ended returns a channel closed when run id ends, or nil when the manager
// does not have it (it has finished, or it was never submitted).
func (m *manager) ended(id string) <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, running := m.running[id]
	queued := slices.ContainsFunc(m.queue, func(r runstore.Run) bool { return r.ID == id })
	if !running && !queued {
		return nil
	}
	ch, ok := m.waiters[id]
	if !ok {
		ch = make(chan struct{})
		m.waiters[id] = ch
	}
	return ch
}

// cancel stops run id for good. A queued run is finished at once; a
// running one stops (its workers finish what is in flight) and cancel
// returns a channel closed when it has. ok is false when the manager does
// not have the run.
func (m *manager) cancel(ctx context.Context, id string) (ended <-chan struct{}, ok bool, err error) {
	m.mu.Lock()
	if i := slices.IndexFunc(m.queue, func(r runstore.Run) bool { return r.ID == id }); i >= 0 {
		m.queue = slices.Delete(m.queue, i, i+1)
		m.mu.Unlock()
		err := m.x.finish(ctx, id, runstore.Cancelled, errCancelled.Error(), "not sent: "+errCancelled.Error())
		m.mu.Lock()
		m.wake(id)
		m.mu.Unlock()
		done := make(chan struct{})
		close(done)
		return done, true, err
	}
	stop, running := m.running[id]
	if !running {
		m.mu.Unlock()
		return nil, false, nil
	}
	ch, have := m.waiters[id]
	if !have {
		ch = make(chan struct{})
		m.waiters[id] = ch
	}
	m.mu.Unlock()
	stop(errCancelled)
	return ch, true, nil
}

// stop pauses every run for a restart and waits for them: results of items
// finished are stored, items not sent stay pending. Queued runs stay queued
// in the store. Waiters are released through m.stopped.
func (m *manager) stop() {
	m.mu.Lock()
	if m.stopping {
		m.mu.Unlock()
		m.wg.Wait()
		return
	}
	m.stopping = true
	m.queue = nil
	close(m.stopped)
	for _, cancel := range m.running {
		cancel(errShutdown)
	}
	m.mu.Unlock()
	m.wg.Wait()
}
