package runstore

import (
	"context"
	"sync"
)

// chunk is a full chunk of an upload, to be written.
type chunk struct {
	ctx         context.Context // of the Add or Commit that filled it
	part, no    int
	first, last int64
	n           int
	blob        []byte // format 1 (the writer packs it)
}

// chunkWriter packs and writes an upload's chunks from a goroutine of its
// own, one at a time in the order handed over, while the upload goes on
// filling the next: at most one chunk waits while another is written, so
// the body's reader is held up only when storing falls behind. After the
// first failed write it writes nothing more; write and stop return that
// error.
type chunkWriter struct {
	s   *Store
	seq int64

	todo chan chunk    // capacity 1
	free chan []byte   // written chunks' buffers, for reuse
	done chan struct{} // closed when run returns

	mu      sync.Mutex
	err     error
	stopped bool
}

// startChunkWriter starts the writer of the chunks of run seq, an upload
// of parts parts: a buffer for each, and one for each chunk in hand, come
// back for reuse.
func startChunkWriter(s *Store, seq int64, parts int) *chunkWriter {
	w := &chunkWriter{s: s, seq: seq, todo: make(chan chunk, 1), free: make(chan []byte, parts+2), done: make(chan struct{})}
	go w.run() // owned: stop waits for it
	return w
}

// write hands c over; it blocks while another chunk waits. It returns the
// first error of an earlier write.
func (w *chunkWriter) write(c chunk) error {
	if err := w.failed(); err != nil {
		return err
	}
	w.todo <- c
	return nil
}

// buffer returns the buffer of a chunk already written, emptied, or nil.
func (w *chunkWriter) buffer() []byte {
	select {
	case b := <-w.free:
		return b[:0]
	default:
		return nil
	}
}

// stop waits for the chunks handed over to be written, ends the writer,
// and returns its first error. Calling it again returns the same.
func (w *chunkWriter) stop() error {
	w.mu.Lock()
	stopped := w.stopped
	w.stopped = true
	w.mu.Unlock()
	if !stopped {
		close(w.todo)
	}
	<-w.done
	return w.failed()
}

func (w *chunkWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *chunkWriter) run() {
	defer close(w.done)
	var packed []byte // a chunk's blob as stored (pack), memory reused
	for c := range w.todo {
		if w.failed() == nil {
			data := pack(packed, c.blob)
			if &data[0] != &c.blob[0] {
				packed = data // reused (the driver has copied it)
			}
			_, err := w.s.exec(c.ctx, w.s.w, `INSERT INTO chunks (run, part, no, first_idx, last_idx, items, data) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				w.seq, c.part, c.no, c.first, c.last, c.n, data)
			if err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
			} else {
				w.s.checkpointSoon()
			}
		}
		if cap(packed) > keepBuffer {
			packed = nil
		}
		if cap(c.blob) <= keepBuffer { // reused (the driver has copied it), unless large
			select {
			case w.free <- c.blob:
			default:
			}
		}
	}
}
