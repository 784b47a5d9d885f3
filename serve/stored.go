package serve

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/runstore"
	"github.com/segloop/segloop/source"
)

// partSource is a source.Reader over the items of a part that have no
// result yet, chunk after chunk from the lease's first incomplete one: what
// segloop.Run reads in one slice of work. It stops early (io.EOF) once its
// deadline has passed, between two items, so the slice ends with what was
// read sent and stored. Records keep their stored index and line.
type partSource struct {
	ctx      context.Context
	lease    *runstore.Lease
	sink     *chunkSink
	deadline time.Time
	now      func() time.Time
	header   []string // a CSV body's header: items are stored as cells

	next  int             // the chunk to read next
	items []runstore.Item // the current chunk's pending items
	pos   int             // next of items
	ended bool            // every chunk has been read

	// A CSV body's chunk: a slab for its rows' cells, which alias the
	// rows' stored bytes (never written again, see Lease.Pending), so that
	// reading a row back costs no allocation or copy of its own. It lives
	// as long as any of the chunk's records.
	slab []string
}

// Next returns the next pending item as a Record.
func (s *partSource) Next() (source.Record, error) {
	if !s.deadline.IsZero() && s.now().After(s.deadline) {
		return source.Record{}, io.EOF
	}
	for s.pos == len(s.items) {
		if s.next >= s.lease.Chunks {
			s.ended = true
			return source.Record{}, io.EOF
		}
		items, _, err := s.lease.Pending(s.ctx, s.next)
		if err != nil {
			return source.Record{}, &storeError{fmt.Errorf("reading the run's items: %w", err)}
		}
		first := int64(-1)
		if len(items) > 0 {
			first = items[0].Index
		}
		s.sink.opened(s.next, len(items), first)
		s.items, s.pos = items, 0
		s.next++
		if s.header != nil {
			s.slab = make([]string, len(items)*len(s.header))
		}
	}
	it := s.items[s.pos]
	s.items[s.pos] = runstore.Item{}
	s.pos++
	if s.header != nil {
		return s.row(it), nil
	}
	return record(it), nil
}

// row decodes a stored CSV row, the current chunk's next: its cells
// under the part's header (every record of a part shares it, as a
// reader's rows share theirs).
func (s *partSource) row(it runstore.Item) source.Record {
	rec := source.Record{Index: it.Index, Line: it.Line, Raw: it.Data}
	if it.Error != "" {
		rec.Err = errors.New(it.Error)
		return rec
	}
	row := unsafe.String(unsafe.SliceData(it.Data), len(it.Data))
	cols := len(s.header)
	cells := s.slab[:0:cols]
	s.slab = s.slab[cols:]
	var err error
	if rec.Cells, err = rowCells(row, cells); err != nil {
		rec.Err = fmt.Errorf("line %d: %w", it.Line, err)
	}
	rec.Header, rec.Raw = s.header, nil
	return rec
}

// record decodes a stored item of a JSON object.
func record(it runstore.Item) source.Record {
	rec := source.Record{Index: it.Index, Line: it.Line, Raw: it.Data}
	if it.Error != "" {
		rec.Err = errors.New(it.Error)
		return rec
	}
	dec := json.NewDecoder(bytes.NewReader(it.Data))
	dec.UseNumber()
	var fields map[string]any // not &rec.Fields: rec would move to the heap
	if err := dec.Decode(&fields); err != nil || fields == nil {
		if err == nil {
			err = errors.New("not a JSON object")
		}
		rec.Err = fmt.Errorf("line %d: %w", it.Line, err)
		return rec
	}
	rec.Fields = fields
	return rec
}

// Sink tuning: a chunk's results are stored as a group once groupSize are
// waiting, or flushEvery after the first of them, so GET /results shows
// progress and a crash loses at most the results of work in flight.
const (
	groupSize  = 2048
	flushEvery = 250 * time.Millisecond
)

// chunkSink stores a slice's results, a group per chunk at a time, from a
// goroutine of its own, so the run does not wait on each commit. When every
// pending item of a chunk has its result stored, the lease advances past
// the chunks complete so far. add is segloop.Run's OnResult; close stores
// what is left and returns the first storing error.
//
// In diff mode (startSink's diff), an ok result is held until the ledger
// has committed its item (committed), so that an item whose ok result is
// stored is always in the ledger: after a crash, an item is either stored
// ok and committed, or without a result (sent again under its messageId, or
// found unchanged when its commit made it). segloop.Run commits one ledger
// entry per ok result, in the order of OnResult, so the count of entries
// committed tells which ok results are. close drops the ok results still
// held (their commit failed, or never ran): their items stay pending.
type chunkSink struct {
	lease *runstore.Lease
	fail  func(error) // called once if storing fails: the slice must stop
	diff  bool

	mu     sync.Mutex
	wake   chan struct{}           // capacity 1: results are waiting
	bufs   map[int]*runstore.Group // waiting results, by chunk
	queued int                     // results in bufs
	free   []*runstore.Group       // emptied groups, for reuse
	line   []byte                  // scratch of add
	left   map[int]int             // results still expected, by chunk opened
	starts []chunkStart            // the chunks opened, in order
	first  time.Time               // when the oldest waiting result arrived
	closed bool
	done   chan struct{}
	err    error
	// complete are the chunks opened whose results are all stored;
	// advanced is the lease's next chunk as last stored.
	complete map[int]bool
	advanced int
	full     chan struct{} // closed and remade when a flush frees room

	// Diff mode: ok results not yet committed, in order, their lines in
	// heldLines; oks counts the ok results added, commits the ledger
	// entries committed.
	held      []heldResult
	heldLines []byte
	oks       int64
	commits   int64
}

// heldResult is an ok result waiting for its ledger commit.
type heldResult struct {
	seq   int64 // its rank among the slice's ok results, from 1
	index int64
	start int // its line: heldLines[start:end]
	end   int
}

// maxGroupBytes bounds the room a group is given at once (see
// queueLocked): a group of long lines grows past it as they come.
const maxGroupBytes = 1 << 20

// maxWaiting bounds the results waiting to be stored (a few MiB of result
// lines): add blocks beyond it.
const maxWaiting = 8 * groupSize

func startSink(lease *runstore.Lease, diff bool, fail func(error)) *chunkSink {
	s := &chunkSink{
		lease: lease, fail: fail, diff: diff,
		wake: make(chan struct{}, 1), bufs: map[int]*runstore.Group{}, left: map[int]int{},
		done: make(chan struct{}), complete: map[int]bool{}, advanced: lease.Next,
		full: make(chan struct{}),
	}
	go s.run() // owned: close waits for it
	return s
}

// chunkStart is where a chunk's pending items start.
type chunkStart struct {
	no    int
	first int64
}

// opened tells the sink that chunk no has n items pending, the first at
// index first, about to be read: their results are expected. A part's
// chunks hold increasing, disjoint ranges of indexes.
func (s *chunkSink) opened(no, n int, first int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.left[no] = n
	if n == 0 {
		s.complete[no] = true
		s.signal()
		return
	}
	s.starts = append(s.starts, chunkStart{no, first})
}

// chunkOf returns the chunk of the item at index; s.mu must be held.
func (s *chunkSink) chunkOf(index int64) int {
	i, found := slices.BinarySearchFunc(s.starts, index, func(c chunkStart, idx int64) int { return cmp.Compare(c.first, idx) })
	if !found {
		i--
	}
	return s.starts[max(i, 0)].no
}

// add queues r's result for storing; it blocks while too many wait.
func (s *chunkSink) add(r segloop.Result) {
	s.mu.Lock()
	for s.waitingLocked() >= maxWaiting && s.err == nil {
		full := s.full
		s.mu.Unlock()
		<-full
		s.mu.Lock()
	}
	s.line = r.AppendJSON(s.line[:0])
	if s.diff && r.Status == loop.StatusOK {
		s.oks++
		if s.oks > s.commits {
			start := len(s.heldLines)
			s.heldLines = append(s.heldLines, s.line...)
			s.held = append(s.held, heldResult{seq: s.oks, index: r.Index, start: start, end: len(s.heldLines)})
			s.mu.Unlock()
			return
		}
	}
	s.queueLocked(r.Index, string(r.Status), s.line)
	s.mu.Unlock()
}

// queueLocked adds a result to its chunk's group; s.mu must be held.
func (s *chunkSink) queueLocked(index int64, status string, line []byte) {
	no := s.chunkOf(index)
	if len(s.bufs) == 0 || s.first.IsZero() {
		s.first = time.Now()
	}
	g := s.bufs[no]
	if g == nil {
		if n := len(s.free); n > 0 {
			g, s.free = s.free[n-1], s.free[:n-1]
		} else {
			g = groups.Get().(*runstore.Group)
		}
		// Room for a group of lines like this one, at once.
		g.Grow(min(groupSize*(len(line)+16), maxGroupBytes))
		s.bufs[no] = g
	}
	g.Add(index, status, line)
	s.queued++
	if g.Len() >= groupSize {
		s.signal()
	}
	if s.left[no]--; s.left[no] == 0 {
		s.signal()
	}
}

// committed tells the sink that the ledger committed n more entries: the
// ok results held for them go on to be stored.
func (s *chunkSink) committed(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commits += int64(n)
	k := 0
	for k < len(s.held) && s.held[k].seq <= s.commits {
		h := s.held[k]
		s.queueLocked(h.index, string(loop.StatusOK), s.heldLines[h.start:h.end])
		k++
	}
	if k == 0 {
		return
	}
	if k == len(s.held) {
		s.held, s.heldLines = s.held[:0], s.heldLines[:0]
		return
	}
	// Keep the rest at the start of the buffers.
	off := s.held[k].start
	s.heldLines = s.heldLines[:copy(s.heldLines, s.heldLines[off:])]
	s.held = s.held[:copy(s.held, s.held[k:])]
	for i := range s.held {
		s.held[i].start -= off
		s.held[i].end -= off
	}
}

// waitingLocked is how many results wait to be stored; s.mu must be held.
func (s *chunkSink) waitingLocked() int { return s.queued }

func (s *chunkSink) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *chunkSink) run() {
	defer close(s.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-s.wake:
		case <-t.C:
		}
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		s.flush(closed)
		if closed {
			return
		}
	}
}

// flush stores the groups due (all of them when all is set, or the sink
// has failed: then nothing is stored) and advances the lease.
func (s *chunkSink) flush(all bool) {
	s.mu.Lock()
	due := map[int]*runstore.Group{}
	old := !s.first.IsZero() && time.Since(s.first) >= flushEvery
	for no, g := range s.bufs {
		if all || old || g.Len() >= groupSize || s.left[no] == 0 {
			due[no] = g
			s.queued -= g.Len()
			delete(s.bufs, no)
		}
	}
	if len(s.bufs) == 0 {
		s.first = time.Time{}
	}
	failed := s.err != nil
	s.mu.Unlock()
	for no, g := range due {
		if failed {
			break
		}
		// Not the run's context: results of a stopped slice are kept too.
		if err := s.lease.RecordGroup(context.Background(), no, g); err != nil {
			s.setErr(err)
			failed = true
		}
	}
	s.mu.Lock()
	for _, g := range due {
		g.Reset()
		s.free = append(s.free, g)
	}
	close(s.full)
	s.full = make(chan struct{})
	for no, left := range s.left {
		if left == 0 && s.bufs[no] == nil {
			s.complete[no] = true
		}
	}
	next := s.advanced
	for s.complete[next] {
		next++
	}
	s.mu.Unlock()
	if next > s.advanced && !failed {
		if err := s.lease.Advance(context.Background(), next); err != nil {
			s.setErr(err)
			return
		}
		s.mu.Lock()
		s.advanced = next
		s.mu.Unlock()
	}
}

func (s *chunkSink) setErr(err error) {
	s.mu.Lock()
	first := s.err == nil
	if first {
		s.err = err
	}
	s.mu.Unlock()
	if first {
		s.fail(err)
	}
}

// close stores the queued results, stops the sink, and returns the first
// storing error.
func (s *chunkSink) close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.signal()
	<-s.done
	for _, g := range s.free { // every group: the last flush took them all
		groups.Put(g)
	}
	s.free = nil
	return s.err
}

// groups keeps emptied result groups, their memory grown to a group's
// size, from one slice's sink to the next.
var groups = sync.Pool{New: func() any { return new(runstore.Group) }}

// allStored reports whether every chunk of the part has all its results
// stored (the part is done).
func (s *chunkSink) allStored(chunks int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.advanced >= chunks
}

// interruptedResult reports whether r failed only because the slice was
// stopped under it (not sent, or cut off in flight): such an item is not
// done, and a later slice sends it.
func interruptedResult(r segloop.Result) bool {
	return r.Status == loop.StatusFailed && (errors.Is(r.Err, loop.ErrInterrupted) || errors.Is(r.Err, context.Canceled))
}
