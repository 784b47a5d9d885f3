// Package checkpoint records, durably, which items of a run are finished, so
// that a run killed at any moment can resume without re-sending them, and
// with little re-sent: marks reach the disk at once, or in small groups a
// few milliseconds apart when they come fast.
//
// Items finish out of order (a worker pool), so the record is a set of
// finished item indexes, kept as sorted half-open ranges [lo, hi). Gaps are
// items still in flight when the record was written, or items that failed
// (failed items are not marked, so a resumed run retries them); the record
// therefore stays as small as the number of gaps, not the number of items.
//
// The file is an append-only journal (see format.go): a snapshot line with
// the whole state, then one line per group of marks, each line with its own
// checksum and fsynced before the next is written. A crash can only cut
// short the last line, which the next Open ignores; Open and Close compact
// the journal back to one snapshot, and so does the writer once the marks
// outgrow the snapshot. The file is written in place, never replaced:
// symlinks are written through, hard links stay one file, and the lock taken
// on it holds for every name. Format 1 files (one JSON document) are read and
// rewritten in format 2.
//
// Typical use:
//
//	cp, err := checkpoint.Open(path, fingerprint, checkpoint.Options{})
//	if err != nil { ... } // *MismatchError, *CorruptError, ErrLocked or I/O
//	defer cp.Close()
//	if cp.RunKey() == "" { err = cp.SetRunKey(newKey) } // durable before anything is sent
//	for each item: if cp.Done(i) { skip } else { send; on success: err = cp.Mark(i) }
package checkpoint

import (
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"sync"
	"time"
)

// DefaultInterval is the spacing of writes used when Options.Interval is zero.
const DefaultInterval = 10 * time.Millisecond

// none is the low of a File with no mark waiting to be written.
const none = math.MaxInt64

// Options tunes a File. The zero value is ready to use.
type Options struct {
	// Interval spaces the writes: waiting marks are written at once when
	// the last write is at least Interval old, else once it is. A mark
	// therefore stays in memory only for at most Interval (plus the time of
	// a write under way): sparse marks are each written at once, dense ones
	// in groups, at most one write (an fsync) per Interval. Zero means
	// DefaultInterval; negative is invalid.
	Interval time.Duration

	// Verify, when set, is called with the opened file's information once
	// the file is open, before it is locked, read or written;
	// an error from it is Open's error. A caller uses it to check that the
	// checkpoint is none of its other files (safefile.Set.Output).
	Verify func(fs.FileInfo) error

	fault        func(op string) error // tests: see journal.fault
	compactAfter int64                 // tests: see journal.compactAfter
}

// File is an open checkpoint: the set of finished item indexes of one run,
// its fingerprint and its run key, written to disk in the background.
//
// A File is safe for concurrent use. Open starts one goroutine that writes
// waiting marks; the caller must call Close, which stops it and compacts the
// file.
type File struct {
	path        string
	fingerprint string
	interval    time.Duration

	mu     sync.Mutex // guards the fields below
	set    rangeSet
	runKey string
	low    int64 // the lowest index marked since the last write took the marks; none if none
	dirty  bool  // marks are waiting for a write
	err    error // the last write's error; nil once a write succeeds
	closed bool

	wmu   sync.Mutex // serialises writes; guards the fields below
	j     journal
	spans []span // the spans a mark record is written from
	line  []byte // the record being encoded

	kick      chan struct{} // capacity 1: "marks are waiting", sent by the first waiting Mark
	stop      chan struct{} // closed by Close to stop the writer goroutine
	stopped   chan struct{} // closed when the writer goroutine has returned
	closeOnce sync.Once
	closeErr  error
}

// Open opens the checkpoint file at path for the run identified by
// fingerprint, or creates it (mode 0600) if there is none. The fingerprint
// is an opaque, non-empty string; the caller derives it from everything that
// decides which item has which index and what is sent for it (input
// identity, mapping).
//
// An existing file written for another fingerprint is refused with a
// *MismatchError (errors.Is(err, ErrMismatch)); a file that cannot be parsed
// or validated is refused with a *CorruptError (errors.Is(err, ErrCorrupt)),
// and a path that is not a regular file with ErrInvalid. None is modified. A
// checkpoint already open elsewhere, in this process or another, by this
// name or any other, is refused with ErrLocked (on systems with flock:
// Linux, the BSDs, macOS). Otherwise Open compacts the file before it
// returns (a format 1 file is rewritten in format 2), so a path that cannot
// be written fails here rather than mid-run.
func Open(path, fingerprint string, opts Options) (*File, error) {
	switch {
	case path == "":
		return nil, fmt.Errorf("%w: empty path", ErrInvalid)
	case fingerprint == "":
		return nil, fmt.Errorf("%w: empty fingerprint", ErrInvalid)
	case opts.Interval < 0:
		return nil, fmt.Errorf("%w: negative interval %v", ErrInvalid, opts.Interval)
	}
	f := &File{
		path:        path,
		fingerprint: fingerprint,
		interval:    opts.Interval,
		low:         none,
		kick:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
		stopped:     make(chan struct{}),
	}
	if f.interval == 0 {
		f.interval = DefaultInterval
	}
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint: %w", err)
	}
	f.j = journal{fh: fh, path: path, fault: opts.fault, minCompact: opts.compactAfter}
	if err := f.load(opts.Verify); err != nil {
		_ = fh.Close()
		return nil, err
	}
	go f.writer()
	return f, nil
}

// load locks and reads the open file, then compacts it.
func (f *File) load(verify func(fs.FileInfo) error) error {
	fh := f.j.fh
	st, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("open checkpoint: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: checkpoint %s is %w (%v)", ErrInvalid, f.path, errNotRegular, st.Mode().Type())
	}
	if verify != nil {
		if err := verify(st); err != nil {
			return err
		}
	}
	if err := lock(fh, f.path); err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return fmt.Errorf("read checkpoint %s: %w", f.path, err)
	}
	c, err := parseContent(f.path, data)
	if err != nil {
		return err
	}
	if c.state != nil {
		if c.state.Fingerprint != f.fingerprint {
			return &MismatchError{Path: f.path, Stored: c.state.Fingerprint, Want: f.fingerprint}
		}
		f.runKey = c.state.RunKey
		f.set = c.set
	}
	f.j.end = c.end
	// A torn last record (or a format 1 document's trailing space) is cut,
	// and a format 1 document without its newline gets one, so that the
	// snapshot below starts a line of its own.
	f.j.tail = c.end < int64(len(data))
	if c.end > 0 && data[c.end-1] != '\n' {
		if err := f.j.appendRecord([]byte("\n")); err != nil {
			return err
		}
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	return f.snapshot()
}

// Path returns the checkpoint file's path, as given to Open.
func (f *File) Path() string { return f.path }

// RunKey returns the stored run key, or "" for a checkpoint that has none
// yet (a new one).
func (f *File) RunKey() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runKey
}

// SetRunKey stores key (non-empty) in the checkpoint and writes it to disk
// before returning, so that no item can be sent under a key a resumed run
// would not know. Setting the key already stored is a no-op; replacing a
// different non-empty key is refused with a *RunKeyError
// (errors.Is(err, ErrRunKeyConflict)).
func (f *File) SetRunKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty run key", ErrInvalid)
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.mu.Lock()
	switch {
	case f.closed:
		f.mu.Unlock()
		return ErrClosed
	case f.runKey == key:
		f.mu.Unlock()
		return nil
	case f.runKey != "":
		stored := f.runKey
		f.mu.Unlock()
		return &RunKeyError{Path: f.path, Stored: stored, Want: key}
	}
	f.runKey = key
	f.mu.Unlock()
	return f.snapshot()
}

// Done reports whether index was marked finished, in an earlier run or this
// one. It is O(1) below the watermark and O(log gaps) above it.
func (f *File) Done(index int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.set.has(index)
}

// Mark records that index (0 <= index < math.MaxInt64) is finished. It does
// no I/O: the mark is written in the background, with the other waiting
// marks, within Interval at most (see Options.Interval), and by Flush and
// Close. Marking an index twice is harmless.
//
// Mark returns the error of the last write if it failed (the index is still
// recorded in memory, and the write is retried an Interval later): the
// record on disk is stale, and a caller that cannot tolerate re-sending
// should stop. After Close it returns ErrClosed. Nearly in-order marks cost
// O(1) and do not allocate.
func (f *File) Mark(index int64) error {
	if index < 0 || index == math.MaxInt64 {
		return fmt.Errorf("%w: index %d", ErrInvalid, index)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	if !f.set.add(index) {
		return f.err
	}
	f.low = min(f.low, index)
	if !f.dirty {
		f.dirty = true
		signal(f.kick)
	}
	return f.err
}

// signal sends on a channel of capacity 1 without waiting.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Count returns how many indexes are marked.
func (f *File) Count() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.set.n
}

// Watermark returns the first index that is not marked: every index below it
// is finished.
func (f *File) Watermark() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.set.watermark()
}

// Flush writes the waiting marks and fsyncs them now; it returns at once,
// with nil, when there are none. After Close it returns ErrClosed.
func (f *File) Flush() error {
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return f.flush()
}

// Close stops the background writer and compacts the file to one snapshot
// of the final state. Later calls (and concurrent ones, once the first
// finishes) return the first call's result. Marks after Close are refused
// with ErrClosed; Done, Count and RunKey keep answering from memory.
func (f *File) Close() error {
	f.closeOnce.Do(func() {
		f.mu.Lock()
		f.closed = true
		f.mu.Unlock()
		close(f.stop)
		<-f.stopped
		f.wmu.Lock()
		f.closeErr = f.snapshot()
		f.wmu.Unlock()
		if err := f.j.fh.Close(); f.closeErr == nil && err != nil {
			f.closeErr = fmt.Errorf("close checkpoint %s: %w", f.path, err)
		}
	})
	return f.closeErr
}

// writer is the background goroutine: when marks are waiting it writes them
// at once if the last write is at least Interval old, else once it is. It
// returns when Close closes stop.
func (f *File) writer() {
	defer close(f.stopped)
	t := time.NewTimer(f.interval)
	t.Stop()
	var last time.Time // when the last write ended
	for {
		select {
		case <-f.stop:
			return
		case <-f.kick:
		}
		if wait := f.interval - time.Since(last); wait > 0 {
			t.Reset(wait)
			select {
			case <-f.stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
		_ = f.flush() // the error is kept in f.err for Mark to report
		last = time.Now()
	}
}

// flush writes the marks made since the last write as one mark record: the
// finished ranges from the lowest of them up, taken from the set (so the
// record may repeat some older marks, which is harmless, and a worker pool's
// nearly in-order marks make a record of a few ranges). It writes a snapshot
// instead when the journal has outgrown its snapshot.
func (f *File) flush() error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.mu.Lock()
	if !f.dirty {
		f.mu.Unlock()
		return nil
	}
	if f.j.sinceSnap >= f.j.compactAfter() {
		f.mu.Unlock()
		return f.snapshot()
	}
	low := f.low
	f.spans = f.set.appendFrom(f.spans[:0], low)
	f.low, f.dirty = none, false
	f.mu.Unlock()
	if len(f.spans) == 0 {
		return nil // (after a failed snapshot of an empty set)
	}

	f.line = appendMarks(f.line[:0], f.spans)
	err := f.j.appendRecord(f.line)
	f.mu.Lock()
	f.err = err
	if err != nil { // the marks wait for the next write again
		f.low, f.dirty = min(f.low, low), true
		signal(f.kick)
	}
	f.mu.Unlock()
	return err
}

// snapshot writes the whole state as a snapshot record (see
// journal.writeSnapshot). The caller holds wmu.
func (f *File) snapshot() error {
	f.mu.Lock()
	f.line = appendSnapshot(f.line[:0], f.fingerprint, f.runKey, f.set.spans, time.Now())
	f.low, f.dirty = none, false
	f.mu.Unlock()
	err := f.j.writeSnapshot(f.line)
	f.mu.Lock()
	f.err = err
	if err != nil { // everything waits for the next write again: from index 0
		f.low, f.dirty = 0, true
		if !f.closed {
			signal(f.kick)
		}
	}
	f.mu.Unlock()
	if cap(f.line) > 1<<20 {
		f.line = nil // do not keep a huge snapshot's buffer
	}
	return err
}
