package runstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// checkpointEvery is how often the write-ahead log is copied back into the
// database, from a goroutine of the store's own: a checkpoint syncs the
// disk, and the writer's commits (results of a run under way) do not wait
// for it.
const checkpointEvery = time.Second

var sqliteDialect = dialect{
	insertRun: `INSERT INTO runs (id, seq, status, created_at, run_key, destination, spec, retry_of, parts)
		VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM runs), $2, $3, $4, $5, $6, $7, $8) RETURNING seq`,
}

// OpenFile opens the store in the SQLite file at path, creating it (0600)
// if it does not exist. It refuses a file that is not a segloop database
// (ErrNotStore: it is never written to) and one another process has open
// (ErrLocked). It brings the schema up to date, deletes runs whose body was
// still being received when an earlier process stopped (they were never
// answered 202), and releases every part an earlier process held: holding
// the file's lock, this process is the only one working its runs.
func OpenFile(ctx context.Context, path string, opts Options) (*Store, error) {
	lock, created, wide, err := prepareFile(path)
	if err != nil {
		return nil, err
	}
	if wide != 0 && opts.Warn != nil {
		opts.Warn(fmt.Sprintf("database %s has mode %04o: others can read the runs and write keys in it; chmod 600 it", path, wide))
	}
	s := &Store{d: sqliteDialect, now: opts.Now, display: path, chunkItems: opts.chunkItems()}
	if s.now == nil {
		s.now = time.Now
	}
	s.lockMode = func() (os.FileMode, error) {
		st, err := lock.Stat()
		if err != nil {
			return 0, err
		}
		return st.Mode().Perm(), nil
	}
	fail := func(err error) (*Store, error) {
		s.Close()
		lock.Close()
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
	w := s.w
	s.closers = append(s.closers, func() error {
		_, _ = w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		return w.Close()
	})
	if err := initFile(ctx, s.w); err != nil {
		return fail(fmt.Errorf("%s: %w", path, err))
	}
	if s.r, err = sql.Open("sqlite", dsn+"&_pragma=query_only(ON)"); err != nil {
		return fail(err)
	}
	s.r.SetMaxOpenConns(4)
	s.closers = append([]func() error{s.r.Close}, s.closers...)
	if err := s.startup(ctx); err != nil {
		return fail(fmt.Errorf("%s: %w", path, err))
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE parts SET holder = '', lease_until = 0 WHERE holder != ''`); err != nil {
		return fail(fmt.Errorf("%s: releasing parts: %w", path, err))
	}
	ckpt, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fail(err)
	}
	ckpt.SetMaxOpenConns(1)
	ckctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.soon = make(chan struct{}, 1)
	go checkpoints(ckctx, ckpt, s.soon, done) // owned: Close stops it and waits
	s.closers = append([]func() error{func() error { stop(); <-done; return ckpt.Close() }}, s.closers...)
	s.closers = append(s.closers, lock.Close)
	return s, nil
}

// checkpoints copies the write-ahead log back into the database every
// checkpointEvery, and at once when soon has a value (PASSIVE: it never
// blocks the writer or the readers), until ctx ends.
func checkpoints(ctx context.Context, db *sql.DB, soon <-chan struct{}, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-soon:
		}
		_, _ = db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`) // a busy or failed pass is retried at the next tick
	}
}

// checkpointSoon asks for a checkpoint now, if none is asked for already
// (SQLite; a no-op for PostgreSQL). An upload asks after each chunk it
// writes: the checkpoint syncs the log's file to the disk while the body
// is still being read, so the sync behind its 202 (see durable) has little
// left to write.
func (s *Store) checkpointSoon() {
	select {
	case s.soon <- struct{}{}:
	default:
	}
}

// durable runs fn in a transaction whose commit is durable: in SQLite it is
// synced to the disk (synchronous=FULL), so the commits before it are too,
// and what a 202 promises survives a power cut, not only a crash.
// PostgreSQL's commits are durable as they are.
func (s *Store) durable(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.d.shared {
		return s.tx(ctx, fn)
	}
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
		// A new file: large pages first (a chunk or a result group is one
		// blob of many KiB; 4 KiB pages would write it a page per call).
		if _, err := db.ExecContext(ctx, `PRAGMA page_size = 32768`); err != nil {
			return err
		}
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
	return migrateFile(ctx, db)
}

// startup deletes the runs whose upload an earlier process left unfinished
// (in a shared database: those older than a day, since another replica may
// be receiving one now).
func (s *Store) startup(ctx context.Context) error {
	before := int64(1) << 62
	if s.d.shared {
		before = millis(s.now().Add(-24 * time.Hour))
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM runs WHERE status = $1 AND created_at < $2`, receiving, before); err != nil {
		return fmt.Errorf("clearing unfinished uploads: %w", err)
	}
	return nil
}
