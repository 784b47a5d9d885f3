package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/runstore"
	"github.com/segloop/segloop/source"
)

// storedItems is a source.Reader over the items of a run that have no
// result yet, as stored: what segloop.Run reads when a run starts or
// resumes. Records keep their stored index and line.
type storedItems struct {
	ctx context.Context
	p   *runstore.Pending
}

// Next returns the next pending item as a Record.
func (s *storedItems) Next() (source.Record, error) {
	it, err := s.p.Next(s.ctx)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			err = fmt.Errorf("reading the run's items: %w", err)
		}
		return source.Record{}, err
	}
	rec := source.Record{Index: it.Index, Line: it.Line, Raw: it.Data}
	if it.Error != "" {
		rec.Err = errors.New(it.Error)
		return rec, nil
	}
	dec := json.NewDecoder(bytes.NewReader(it.Data))
	dec.UseNumber()
	if err := dec.Decode(&rec.Fields); err != nil || rec.Fields == nil {
		if err == nil {
			err = errors.New("not a JSON object")
		}
		rec.Fields, rec.Err = nil, fmt.Errorf("line %d: %w", it.Line, err)
	}
	return rec, nil
}

// sinkFlushEvery bounds how long a result waits before it is stored, and
// sinkBatch how many are stored per transaction.
// sinkQueue how many results may wait while a batch is being stored (a few
// MiB of result lines): the run goes on meanwhile.
const (
	sinkFlushEvery = 100 * time.Millisecond
	sinkBatch      = 2048
	sinkQueue      = 8 * sinkBatch
)

// resultSink stores a run's results a batch per transaction from a
// goroutine of its own, so the run does not wait on each commit. A result
// not yet stored when the process dies is lost, and its item is sent again
// on resume under the same messageId. add is segloop.Run's OnResult; close
// stores what is left and returns the first storing error.
type resultSink struct {
	ch   chan runstore.Result
	done chan struct{}
	err  error // the first storing error; read after done
}

// startSink starts the sink of run id; fail is called once if storing
// fails (the run must stop: its results could not be kept).
func startSink(st *runstore.Store, id string, fail func(error)) *resultSink {
	s := &resultSink{ch: make(chan runstore.Result, sinkQueue), done: make(chan struct{})}
	go s.run(st, id, fail) // owned: close waits for it
	return s
}

func (s *resultSink) run(st *runstore.Store, id string, fail func(error)) {
	defer close(s.done)
	tick := time.NewTicker(sinkFlushEvery)
	defer tick.Stop()
	buf := make([]runstore.Result, 0, sinkBatch)
	flush := func() {
		if len(buf) == 0 || s.err != nil {
			buf = buf[:0]
			return
		}
		// Not the run's context: results of a cancelled run are kept too.
		if err := st.Record(context.Background(), id, buf); err != nil {
			s.err = err
			fail(err)
		}
		clear(buf)
		buf = buf[:0]
	}
	for {
		select {
		case r, ok := <-s.ch:
			if !ok {
				flush()
				return
			}
			buf = append(buf, r)
			if len(buf) == sinkBatch {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// add queues r for storing; it blocks while the sink is a full batch behind.
func (s *resultSink) add(r segloop.Result) {
	s.ch <- runstore.Result{Index: r.Index, Status: string(r.Status), Line: r.AppendJSON(nil)}
}

// close stores the queued results and stops the sink.
func (s *resultSink) close() error {
	close(s.ch)
	<-s.done
	return s.err
}

// interruptedResult reports whether r failed only because the run was
// stopped under it (not sent, or cut off in flight): such an item is not
// done, and a resumed run sends it.
func interruptedResult(r segloop.Result) bool {
	return r.Status == loop.StatusFailed && (errors.Is(r.Err, loop.ErrInterrupted) || errors.Is(r.Err, context.Canceled))
}
