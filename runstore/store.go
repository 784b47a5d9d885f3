// Package runstore keeps the runs of segloop serve durable: each run's
// options, its items as received, every item's result line, its status and
// counts, and, while the run is unfinished, the write key it sends with.
//
// Two kinds of store share one schema and one set of statements: one SQLite
// file (modernc.org/sqlite, pure Go), created 0600 and locked for one
// process, the default; and a PostgreSQL database (pgx) that several
// replicas of segloop serve share. Open picks the kind from the location.
//
// Items and results are stored in blobs, not a row each: a run's items are
// split by user into Parts (a fixed number per run, items of one user always
// in the same part, in input order), and each part into Chunks of a few
// thousand items, so one part can be worked by one worker at a time, chunk
// after chunk, while the parts of a run are worked at once by any replica.
// Results are stored in small groups as they complete (one blob per group),
// so a crash loses at most the results of work in flight, and read back in
// index order by merging the parts' chunks, a chunk at a time per part.
//
// A worker holds a part through a lease fenced by an epoch (Claim): every
// write it makes checks that it still holds the part, so a worker presumed
// dead that is still running cannot write a second result for an item. An
// item has exactly one result.
//
//	st, err := runstore.Open(ctx, "segloop.db", runstore.Options{})
//	up, err := st.NewUpload(ctx, 8)
//	up.Add(ctx, part, runstore.Item{Index: 0, Line: 1, Data: []byte(`{"id":"u1"}`)})
//	run, err := up.Commit(ctx, runstore.New{RunKey: key, Destination: dest, Spec: spec}, writeKey)
//	l, err := st.Claim(ctx, runstore.PartRef{Run: run.Seq, Part: 0}, "replica-1", time.Minute)
//	items, total, err := l.Pending(ctx, 0) // chunk 0's items without a result
//	l.Record(ctx, 0, results)
package runstore

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
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
	// and one left over by a crash is deleted (see Open).
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
	d   dialect
	w   *sql.DB // writes (SQLite: the one writer connection)
	r   *sql.DB // reads (SQLite: readers that do not block the writer)
	now func() time.Time

	chunkItems int // items per chunk of an upload

	closers []func() error // in order, by Close, after stmts
	stmts   stmts          // SQLite: prepared statements of frequent queries

	soon     chan struct{}               // SQLite: asks for a checkpoint now (checkpointSoon)
	lockMode func() (fs.FileMode, error) // SQLite: the file's mode
	pool     *pgxpool.Pool               // PostgreSQL: the pool under w and r
	display  string                      // where it is, for messages
}

// Options tune Open. The zero value is the default.
type Options struct {
	// Now stamps runs and leases; nil = time.Now.
	Now func() time.Time
	// Warn receives a warning about the file, such as permissions that let
	// other users read it; nil drops it.
	Warn func(msg string)
	// ChunkItems is how many items an upload stores per chunk; 0 =
	// DefaultChunkItems.
	ChunkItems int
}

func (o Options) chunkItems() int {
	if o.ChunkItems > 0 {
		return o.ChunkItems
	}
	return DefaultChunkItems
}

// Open opens the store at location: a PostgreSQL URL (postgres://… or
// postgresql://…, see OpenPostgres) or the path of a SQLite file (see
// OpenFile). The caller must Close the store.
func Open(ctx context.Context, location string, opts Options) (*Store, error) {
	if IsPostgres(location) {
		return OpenPostgres(ctx, location, opts)
	}
	return OpenFile(ctx, location, opts)
}

// IsPostgres reports whether location names a PostgreSQL database.
func IsPostgres(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// Shared reports whether the store may be shared with other processes
// (PostgreSQL): then leases matter, and a run may be worked elsewhere.
func (s *Store) Shared() bool { return s.d.shared }

// Close closes the database.
func (s *Store) Close() error {
	err := s.stmts.close()
	for _, c := range s.closers {
		if cerr := c(); err == nil {
			err = cerr
		}
	}
	s.closers = nil
	return err
}

// Mode returns the permission bits of the database file, for checks; a
// PostgreSQL store has none (0).
func (s *Store) Mode() (fs.FileMode, error) {
	if s.lockMode == nil {
		return 0, nil
	}
	return s.lockMode()
}

// dialect is what differs between the kinds of store: little, since the
// statements use $N placeholders and plain SQL both accept.
type dialect struct {
	shared    bool   // several processes use the database
	forUpdate string // appended to a SELECT that locks its rows ("" in SQLite: one writer)
	// insertRun inserts a run: $1 id, $2 status, $3 created_at, $4 run_key,
	// $5 destination, $6 spec, $7 retry_of, $8 parts; RETURNING seq.
	insertRun string
}

// tx runs fn in a transaction on the writer.
func (s *Store) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
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
