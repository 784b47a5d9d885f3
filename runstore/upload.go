package runstore

import (
	"context"
	"database/sql"
	"fmt"
)

// Item is one stored item of a run.
type Item struct {
	Index int64
	Line  int // 1-based line of the body where it starts
	// Data is the item as the caller encoded it, opaque to the store: a JSON
	// object, or (segloop serve) a CSV row's cells under the run's header. It
	// may be partial or nil when Error is set.
	Data  []byte
	Error string // why the item could not be read; "" for a readable item
}

// Chunk bounds: a chunk is written once it holds DefaultChunkItems items
// (Options.ChunkItems) or maxChunkBytes bytes of them.
const (
	DefaultChunkItems = 4096
	maxChunkBytes     = 1 << 20
	// maxUploadBytes bounds the bytes an upload holds in all its parts'
	// chunks: past it, the largest is written.
	maxUploadBytes = 4 << 20
	// keepBuffer is the largest chunk buffer kept for reuse once written
	// (a chunk of DefaultChunkItems small rows fits).
	keepBuffer = 512 << 10
	// MaxParts bounds the parts of a run.
	MaxParts = 256
)

// Upload stores the items of a run being received, a chunk per part at a
// time, so memory stays bounded (parts × a chunk, and a chunk or two being
// written) whatever the body's size. A full chunk is packed and written by
// a goroutine of the upload's while the next items are added, so reading
// the body and storing it overlap; a write's error is returned by a later
// Add, or by Commit. The run is invisible until Commit; a crash before it
// leaves nothing behind (Open deletes unfinished uploads). The caller must
// Commit or Abort every upload. An Upload is not safe for concurrent use.
type Upload struct {
	s     *Store
	id    string
	seq   int64
	parts []partBuilder
	max   int // items per chunk
	items int64
	held  int // bytes in the parts' chunks not yet handed to the writer

	w *chunkWriter // started at the first chunk written
}

// partBuilder is the chunk being filled of one part.
type partBuilder struct {
	chunks      int
	buf         []byte // the chunk's blob so far
	n           int
	first, last int64
}

// NewUpload starts a run of parts parts (1 to MaxParts) whose items are
// about to be received.
func (s *Store) NewUpload(ctx context.Context, parts int) (*Upload, error) {
	if parts < 1 || parts > MaxParts {
		return nil, fmt.Errorf("runstore: %d parts: want 1 to %d", parts, MaxParts)
	}
	u := &Upload{s: s, id: newID(), parts: make([]partBuilder, parts), max: s.chunkItems}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		u.seq, err = s.insertRun(ctx, tx, u.id, receiving, New{}, parts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// ID is the id the run will have.
func (u *Upload) ID() string { return u.id }

// Parts is the number of parts of the run.
func (u *Upload) Parts() int { return len(u.parts) }

// Add stores it in part (0 to Parts()-1). Index must increase from one
// call to the next. It may write the part's chunk.
func (u *Upload) Add(ctx context.Context, part int, it Item) error {
	p := &u.parts[part]
	if p.n == 0 {
		p.buf = append(p.buf[:0], blobFormat)
		p.first = it.Index
	}
	before := len(p.buf)
	p.buf = appendItem(p.buf, it)
	u.held += len(p.buf) - before
	p.n++
	p.last = it.Index
	u.items++
	if p.n >= u.max || len(p.buf) >= maxChunkBytes {
		return u.flush(ctx, part)
	}
	if u.held >= maxUploadBytes {
		largest := 0
		for i := range u.parts {
			if len(u.parts[i].buf) > len(u.parts[largest].buf) {
				largest = i
			}
		}
		return u.flush(ctx, largest)
	}
	return nil
}

// flush hands part's chunk, if it has items, to the writer, and gives the
// part an empty buffer.
func (u *Upload) flush(ctx context.Context, part int) error {
	p := &u.parts[part]
	if p.n == 0 {
		return nil
	}
	if u.w == nil {
		u.w = startChunkWriter(u.s, u.seq, len(u.parts))
	}
	c := chunk{ctx: ctx, part: part, no: p.chunks, first: p.first, last: p.last, n: p.n, blob: p.buf}
	p.chunks++
	u.held -= len(p.buf)
	p.buf, p.n = u.w.buffer(), 0
	if p.buf == nil { // the part's next chunk is likely as large
		p.buf = make([]byte, 0, min(cap(c.blob), keepBuffer))
	}
	return u.w.write(c)
}

// Commit stores the rest of the items and makes the run queued (or, with
// no items, succeeded), with n's options and writeKey ("" for none). The
// run is durable when Commit returns nil.
func (u *Upload) Commit(ctx context.Context, n New, writeKey string) (Run, error) {
	for part := range u.parts {
		if err := u.flush(ctx, part); err != nil {
			u.stopWriter()
			return Run{}, err
		}
	}
	if err := u.stopWriter(); err != nil {
		return Run{}, err
	}
	spec := n.Spec
	if spec == nil {
		spec = []byte("{}")
	}
	err := u.s.durable(ctx, func(tx *sql.Tx) error {
		now := millis(u.s.now())
		status, finished := Queued, int64(0)
		if u.items == 0 {
			status, finished = Succeeded, now
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = $2, run_key = $3, destination = $4, spec = $5, retry_of = $6, items = $7, created_at = $8, finished_at = $9 WHERE id = $1`,
			u.id, status, n.RunKey, n.Destination, spec, n.RetryOf, u.items, now, finished); err != nil {
			return err
		}
		if err := u.s.insertParts(ctx, tx, u.seq, u.parts); err != nil {
			return err
		}
		if u.items == 0 {
			return nil
		}
		return setSecret(ctx, tx, u.id, writeKey)
	})
	if err != nil {
		return Run{}, err
	}
	return u.s.Get(ctx, u.id)
}

// insertParts inserts the parts rows of run seq: a part without chunks is
// done from the start.
func (s *Store) insertParts(ctx context.Context, tx *sql.Tx, seq int64, parts []partBuilder) error {
	for part, p := range parts {
		done := 0
		if p.chunks == 0 {
			done = 1
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO parts (run, part, chunks, done) VALUES ($1, $2, $3, $4)`, seq, part, p.chunks, done); err != nil {
			return err
		}
	}
	return nil
}

// Abort deletes what the upload stored. It uses a context of its own: it
// runs when the request's has ended.
func (u *Upload) Abort() error {
	u.stopWriter()
	_, err := u.s.w.Exec(`DELETE FROM runs WHERE id = $1 AND status = $2`, u.id, receiving)
	return err
}

// stopWriter waits for the chunks handed to the writer to be written, ends
// it, and returns its first error.
func (u *Upload) stopWriter() error {
	if u.w == nil {
		return nil
	}
	return u.w.stop()
}
