package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/ledger"
	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/runstore"
	"github.com/segloop/segloop/segment"
)

// prepared is what a slice of a run needs, from the run's stored options.
type prepared struct {
	dest            ratelimit.Destination
	client          *segment.Client
	mapping         *mapping.Mapping
	trigger         map[string]any
	batch, attempts int
	header          []string       // a CSV body's header
	ledger          segloop.Ledger // diff mode's; nil = off
}

// sliceLedger returns p's ledger for one slice: each commit is told to
// sink (which holds ok results until their commit), and a lookup or a
// commit that fails stops the slice (stop) with a *storeError, so that its
// items not yet sent, or not committed, stay pending and the part resumes
// later, as when the run store fails. nil when the run is not in diff mode.
func (p *prepared) sliceLedger(stop context.CancelCauseFunc, sink *chunkSink) segloop.Ledger {
	if p.ledger == nil {
		return nil
	}
	return stoppingLedger{p.ledger, stop, sink}
}

type stoppingLedger struct {
	l    segloop.Ledger
	stop context.CancelCauseFunc
	sink *chunkSink
}

func (s stoppingLedger) LookupStates(ctx context.Context, batch []ledger.Entry, states []ledger.State) error {
	err := s.l.LookupStates(ctx, batch, states)
	if err != nil && ctx.Err() == nil {
		s.stop(&storeError{err}) // the ledger's errors say what failed
	}
	return err
}

func (s stoppingLedger) Commit(ctx context.Context, batch []ledger.Entry) error {
	err := s.l.Commit(ctx, batch)
	if err != nil {
		s.stop(&storeError{err})
		return err
	}
	s.sink.committed(len(batch))
	return nil
}

// prepare reads run's options and finds its client. An error means the
// run cannot be worked at all (it is aborted), except a *storeError: the
// store did not answer, and the part is tried again later.
func (x *executor) prepare(ctx context.Context, run runstore.Run) (*prepared, error) {
	var sp spec
	if err := json.Unmarshal(run.Spec, &sp); err != nil {
		return nil, fmt.Errorf("reading the run's options: %w", err)
	}
	p := &prepared{batch: sp.Batch, attempts: sp.MaxAttempts, mapping: mapping.Default(), header: sp.Header}
	if p.batch == 0 {
		p.batch = x.cfg.Batch
	}
	if p.attempts == 0 {
		p.attempts = x.cfg.MaxAttempts
	}
	var err error
	if sp.Mapping != nil {
		if p.mapping, err = mapping.Parse(sp.Mapping); err != nil {
			return nil, fmt.Errorf("mapping: %w", err)
		}
	}
	if p.trigger, err = decodeTrigger(sp.Trigger); err != nil {
		return nil, fmt.Errorf("trigger: %w", err)
	}
	key := x.cfg.WriteKey
	if sp.OwnKey {
		k, ok, err := x.store.WriteKey(ctx, run.ID)
		if err != nil {
			return nil, &storeError{fmt.Errorf("reading the run's write key: %w", err)} // not the run's fault: later
		}
		if !ok {
			return nil, errors.New("the run's write key is no longer stored")
		}
		key = k
	}
	var id string
	p.dest, id = x.cfg.destination(key)
	if key == "" || id != run.Destination {
		return nil, errors.New("the server's write key or endpoint changed since the run was created; retry it with its write key in X-Segment-Write-Key")
	}
	if p.client, err = x.clientFor(id, key); err != nil {
		return nil, err
	}
	if sp.Diff {
		if p.ledger, err = x.ledgerFor(ctx, key); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// ledgerFor returns the diff ledger of write key key at the server's
// endpoint: the one segloop import --diff uses for them too
// (segloop.LedgerDestination). An error means the run cannot be worked,
// except a *storeError: the ledger cannot be reached now.
func (x *executor) ledgerFor(ctx context.Context, key string) (segloop.Ledger, error) {
	if x.cfg.Diff == nil {
		return nil, errors.New("the run asks for diff mode, and this server was started without --diff")
	}
	l, err := x.cfg.Diff.Ledger(ctx, segloop.LedgerDestination(x.cfg.destName(), key))
	switch {
	case err != nil && ledgerFatal(err):
		return nil, fmt.Errorf("diff ledger: %w", err)
	case err != nil:
		return nil, &storeError{fmt.Errorf("diff ledger: %w", err)}
	}
	return l, nil
}

// clientFor returns the cached client of destination id, which key opens.
func (x *executor) clientFor(id, key string) (*segment.Client, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if c, ok := x.clients[id]; ok {
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
	x.clients[id] = c
	return c, nil
}
