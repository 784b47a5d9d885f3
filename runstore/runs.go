package runstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"
)

// Run is a run's record.
type Run struct {
	ID          string
	Seq         int64 // creation order
	Status      Status
	CreatedAt   time.Time
	StartedAt   time.Time // zero until it first ran
	FinishedAt  time.Time // zero until it finished
	Error       string    // why a run failed or was cancelled
	RunKey      string    // seeds the items' messageIds
	Destination string    // which Segment (endpoint and write key, hashed) it sends to
	Spec        []byte    // the run's options, as the caller encoded them
	RetryOf     string    // the run whose failed items this one sends again
	Items       int64     // items stored
	Counts      Counts    // results stored, by status
	Parts       int       // parts its items are split into
	// StopStatus, when not "", is the status the run stops with once its
	// workers have seen it (Cancelled, or Failed for a fatal error), and
	// StopError why.
	StopStatus Status
	StopError  string
}

// Counts are a run's results by status.
type Counts struct {
	OK, Invalid, Failed, Skipped, Unchanged int64
}

// Done is the number of items with a result.
func (c Counts) Done() int64 { return c.OK + c.Invalid + c.Failed + c.Skipped + c.Unchanged }

// New describes a run being created.
type New struct {
	RunKey      string
	Destination string
	Spec        []byte
	RetryOf     string
}

const runColumns = `id, seq, status, created_at, started_at, finished_at, error, run_key, destination, spec, retry_of, items, ok, invalid, failed, skipped, unchanged, parts, stop_status, stop_error`

func scanRun(row interface{ Scan(...any) error }) (Run, error) {
	var r Run
	var created, started, finished int64
	err := row.Scan(&r.ID, &r.Seq, &r.Status, &created, &started, &finished, &r.Error, &r.RunKey, &r.Destination, &r.Spec, &r.RetryOf,
		&r.Items, &r.Counts.OK, &r.Counts.Invalid, &r.Counts.Failed, &r.Counts.Skipped, &r.Counts.Unchanged, &r.Parts, &r.StopStatus, &r.StopError)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, ErrNotFound
	}
	r.CreatedAt, r.StartedAt, r.FinishedAt = fromMillis(created), fromMillis(started), fromMillis(finished)
	return r, err
}

// newID returns a fresh run id: 20 hex digits.
func newID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// insertRun inserts a run row of parts parts in tx, and returns its seq.
func (s *Store) insertRun(ctx context.Context, tx *sql.Tx, id string, st Status, n New, parts int) (seq int64, err error) {
	spec := n.Spec
	if spec == nil {
		spec = []byte("{}")
	}
	err = tx.QueryRowContext(ctx, s.d.insertRun, id, st, millis(s.now()), n.RunKey, n.Destination, spec, n.RetryOf, parts).Scan(&seq)
	return seq, err
}

// seqOf returns the seq of run id (the key of its items and results).
func (s *Store) seqOf(ctx context.Context, id string) (int64, error) {
	var seq int64
	err := s.r.QueryRowContext(ctx, `SELECT seq FROM runs WHERE id = $1`, id).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	return seq, err
}

// setSecret stores the write key of an unfinished run; "" stores none (the
// run sends with the server's own key).
func setSecret(ctx context.Context, tx *sql.Tx, id, writeKey string) error {
	if writeKey == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO run_secrets (run_id, write_key) VALUES ($1, $2)`, id, writeKey)
	return err
}

// Get returns the run id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Run, error) {
	return scanRun(s.r.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = $1 AND status != $2`, id, receiving))
}

// List returns up to limit runs, newest first, with the given status (""
// for any) and created before the run with seq before (0 for no bound).
func (s *Store) List(ctx context.Context, status Status, before int64, limit int) ([]Run, error) {
	q := `SELECT ` + runColumns + ` FROM runs WHERE status != $1 AND ($2 = '' OR status = $2) AND ($3 = 0 OR seq < $3) ORDER BY seq DESC LIMIT $4`
	return s.runs(ctx, q, receiving, status, before, limit)
}

// Unfinished returns the queued and running runs, oldest first: what a
// restarted server resumes.
func (s *Store) Unfinished(ctx context.Context) ([]Run, error) {
	return s.runs(ctx, `SELECT `+runColumns+` FROM runs WHERE status IN ($1, $2) ORDER BY seq`, Queued, Running)
}

func (s *Store) runs(ctx context.Context, q string, args ...any) ([]Run, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// StatusCounts returns how many runs have each status.
func (s *Store) StatusCounts(ctx context.Context) (map[Status]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT status, COUNT(*) FROM runs WHERE status != $1 GROUP BY status`, receiving)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[Status]int64{}
	for rows.Next() {
		var st Status
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[st] = n
	}
	return out, rows.Err()
}

// WriteKey returns the write key stored with run id, and false when it has
// none (it sends with the server's key, or it has finished).
func (s *Store) WriteKey(ctx context.Context, id string) (string, bool, error) {
	var key string
	err := s.r.QueryRowContext(ctx, `SELECT write_key FROM run_secrets WHERE run_id = $1`, id).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return key, err == nil, err
}

// RequestStop asks the workers of unfinished run id to stop it with
// status st (Cancelled, or Failed) and message msg: each part's worker sees
// it within a lease renewal, gives its items without a result a failed
// result, and the last part's worker finishes the run with st. The first
// request wins; a run that has finished is left as it is (ErrFinished).
func (s *Store) RequestStop(ctx context.Context, id string, st Status, msg string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE runs SET stop_status = $2, stop_error = $3 WHERE id = $1 AND status IN ($4, $5) AND stop_status = ''`,
		id, st, msg, Queued, Running)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		run, err := s.Get(ctx, id)
		if err != nil {
			return err
		}
		if run.Status.Finished() {
			return ErrFinished
		}
	}
	return nil
}

// ErrFinished is returned when a run that has finished would change status.
var ErrFinished = errors.New("run already finished")

// Worker is what one replica did for a run: the chunks it stored results
// of, and how many results.
type Worker struct {
	Replica string
	Chunks  int64
	Results int64
}

// Workers returns, for run id, every replica that stored results of it,
// by name.
func (s *Store) Workers(ctx context.Context, id string) ([]Worker, error) {
	seq, err := s.seqOf(ctx, id)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT worker, COUNT(*), SUM(n) FROM
		(SELECT worker, part, chunk, SUM(n) AS n FROM results WHERE run = $1 GROUP BY worker, part, chunk) AS g
		GROUP BY worker ORDER BY worker`, seq)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Worker
	for rows.Next() {
		var w Worker
		if err := rows.Scan(&w.Replica, &w.Chunks, &w.Results); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}
