// Package checkpoint records, durably, which items of a run are finished, so
// that a run killed at any moment can resume without re-sending them.
//
// Items finish out of order (a worker pool), so the record is a set of
// finished item indexes, kept as sorted half-open ranges [lo, hi). Gaps are
// items still in flight when the record was written, or items that failed
// (failed items are not marked, so a resumed run retries them); the record
// therefore stays as small as the number of gaps, not the number of items.
//
// A File is written as one small JSON document:
//
//	{"version":1,"fingerprint":"...","runKey":"...","ranges":[[0,1200],[1203,1250]],"updated":"2026-01-02T15:04:05Z"}
//
// Every write goes to a scratch file in the same directory, is fsynced and
// renamed over the checkpoint, and the directory is fsynced, so the file on
// disk is always a complete earlier state, whatever kills the process.
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
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sync"
	"time"
)

// DefaultInterval is the flush interval used when Options.Interval is zero.
const DefaultInterval = time.Second

// Options tunes a File. The zero value is ready to use.
type Options struct {
	// Interval bounds how long a change from Mark stays in memory only: a
	// change is written about Interval after the first unwritten Mark (plus
	// the time of a write already under way), and writes happen at most once
	// per Interval. Zero means DefaultInterval; negative is invalid.
	Interval time.Duration
}

// File is an open checkpoint: the set of finished item indexes of one run,
// its fingerprint and its run key, written to disk in the background.
//
// A File is safe for concurrent use. Open starts one goroutine that writes
// pending changes; the caller must call Close, which stops it and writes the
// final state.
type File struct {
	path        string
	fingerprint string
	interval    time.Duration

	mu     sync.Mutex // guards the fields below
	set    rangeSet
	runKey string
	dirty  bool  // changes not yet handed to a write
	err    error // the last write's error; nil once a write succeeds
	closed bool

	lockFile *os.File // holds the lock while the File is open; nil where locks are unsupported

	flushMu sync.Mutex // serialises writes; held for a whole flush
	scratch [][2]int64 // snapshot buffer reused by flush; guarded by flushMu

	kick      chan struct{} // capacity 1: "something to write", sent by a clean-to-dirty Mark
	stop      chan struct{} // closed by Close to stop the writer goroutine
	stopped   chan struct{} // closed when the writer goroutine has returned
	closeOnce sync.Once
	closeErr  error
}

// Open opens the checkpoint file at path for the run identified by
// fingerprint, or creates it if there is none. The fingerprint is an opaque,
// non-empty string; the caller derives it from everything that decides which
// item has which index and what is sent for it (input identity, mapping).
//
// An existing file written for another fingerprint is refused with a
// *MismatchError (errors.Is(err, ErrMismatch)); a file that cannot be parsed
// or validated is refused with a *CorruptError (errors.Is(err, ErrCorrupt)).
// Neither is modified. A checkpoint already open elsewhere, in this process
// or another, is refused with ErrLocked (on systems with flock: Linux, the
// BSDs, macOS); the lock lives in path+".lock", which is left in place.
// Otherwise Open writes the checkpoint once before it
// returns, so a path that cannot be written fails here rather than mid-run.
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
		kick:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
		stopped:     make(chan struct{}),
	}
	if f.interval == 0 {
		f.interval = DefaultInterval
	}
	lf, err := lock(path)
	if err != nil {
		return nil, err
	}
	f.lockFile = lf
	if err := f.load(); err != nil {
		f.unlock()
		return nil, err
	}
	go f.writer()
	return f, nil
}

// load reads the existing checkpoint, if any, and writes it back once.
func (f *File) load() error {
	rec, err := readRecord(f.path)
	switch {
	case err == nil:
		if rec.Fingerprint != f.fingerprint {
			return &MismatchError{Path: f.path, Stored: rec.Fingerprint, Want: f.fingerprint}
		}
		f.runKey = rec.RunKey
		f.set.setPairs(rec.Ranges)
	case errors.Is(err, fs.ErrNotExist):
		// A new checkpoint: empty set, no run key.
	default:
		return err
	}
	f.dirty = true
	return f.flush()
}

// unlock releases the lock taken by Open.
func (f *File) unlock() {
	if f.lockFile != nil {
		_ = f.lockFile.Close()
		f.lockFile = nil
	}
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
	f.dirty = true
	f.mu.Unlock()
	return f.flush()
}

// Done reports whether index was marked finished, in an earlier run or this
// one. It is O(1) below the watermark and O(log gaps) above it.
func (f *File) Done(index int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.set.has(index)
}

// Mark records that index (0 <= index < math.MaxInt64) is finished. It does
// no I/O: the change is written in the background within about Interval,
// and by Flush and Close. Marking an index twice is harmless.
//
// Mark returns the error of the last write if it failed (the index is still
// recorded in memory, and the write is retried after Interval): the record on
// disk is stale, and a caller that cannot tolerate re-sending should stop.
// After Close it returns ErrClosed. Nearly in-order marks cost O(1) and do
// not allocate.
func (f *File) Mark(index int64) error {
	if index < 0 || index == math.MaxInt64 {
		return fmt.Errorf("%w: index %d", ErrInvalid, index)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	if f.set.add(index) && !f.dirty {
		f.dirty = true
		select {
		case f.kick <- struct{}{}:
		default:
		}
	}
	return f.err
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

// Flush writes pending changes and fsyncs them now; it returns at once, with
// nil, when there are none. After Close it returns ErrClosed.
func (f *File) Flush() error {
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return f.flush()
}

// Close stops the background writer and writes the final state. Later calls
// (and concurrent ones, once the first finishes) return the first call's
// result. Marks after Close are refused with ErrClosed; Done, Count and
// RunKey keep answering from memory.
func (f *File) Close() error {
	f.closeOnce.Do(func() {
		f.mu.Lock()
		f.closed = true
		f.mu.Unlock()
		close(f.stop)
		<-f.stopped
		f.closeErr = f.flush()
		f.unlock()
	})
	return f.closeErr
}

// writer is the background goroutine: after each kick it waits Interval,
// then writes. It returns when Close closes stop.
func (f *File) writer() {
	defer close(f.stopped)
	t := time.NewTimer(f.interval)
	t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-f.kick:
		}
		t.Reset(f.interval)
		select {
		case <-f.stop:
			t.Stop()
			return
		case <-t.C:
		}
		_ = f.flush() // the error is kept in f.err for Mark to report
	}
}

// flush writes a snapshot of the current state if there are unwritten
// changes. Writes are serialised and each snapshot is taken after the
// previous write finished, so the file only moves forward. A failed write
// leaves the state dirty and asks the writer to retry.
func (f *File) flush() error {
	f.flushMu.Lock()
	defer f.flushMu.Unlock()

	f.mu.Lock()
	if !f.dirty {
		f.mu.Unlock()
		return nil
	}
	f.scratch = f.set.appendPairs(f.scratch[:0])
	rec := record{
		Version:     version,
		Fingerprint: f.fingerprint,
		RunKey:      f.runKey,
		Ranges:      f.scratch,
		Updated:     time.Now().UTC().Format(time.RFC3339),
	}
	f.dirty = false
	f.mu.Unlock()

	data, err := rec.encode()
	if err == nil {
		err = writeAtomic(f.path, data)
	}

	f.mu.Lock()
	f.err = err
	if err != nil && !f.dirty {
		f.dirty = true
		select {
		case f.kick <- struct{}{}:
		default:
		}
	}
	f.mu.Unlock()
	return err
}
