package runstore

import (
	"context"
	"database/sql"
	"io"
	"strconv"
	"strings"
)

// Item is one stored item of a run.
type Item struct {
	Index int64
	Line  int    // 1-based line of the body where it starts
	Data  []byte // the item as a JSON object; may be partial or nil when Error is set
	Error string // why the item could not be read; "" for a readable item
}

// uploadBatch is how many items an Upload writes per transaction, and
// rowsPerInsert how many rows go in one INSERT statement.
const (
	uploadBatch   = 2048
	rowsPerInsert = 128
)

// Upload stores the items of a run being received, a batch per
// transaction, so memory stays bounded whatever the body's size. The run is
// invisible until Commit; a crash before it leaves nothing behind (Open
// deletes unfinished uploads). An Upload is not safe for concurrent use.
type Upload struct {
	s     *Store
	id    string
	buf   []Item
	size  int // bytes of Data in buf
	items int64
}

// maxUploadBytes bounds the item bytes an Upload holds before writing them.
const maxUploadBytes = 8 << 20

// NewUpload starts a run whose items are about to be received.
func (s *Store) NewUpload(ctx context.Context) (*Upload, error) {
	u := &Upload{s: s, id: newID()}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if err := s.insertRun(ctx, tx, u.id, receiving, New{}); err != nil {
		return nil, err
	}
	return u, tx.Commit()
}

// ID is the id the run will have.
func (u *Upload) ID() string { return u.id }

// Add stores it (Index must increase from one call to the next). It may
// write the items added so far.
func (u *Upload) Add(ctx context.Context, it Item) error {
	u.buf = append(u.buf, it)
	u.size += len(it.Data)
	u.items++
	if len(u.buf) >= uploadBatch || u.size >= maxUploadBytes {
		return u.flush(ctx)
	}
	return nil
}

func (u *Upload) flush(ctx context.Context) error {
	if len(u.buf) == 0 {
		return nil
	}
	tx, err := u.s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := insertItems(ctx, tx, u.id, u.buf); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	clear(u.buf)
	u.buf, u.size = u.buf[:0], 0
	return nil
}

// Commit stores the rest of the items and makes the run queued, with n's
// options and writeKey ("" for none). The run is durable when Commit
// returns nil.
func (u *Upload) Commit(ctx context.Context, n New, writeKey string) (Run, error) {
	if err := u.flush(ctx); err != nil {
		return Run{}, err
	}
	tx, err := u.s.w.BeginTx(ctx, nil)
	if err != nil {
		return Run{}, err
	}
	defer tx.Rollback()
	spec := n.Spec
	if spec == nil {
		spec = []byte("{}")
	}
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = $2, run_key = $3, destination = $4, spec = $5, retry_of = $6, items = $7, created_at = $8 WHERE id = $1`,
		u.id, Queued, n.RunKey, n.Destination, spec, n.RetryOf, u.items, millis(u.s.now())); err != nil {
		return Run{}, err
	}
	if err := setSecret(ctx, tx, u.id, writeKey); err != nil {
		return Run{}, err
	}
	if err := tx.Commit(); err != nil {
		return Run{}, err
	}
	return u.s.Get(ctx, u.id)
}

// Abort deletes what the upload stored. It uses a context of its own: it
// runs when the request's has ended.
func (u *Upload) Abort() error {
	_, err := u.s.w.Exec(`DELETE FROM runs WHERE id = $1 AND status = $2`, u.id, receiving)
	return err
}

// insertItems writes items in INSERT statements of up to rowsPerInsert rows.
func insertItems(ctx context.Context, tx *sql.Tx, runID string, items []Item) error {
	var full *sql.Stmt
	args := make([]any, 0, 5*rowsPerInsert)
	for len(items) > 0 {
		n := min(len(items), rowsPerInsert)
		args = args[:0]
		for _, it := range items[:n] {
			args = append(args, runID, it.Index, it.Line, it.Data, it.Error)
		}
		var err error
		if n == rowsPerInsert {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, valuesSQL(`INSERT INTO items (run_id, idx, line, data, error) VALUES `, 5, n)); err != nil {
					return err
				}
				defer full.Close()
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, valuesSQL(`INSERT INTO items (run_id, idx, line, data, error) VALUES `, 5, n), args...)
		}
		if err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

// valuesSQL returns head followed by rows tuples of cols placeholders.
func valuesSQL(head string, cols, rows int) string {
	var b strings.Builder
	b.WriteString(head)
	p := 1
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(p))
			p++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// pendingPage is how many items a Pending cursor reads per query.
const pendingPage = 1024

// Pending is a cursor over the items of a run that have no result yet, in
// index order. It reads a page at a time and holds no transaction between
// pages, so results may be recorded while it is open. It is not safe for
// concurrent use.
type Pending struct {
	s     *Store
	runID string
	after int64
	page  []Item // the current page
	pos   int    // next item of page
	done  bool   // the last page has been read
}

// Pending returns a cursor over run id's items that have no result.
func (s *Store) Pending(id string) *Pending { return &Pending{s: s, runID: id, after: -1} }

// Next returns the next item without a result, or io.EOF after the last.
func (p *Pending) Next(ctx context.Context) (Item, error) {
	if p.pos == len(p.page) {
		if p.done {
			return Item{}, io.EOF
		}
		if err := p.fill(ctx); err != nil {
			return Item{}, err
		}
		if len(p.page) == 0 {
			return Item{}, io.EOF
		}
	}
	it := p.page[p.pos]
	p.page[p.pos] = Item{} // the caller owns it now
	p.pos++
	return it, nil
}

func (p *Pending) fill(ctx context.Context) error {
	rows, err := p.s.r.QueryContext(ctx, `SELECT i.idx, i.line, i.data, i.error FROM items i
		WHERE i.run_id = $1 AND i.idx > $2
		AND NOT EXISTS (SELECT 1 FROM results r WHERE r.run_id = i.run_id AND r.idx = i.idx)
		ORDER BY i.idx LIMIT $3`, p.runID, p.after, pendingPage)
	if err != nil {
		return err
	}
	defer rows.Close()
	p.page, p.pos = p.page[:0], 0
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.Index, &it.Line, &it.Data, &it.Error); err != nil {
			return err
		}
		p.page = append(p.page, it)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(p.page) < pendingPage {
		p.done = true
	}
	if len(p.page) > 0 {
		p.after = p.page[len(p.page)-1].Index
	}
	return nil
}
