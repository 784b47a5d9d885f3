package runstore

import (
	"context"
	"database/sql"
)

// Result is one item's result as stored: its status and its result line.
type Result struct {
	Index  int64
	Status string // ok, invalid, failed, skipped or unchanged
	Line   []byte // the result line, newline included
}

// Record stores results of run id and adds them to its counts, in one
// transaction. A result for an index that already has one is ignored (an
// item has exactly one final result) and not counted.
func (s *Store) Record(ctx context.Context, id string, results []Result) error {
	if len(results) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var c Counts
	args := make([]any, 0, 4*rowsPerInsert)
	for rest := results; len(rest) > 0; {
		n := min(len(rest), rowsPerInsert)
		args = args[:0]
		for _, r := range rest[:n] {
			args = append(args, id, r.Index, r.Status, r.Line)
		}
		q := valuesSQL(`INSERT INTO results (run_id, idx, status, line) VALUES `, 4, n) + ` ON CONFLICT DO NOTHING RETURNING status`
		if err := countInserted(ctx, tx, &c, q, args); err != nil {
			return err
		}
		rest = rest[n:]
	}
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET ok = ok + $2, invalid = invalid + $3, failed = failed + $4, skipped = skipped + $5, unchanged = unchanged + $6 WHERE id = $1`,
		id, c.OK, c.Invalid, c.Failed, c.Skipped, c.Unchanged); err != nil {
		return err
	}
	return tx.Commit()
}

func countInserted(ctx context.Context, tx *sql.Tx, c *Counts, q string, args []any) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		if err := rows.Scan(&st); err != nil {
			return err
		}
		switch st {
		case "ok":
			c.OK++
		case "invalid":
			c.Invalid++
		case "skipped":
			c.Skipped++
		case "unchanged":
			c.Unchanged++
		default:
			c.Failed++
		}
	}
	return rows.Err()
}

// resultsPage is how many result lines Results reads per query.
const resultsPage = 1024

// Results calls fn with the result lines of run id in index order, those
// with an index greater than after (-1 for all) and, when status is not "",
// that status. It reads a page at a time without holding a transaction
// between pages, so a long stream does not hold up writers; fn's line is
// valid only during the call. It stops at fn's first error and returns it.
func (s *Store) Results(ctx context.Context, id, status string, after int64, fn func(index int64, line []byte) error) error {
	for {
		n, last, err := s.resultsPage(ctx, id, status, after, fn)
		if err != nil || n < resultsPage {
			return err
		}
		after = last
	}
}

func (s *Store) resultsPage(ctx context.Context, id, status string, after int64, fn func(int64, []byte) error) (n int, last int64, err error) {
	rows, err := s.r.QueryContext(ctx, `SELECT idx, line FROM results WHERE run_id = $1 AND idx > $2 AND ($3 = '' OR status = $3) ORDER BY idx LIMIT $4`,
		id, after, status, resultsPage)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	var line []byte
	for rows.Next() {
		if err := rows.Scan(&last, &line); err != nil {
			return n, last, err
		}
		n++
		if err := fn(last, line); err != nil {
			return n, last, err
		}
	}
	return n, last, rows.Err()
}

// NewRetry creates, in one transaction, a queued run of the items of run
// from whose results have status failed, keeping their indexes and lines
// (with from's run key, the same messageIds). It returns the new run, or
// ErrNotFound.
func (s *Store) NewRetry(ctx context.Context, from string, n New, writeKey string) (Run, error) {
	if _, err := s.Get(ctx, from); err != nil {
		return Run{}, err
	}
	id := newID()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return Run{}, err
	}
	defer tx.Rollback()
	n.RetryOf = from
	if err := s.insertRun(ctx, tx, id, Queued, n); err != nil {
		return Run{}, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO items (run_id, idx, line, data, error)
		SELECT $1, i.idx, i.line, i.data, i.error FROM items i JOIN results r ON r.run_id = i.run_id AND r.idx = i.idx
		WHERE i.run_id = $2 AND r.status = 'failed' ORDER BY i.idx`, id, from)
	if err != nil {
		return Run{}, err
	}
	count, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET items = $2 WHERE id = $1`, id, count); err != nil {
		return Run{}, err
	}
	if err := setSecret(ctx, tx, id, writeKey); err != nil {
		return Run{}, err
	}
	if err := tx.Commit(); err != nil {
		return Run{}, err
	}
	return s.Get(ctx, id)
}
