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
	seq, err := s.seqOf(ctx, id)
	if err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var c Counts
	full := tx.StmtContext(ctx, s.insResults)
	args := make([]any, 0, 4*rowsPerInsert)
	for rest := results; len(rest) > 0; {
		n := min(len(rest), rowsPerInsert)
		args = args[:0]
		for _, r := range rest[:n] {
			args = append(args, seq, r.Index, r.Status, r.Line)
		}
		var rows *sql.Rows
		var err error
		if n == rowsPerInsert {
			rows, err = full.QueryContext(ctx, args...)
		} else {
			rows, err = tx.QueryContext(ctx, insertResultsSQL(n), args...)
		}
		if err != nil {
			return err
		}
		if err := countInserted(rows, &c); err != nil {
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

func insertResultsSQL(rows int) string {
	return valuesSQL(`INSERT INTO results (run, idx, status, line) VALUES `, 4, rows) + ` ON CONFLICT DO NOTHING RETURNING status`
}

// countInserted counts the statuses a RETURNING insert gives back (the rows
// it inserted) and closes rows.
func countInserted(rows *sql.Rows, c *Counts) error {
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
	seq, err := s.seqOf(ctx, id)
	if err != nil {
		return err
	}
	for {
		n, last, err := s.resultsPage(ctx, seq, status, after, fn)
		if err != nil || n < resultsPage {
			return err
		}
		after = last
	}
}

func (s *Store) resultsPage(ctx context.Context, seq int64, status string, after int64, fn func(int64, []byte) error) (n int, last int64, err error) {
	q := `SELECT idx, line FROM results WHERE run = $1 AND idx > $2 AND ($3 = '' OR status = $3) ORDER BY idx LIMIT $4`
	if status != "" && status != "ok" {
		// The same, through the index of the results that are not ok.
		q = `SELECT idx, line FROM results WHERE run = $1 AND idx > $2 AND status = $3 AND status != 'ok' ORDER BY idx LIMIT $4`
	}
	rows, err := s.r.QueryContext(ctx, q, seq, after, status, resultsPage)
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
	fromSeq, err := s.seqOf(ctx, from)
	if err != nil {
		return Run{}, err
	}
	id := newID()
	n.RetryOf = from
	err = s.durable(ctx, func(tx *sql.Tx) error {
		seq, err := s.insertRun(ctx, tx, id, Queued, n)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO items (run, idx, line, data, error)
			SELECT $1, i.idx, i.line, i.data, i.error FROM items i JOIN results r ON r.run = i.run AND r.idx = i.idx
			WHERE i.run = $2 AND r.status = 'failed' AND r.status != 'ok' ORDER BY i.idx`, seq, fromSeq)
		if err != nil {
			return err
		}
		count, _ := res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET items = $2 WHERE id = $1`, id, count); err != nil {
			return err
		}
		return setSecret(ctx, tx, id, writeKey)
	})
	if err != nil {
		return Run{}, err
	}
	return s.Get(ctx, id)
}
