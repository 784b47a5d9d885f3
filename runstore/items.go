package runstore

import (
	"context"
	"database/sql"
	"io"
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
	seq   int64
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
	if u.seq, err = s.insertRun(ctx, tx, u.id, receiving, New{}); err != nil {
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
	if err := u.s.insertItems(ctx, tx, u.seq, u.buf); err != nil {
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
	spec := n.Spec
	if spec == nil {
		spec = []byte("{}")
	}
	err := u.s.durable(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = $2, run_key = $3, destination = $4, spec = $5, retry_of = $6, items = $7, created_at = $8 WHERE id = $1`,
			u.id, Queued, n.RunKey, n.Destination, spec, n.RetryOf, u.items, millis(u.s.now())); err != nil {
			return err
		}
		return setSecret(ctx, tx, u.id, writeKey)
	})
	if err != nil {
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
func (s *Store) insertItems(ctx context.Context, tx *sql.Tx, run int64, items []Item) error {
	full := tx.StmtContext(ctx, s.insItems)
	args := make([]any, 0, 5*rowsPerInsert)
	for len(items) > 0 {
		n := min(len(items), rowsPerInsert)
		args = args[:0]
		for _, it := range items[:n] {
			args = append(args, run, it.Index, it.Line, it.Data, it.Error)
		}
		var err error
		if n == rowsPerInsert {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, insertItemsSQL(n), args...)
		}
		if err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

func insertItemsSQL(rows int) string {
	return valuesSQL(`INSERT INTO items (run, idx, line, data, error) VALUES `, 5, rows)
}

// valuesSQL returns head followed by rows tuples of cols placeholders. The
// generated multi-row statements use SQLite's anonymous "?" (a statement of
// hundreds of numbered parameters costs SQLite a name lookup per parameter,
// quadratic in their number); PostgreSQL's store would number them.
func valuesSQL(head string, cols, rows int) string {
	var b strings.Builder
	b.Grow(len(head) + rows*(2*cols+2))
	b.WriteString(head)
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
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
	seq   int64 // 0 until the first page is read
	after int64
	page  []Item // the current page
	pos   int    // next item of page
	done  bool   // the last page has been read
}

// Pending returns a cursor over run id's items that have no result.
func (s *Store) Pending(id string) *Pending { return &Pending{s: s, runID: id, after: -1} }

// Next returns the next item without a result, or io.EOF after the last.
func (p *Pending) Next(ctx context.Context) (Item, error) {
	for p.pos == len(p.page) { // a page may be all done: read on
		if p.done {
			return Item{}, io.EOF
		}
		if err := p.fill(ctx); err != nil {
			return Item{}, err
		}
	}
	it := p.page[p.pos]
	p.page[p.pos] = Item{} // the caller owns it now
	p.pos++
	return it, nil
}

func (p *Pending) fill(ctx context.Context) error {
	if p.seq == 0 {
		seq, err := p.s.seqOf(ctx, p.runID)
		if err != nil {
			return err
		}
		p.seq = seq
	}
	// One ordered page of items, then the results among them: a merge, not
	// a lookup of each item's result.
	rows, err := p.s.r.QueryContext(ctx, `SELECT idx, line, data, error FROM items
		WHERE run = $1 AND idx > $2 ORDER BY idx LIMIT $3`, p.seq, p.after, pendingPage)
	if err != nil {
		return err
	}
	p.page, p.pos = p.page[:0], 0
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.Index, &it.Line, &it.Data, &it.Error); err != nil {
			rows.Close()
			return err
		}
		p.page = append(p.page, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	read := len(p.page)
	if read > 0 {
		p.after = p.page[read-1].Index
		if err := p.dropDone(ctx); err != nil {
			return err
		}
	}
	if read < pendingPage {
		p.done = true
	}
	return nil
}

// dropDone removes from the page the items that have a result.
func (p *Pending) dropDone(ctx context.Context) error {
	rows, err := p.s.r.QueryContext(ctx, `SELECT idx FROM results WHERE run = $1 AND idx >= $2 AND idx <= $3 ORDER BY idx`,
		p.seq, p.page[0].Index, p.page[len(p.page)-1].Index)
	if err != nil {
		return err
	}
	defer rows.Close()
	keep := p.page[:0]
	i := 0
	for rows.Next() {
		var done int64
		if err := rows.Scan(&done); err != nil {
			return err
		}
		for ; i < len(p.page) && p.page[i].Index < done; i++ {
			keep = append(keep, p.page[i])
		}
		if i < len(p.page) && p.page[i].Index == done {
			i++
		}
	}
	keep = append(keep, p.page[i:]...)
	clear(p.page[len(keep):])
	p.page = keep
	return rows.Err()
}
