package segloop

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segloop/segloop/internal/arena"
	"github.com/segloop/segloop/ledger"
	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/segment"
)

// Diff mode (Config.Ledger): Run sends only the items whose event differs
// from what Segment last accepted for their user.
//
// Reading: a goroutine maps, encodes and hashes the items (ledger.Sum) ahead
// of the loop, up to diffWindow items; the loop's reader takes what has
// come (at most diffWindow items, waiting at most diffLinger for more once
// it has one) and looks them all up in one query. An item whose user the
// ledger holds with the item's Hash is settled unchanged, unless an earlier
// item of its user was sent (or skipped) in this run: the ledger's entry is
// then stale, so the item is sent too (see userSet).
//
// messageIds: an item without a mapped messageId gets
// segment.MessageID(k, index, user) with k = "diff/" + hex(its Hash) + "/" +
// hex(the ledger's Version for its user) + "/" + the run key. A retry or a
// resumed run of the same content, with nothing committed for the user in
// between, sends the same id (Segment drops the duplicate); a changed event
// never has the id of an earlier version, nor does content that comes back
// after another (A, B, A, B: the Version counts the user's commits). Unchanged items, and skipped
// ones, report no messageId: nothing is sent.
//
// Committing: each result with status ok is added to a batch that a
// goroutine commits (ledger.Commit) once it holds commitBatch entries
// (sparseCommitBatch when at most 1 result in sparseChanged since the last
// commit was ok), or a result comes commitEvery after the last commit, and
// at the end of the run,
// interrupted or not: an accepted item is recorded only after Segment
// accepted it, and an item that failed, or whose process died before its
// commit, stays changed for the next run. A commit that fails stops the run
// (its error is Run's). A dry run commits nothing.
//
// Memory: an unchanged item needs nothing but its result, but until the
// loop has reported it, it holds its place in a batch and its row's arena
// block. The loop reports them as fast as its one collector goroutine goes;
// on a loaded machine the reader outran it by some 13,000 items, and the
// loop kept the batches made for them for the rest of the run. So Next,
// before it decides the next window, waits while more than maxUnreported
// unchanged items handed to the loop, plus two batches' worth, have not
// been reported yet (see backlog). The two batches: the loop's feed holds
// up to a batch of items and its open batch up to a batch of settled ones
// less one, which it reports only once full or at the batch's linger; a
// smaller bound could wait on them, and for the linger.
const (
	diffWindow    = 512
	maxUnreported = 4 * diffWindow
	diffLinger    = 5 * time.Millisecond
	commitBatch   = 512
	// sparseCommitBatch: a commit of users far apart in the ledger (a few
	// changes among many unchanged users) dirties a page per user, and
	// SQLite's page caches (1 MiB per connection) then evict the pages the
	// lookups running meanwhile need: with 512 per commit, run 2 of bench
	// scenario 15 made 0.96-1.17 million reads of the file's pages (pread)
	// and took 4.8-6.1 CPU-s; with 128, 92,000-97,000 and 3.7-4.3 CPU-s.
	// Dense commits (a first run: every user sent, neighbours in the
	// ledger) keep 512: 128 cost them a tenth more CPU.
	sparseCommitBatch = 128
	commitEvery       = time.Second
	// commitTimeout bounds one commit, the last one included (which runs
	// after an interrupt, as the accepted items must be recorded).
	commitTimeout = 30 * time.Second
)

// LedgerDestination is the destination of a diff ledger for the events
// sent to endpoint with writeKey (ledger.Open's destination):
// ratelimit.NewDestination(endpoint, writeKey).ID(), the id the shared rate
// budget uses too. Every caller (the command, the service) derives it here,
// so that they share one ledger per destination.
func LedgerDestination(endpoint, writeKey string) string {
	return ratelimit.NewDestination(endpoint, writeKey).ID()
}

// ErrLedger marks the errors of a diff ledger during a run (a lookup or a
// commit that failed).
var ErrLedger = errors.New("diff ledger")

// placeholderMessageID stands in an event for the messageId diffItems
// derives: as long as one (the event's size is final), and left out by
// ledger.Sum.
var placeholderMessageID = segment.MessageIDPrefix + string(bytes.Repeat([]byte{'0'}, segment.MessageIDLen-len(segment.MessageIDPrefix)))

// messageIDAt is where the messageId starts in an event segment.Identify
// writes.
const messageIDAt = len(`{"type":"identify","messageId":"`)

// diffItems is the loop.Source of a diff run: the items of src, looked up in
// the ledger a window at a time. Next is called by the loop's one reader;
// stop must be called once the loop is done, and returns the items read
// from src that the loop never took.
type diffItems struct {
	src    *items
	ledger Ledger
	runKey string

	once   sync.Once
	wg     sync.WaitGroup
	cancel context.CancelFunc
	in     chan loop.Item[payload] // from read; closed when it ends
	// Set by read before it closes in: the error that ended reading, and
	// an item read but never handed on.
	readErr error
	held    *loop.Item[payload]

	window  []loop.Item[payload]
	next    int
	entries []ledger.Entry
	states  []ledger.State
	changed []changed // the window's items to be sent (decide's scratch)
	sent    userSet
	timer   *time.Timer
	backlog backlog // unchanged items handed out and not reported yet
	// unreported: Next waits while the backlog is above it.
	unreported int
	own        arena.Arena // the derived messageIds, and what keep copies
	key        []byte
}

// newDiffItems returns the diff source of src, for a loop that batches up
// to batch items.
func newDiffItems(src *items, l Ledger, runKey string, batch int) *diffItems {
	return &diffItems{src: src, ledger: l, runKey: runKey, in: make(chan loop.Item[payload], diffWindow),
		backlog: backlog{room: make(chan struct{}, 1)}, unreported: maxUnreported + 2*batch}
}

// Next returns the next item, deciding a window of them when none is left.
func (d *diffItems) Next(ctx context.Context) (loop.Item[payload], error) {
	d.once.Do(func() {
		rctx, cancel := context.WithCancel(ctx)
		d.cancel = cancel
		d.wg.Go(func() { d.read(rctx) })
	})
	if d.next == len(d.window) {
		if err := d.backlog.wait(ctx, d.unreported); err != nil {
			return loop.Item[payload]{}, err
		}
		if err := d.fill(ctx); err != nil {
			return loop.Item[payload]{}, err
		}
	}
	it := d.window[d.next]
	d.window[d.next] = loop.Item[payload]{}
	d.next++
	return it, nil
}

// read feeds d.in with the items of d.src until it ends or ctx does.
func (d *diffItems) read(ctx context.Context) {
	defer close(d.in)
	for {
		it, err := d.src.Next(ctx)
		if err != nil {
			d.readErr = err
			return
		}
		select {
		case d.in <- it:
		case <-ctx.Done():
			held := it // a copy: taking its address would move every item read to the heap
			d.held = &held
			return
		}
	}
}

// fill reads the next window and decides it. At the end of the items it
// returns the error that ended reading (io.EOF at the end of the source).
func (d *diffItems) fill(ctx context.Context) error {
	clear(d.window)
	d.window, d.next = d.window[:0], 0
	select {
	case it, ok := <-d.in:
		if !ok {
			return d.readErr
		}
		d.window = append(d.window, it)
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	if d.timer == nil {
		d.timer = time.NewTimer(diffLinger)
	} else {
		d.timer.Reset(diffLinger)
	}
	defer d.timer.Stop()
gather:
	for len(d.window) < diffWindow {
		select {
		case it, ok := <-d.in:
			if !ok {
				break gather // the next fill returns readErr
			}
			d.window = append(d.window, it)
		case <-d.timer.C:
			break gather
		case <-ctx.Done():
			break gather // the loop stops reading; stop reports what is left
		}
	}
	return d.decide(ctx)
}

// decide looks the window's items up in one query and settles the
// unchanged ones.
func (d *diffItems) decide(ctx context.Context) error {
	d.entries = d.entries[:0]
	for i := range d.window {
		if it := &d.window[i]; it.Err == nil && it.Settled == "" {
			d.entries = append(d.entries, ledger.Entry{User: it.Key, Hash: it.Value.hash})
		}
	}
	if cap(d.states) < len(d.entries) {
		d.states = make([]ledger.State, len(d.entries), diffWindow)
	}
	states := d.states[:len(d.entries)]
	if len(d.entries) > 0 {
		if err := d.ledger.LookupStates(ctx, d.entries, states); err != nil {
			d.next = 0 // the window is not handed out: stop reports it
			return fmt.Errorf("%w: lookup: %w", ErrLedger, err)
		}
	}
	clear(d.entries) // no references to the users beyond the call
	j, unchanged := 0, 0
	d.changed = d.changed[:0]
	for i := range d.window {
		it := &d.window[i]
		switch {
		case it.Err != nil:
			continue
		case it.Settled != "": // skipped: sent by an earlier part of this run
			if it.Key != "" {
				d.sent.add(it.Key)
			}
			continue
		}
		st := states[j]
		j++
		if st.Unchanged && !d.sent.has(it.Key) {
			it.Settled = loop.StatusUnchanged
			unchanged++
			// Nothing is sent, and nothing needs the event or the source
			// any more: dropping them lets the arena blocks go while the
			// results wait to be reported.
			it.Value.messageID, it.Value.event, it.Value.cells, it.Value.raw = "", nil, nil, nil
			continue
		}
		d.sent.add(it.Key)
		d.changed = append(d.changed, changed{i: int32(i), v: st.Version})
	}
	d.backlog.add(unchanged)
	// A few changed items among many unchanged ones would each keep alive
	// the arena blocks their event and cells were cut from, shared with the
	// unchanged items around them, for as long as they are batched and in
	// flight: with 1 item in 100 changed, a batch of 100 held some 10,000
	// items' worth of blocks. Such items move to blocks of their own.
	sparse := len(d.changed)*sparseChanged <= len(d.window)
	for _, c := range d.changed {
		it := &d.window[c.i]
		if sparse {
			d.keep(it)
		}
		if it.Value.derive {
			d.derive(it, c.v)
		}
	}
	return nil
}

// changed is an item of the window to be sent, and its user's Version.
type changed struct {
	i int32
	v ledger.Version
}

// sparseChanged: a window with at most 1 changed item in sparseChanged
// moves its changed items to diffItems' own blocks (see decide). In a
// denser window most of each block is in use anyway, and copying would
// only cost time.
const sparseChanged = 4

// keep copies what it refers to in the source's and the encoder's arena
// blocks (its event, user, and kept source) into d's own blocks.
func (d *diffItems) keep(it *loop.Item[payload]) {
	p := &it.Value
	if p.event != nil {
		d.own.Append(p.event)
		p.event = d.own.Bytes()
	}
	key := it.Key
	it.Key = d.text(key)
	if p.userID == key {
		p.userID = it.Key
	} else {
		p.userID = d.text(p.userID)
	}
	if p.raw != nil {
		d.own.Append(p.raw)
		p.raw = d.own.Bytes()
	}
	if p.cells != nil {
		cells := make([]string, len(p.cells))
		for i, c := range p.cells {
			cells[i] = d.text(c)
		}
		p.cells = cells
	}
}

// text returns a copy of s in d's own blocks.
func (d *diffItems) text(s string) string {
	d.own.AppendString(s)
	return d.own.Text()
}

// reported is called (by the loop's collector) for every result with
// status unchanged that the loop reports.
func (d *diffItems) reported() { d.backlog.done() }

// derive gives it its messageId: from the run key, its content and the
// ledger's version of its user (see the comment at the top).
func (d *diffItems) derive(it *loop.Item[payload], v ledger.Version) {
	k := append(d.key[:0], "diff/"...)
	k = hex.AppendEncode(k, it.Value.hash[:])
	k = append(k, '/')
	k = hex.AppendEncode(k, v[:])
	k = append(k, '/')
	k = append(k, d.runKey...)
	d.key = k
	var buf [segment.MessageIDLen]byte
	id := segment.AppendMessageID(buf[:0], string(k), it.Index, it.Key)
	d.own.Append(id)
	it.Value.messageID = d.own.Text()
	if ev := it.Value.event; len(ev) >= messageIDAt+len(id) && string(ev[messageIDAt:messageIDAt+len(id)]) == placeholderMessageID {
		copy(ev[messageIDAt:], id) // the event's own copy, written once here
	}
}

// stop ends reading and returns the items read from the source that the
// loop never took, in order. Call it once, after the loop has returned.
func (d *diffItems) stop() []loop.Item[payload] {
	d.once.Do(func() { close(d.in) }) // never started: nothing read
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	left := append([]loop.Item[payload](nil), d.window[d.next:]...)
	for it := range d.in {
		left = append(left, it)
	}
	if d.held != nil {
		left = append(left, *d.held)
	}
	return left
}

// committer records accepted items in the ledger, a batch at a time, from a
// goroutine of its own (see the comment at the top). add is called by one
// goroutine at a time; close must be called, once.
type committer struct {
	ledger Ledger
	ctx    context.Context // the run's, without its cancellation
	fail   func(error)     // stops the run
	buf    []ledger.Entry
	seen   int // results since the last commit
	last   time.Time
	todo   chan []ledger.Entry
	free   chan []ledger.Entry
	wg     sync.WaitGroup
	err    error // the first commit error; read after wg.Wait
}

func newCommitter(ctx context.Context, l Ledger, fail func(error)) *committer {
	c := &committer{
		ledger: l,
		ctx:    context.WithoutCancel(ctx),
		fail:   fail,
		buf:    make([]ledger.Entry, 0, commitBatch),
		last:   time.Now(),
		todo:   make(chan []ledger.Entry),
		free:   make(chan []ledger.Entry, 1),
	}
	c.free <- make([]ledger.Entry, 0, commitBatch)
	c.wg.Go(c.run)
	return c
}

// add records r's item once Segment accepted it.
func (c *committer) add(r loop.Result[payload]) {
	c.seen++
	if r.Status != loop.StatusOK {
		return
	}
	c.buf = append(c.buf, ledger.Entry{User: r.Item.Key, Hash: r.Item.Value.hash})
	if n := len(c.buf); n >= commitBatch || n >= sparseCommitBatch && n*sparseChanged <= c.seen || time.Since(c.last) >= commitEvery {
		c.flush()
	}
}

func (c *committer) flush() {
	if len(c.buf) == 0 {
		return
	}
	c.todo <- c.buf
	c.buf = <-c.free
	c.last, c.seen = time.Now(), 0
}

func (c *committer) run() {
	for b := range c.todo {
		if c.err == nil {
			ctx, cancel := context.WithTimeout(c.ctx, commitTimeout)
			if err := c.ledger.Commit(ctx, b); err != nil {
				c.err = fmt.Errorf("%w: commit: %w", ErrLedger, err)
				c.fail(c.err)
			}
			cancel()
		}
		clear(b)
		c.free <- b[:0]
	}
}

// close commits what is left and returns the first commit error.
func (c *committer) close() error {
	c.flush()
	close(c.todo)
	c.wg.Wait()
	return c.err
}
