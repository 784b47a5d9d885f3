// Package runstore keeps the runs of segloop serve durable: each run's
// options, its items as received, every item's result line, its status and
// counts, and, while the run is unfinished, the write key it sends with.
//
// The default store is one SQLite file (modernc.org/sqlite, pure Go),
// created 0600 and locked for one process. The statements that read and
// write runs, items and results are plain SQL with $N placeholders, which
// PostgreSQL (pgx) accepts as they are: a PostgreSQL store differs only in
// its schema and in how it is opened.
//
// A run is a sequence of items indexed from 0; its results are keyed by
// (run, index), so an item has at most one result whatever retries, crashes
// and resumes happen: Record ignores a second result for an index.
//
//	st, err := runstore.Open(ctx, "segloop.db")
//	up, err := st.NewUpload(ctx, runstore.New{RunKey: key, Destination: dest, Spec: spec}, writeKey)
//	up.Add(runstore.Item{Index: 0, Line: 1, Data: []byte(`{"id":"u1"}`)})
//	run, err := up.Commit(ctx) // durable from here on
//	for it, err := range st.Pending(ctx, run.ID) { ... st.Record(ctx, run.ID, results) }
//	st.Finish(ctx, run.ID, runstore.Succeeded, "")
package runstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Status is a run's status, as the API shows it.
type Status string

// The statuses of a run. Queued and Running runs are unfinished: a restarted
// server resumes them.
const (
	Queued                Status = "queued"
	Running               Status = "running"
	Succeeded             Status = "succeeded"               // every item ok, skipped or unchanged
	CompletedWithFailures Status = "completed_with_failures" // some items invalid or failed
	Failed                Status = "failed"                  // aborted: a refused write key, an unreadable body
	Cancelled             Status = "cancelled"

	// receiving is a run whose body is still being stored; it is not shown,
	// and one left over by a crash is deleted by Open.
	receiving Status = "receiving"
)

// Finished reports whether s is a final status.
func (s Status) Finished() bool {
	return s == Succeeded || s == CompletedWithFailures || s == Failed || s == Cancelled
}

// Valid reports whether s is a status the API names.
func (s Status) Valid() bool { return s == Queued || s == Running || s.Finished() }

// ErrNotFound is returned for a run that does not exist.
var ErrNotFound = errors.New("run not found")

// Store is the durable record of runs. It is safe for concurrent use; every
// method that touches the database takes a context.
type Store struct {
	w    *sql.DB  // the one writer connection
	r    *sql.DB  // readers (WAL: they do not block the writer)
	lock *os.File // holds the flock for as long as the store is open
	now  func() time.Time

	// Full-size multi-row statements, prepared once.
	insItems, insResults *sql.Stmt

	ckpt     *sql.DB            // the checkpointer's connection
	stopCkpt context.CancelFunc // stops the checkpointer
	ckptDone chan struct{}      // closed when it has stopped
}

// checkpointEvery is how often the write-ahead log is copied back into the
// database, from a goroutine of the store's own: a checkpoint syncs the
// disk, and the writer's commits (results of a run under way) do not wait
// for it.
const checkpointEvery = time.Second

// Options tune Open. The zero value is the default.
type Options struct {
	// Now stamps runs; nil = time.Now.
	Now func() time.Time
	// Warn receives a warning about the file, such as permissions that let
	// other users read it; nil drops it.
	Warn func(msg string)
}

// Open opens the store in the SQLite file at path, creating it (0600) if it
// does not exist. It refuses a file that is not a segloop database
// (ErrNotStore: it is never written to) and one another process has open
// (ErrLocked). Open brings the schema up to date and deletes runs whose body
// was still being received when an earlier process stopped (they were never
// answered 202). The caller must Close the store.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	lock, created, wide, err := prepareFile(path)
	if err != nil {
		return nil, err
	}
	if wide != 0 && opts.Warn != nil {
		opts.Warn(fmt.Sprintf("database %s has mode %04o: others can read the runs and write keys in it; chmod 600 it", path, wide))
	}
	s := &Store{lock: lock, now: opts.Now}
	if s.now == nil {
		s.now = time.Now
	}
	fail := func(err error) (*Store, error) {
		s.Close()
		if created {
			os.Remove(path)
		}
		return nil, err
	}
	// Per-connection settings: every connection waits for a lock rather than
	// failing and overwrites deleted content (a finished run's write key).
	// Commits are synced to the write-ahead log's file at once (they survive
	// the process's crash) and to the disk at the commits behind a 202 (see
	// durable), whose sync covers every commit before it.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=secure_delete(ON)&_pragma=foreign_keys(ON)"
	if s.w, err = sql.Open("sqlite", dsn+"&_txlock=immediate&_pragma=wal_autocheckpoint(0)"); err != nil {
		return fail(err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetConnMaxIdleTime(0)
	if err := initFile(ctx, s.w); err != nil {
		return fail(fmt.Errorf("%s: %w", path, err))
	}
	if s.r, err = sql.Open("sqlite", dsn+"&_pragma=query_only(ON)"); err != nil {
		return fail(err)
	}
	s.r.SetMaxOpenConns(4)
	if _, err := s.w.ExecContext(ctx, `DELETE FROM runs WHERE status = $1`, receiving); err != nil {
		return fail(fmt.Errorf("%s: clearing unfinished uploads: %w", path, err))
	}
	if s.insItems, err = s.w.PrepareContext(ctx, insertItemsSQL(rowsPerInsert)); err != nil {
		return fail(err)
	}
	if s.insResults, err = s.w.PrepareContext(ctx, insertResultsSQL(rowsPerInsert)); err != nil {
		return fail(err)
	}
	if s.ckpt, err = sql.Open("sqlite", dsn); err != nil {
		return fail(err)
	}
	s.ckpt.SetMaxOpenConns(1)
	ckctx, stop := context.WithCancel(context.Background())
	s.stopCkpt, s.ckptDone = stop, make(chan struct{})
	go s.checkpoints(ckctx) // owned: Close stops it and waits
	return s, nil
}

// checkpoints copies the write-ahead log back into the database every
// checkpointEvery (PASSIVE: it never blocks the writer or the readers),
// until ctx ends.
func (s *Store) checkpoints(ctx context.Context) {
	defer close(s.ckptDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = s.ckpt.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`) // a busy or failed pass is retried at the next tick
		}
	}
}

// durable runs fn in a transaction whose commit is synced to the disk
// (synchronous=FULL), so the commits before it are too: what a 202 promises
// survives a power cut, not only a crash.
func (s *Store) durable(ctx context.Context, fn func(tx *sql.Tx) error) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = FULL`); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = NORMAL`)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// initFile stamps a new file as a segloop database before anything else
// (so a crash right after still leaves a file Open recognizes), turns on
// write-ahead logging and applies the schema's migrations.
func initFile(ctx context.Context, db *sql.DB) error {
	var id int64
	if err := db.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&id); err != nil {
		return err
	}
	if id == 0 {
		if _, err := db.ExecContext(ctx, fmt.Sprintf(`PRAGMA application_id = %d`, applicationID)); err != nil {
			return err
		}
	}
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("cannot use write-ahead logging (journal mode %q)", mode)
	}
	return migrate(ctx, db)
}

// Close closes the database, truncating its write-ahead log, and releases
// the lock.
func (s *Store) Close() error {
	var err error
	if s.stopCkpt != nil {
		s.stopCkpt()
		<-s.ckptDone
		s.ckpt.Close()
	}
	for _, st := range []*sql.Stmt{s.insItems, s.insResults} {
		if st != nil {
			st.Close()
		}
	}
	if s.r != nil {
		err = s.r.Close()
	}
	if s.w != nil {
		_, _ = s.w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		if cerr := s.w.Close(); err == nil {
			err = cerr
		}
	}
	if s.lock != nil {
		if cerr := s.lock.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Mode returns the permission bits of the database file, for checks.
func (s *Store) Mode() (fs.FileMode, error) {
	st, err := s.lock.Stat()
	if err != nil {
		return 0, err
	}
	return st.Mode().Perm(), nil
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
