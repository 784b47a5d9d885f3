package runstore

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema's steps, applied in order; the database's
// user_version counts those applied. Never edit a released step: add one.
//
//	runs         one row per run: options (spec), status, times, counts
//	run_secrets  the write key of an unfinished run that brought its own
//	             (deleted when the run finishes)
//	items        the run's items as received: index, source line, the item
//	             as a JSON object (data), or why it could not be read (error)
//	results      one result line per item (the CLI's), with its status; the
//	             results that are not ok are indexed (the page, retry), the
//	             ok ones, nearly all, are not: an index entry per item costs
//	             as much as the row
//
// items and results are keyed by the run's seq, an integer: shorter keys
// than the id, and faster to compare.
var migrations = []string{
	`CREATE TABLE runs (
		id          TEXT PRIMARY KEY,
		seq         INTEGER NOT NULL UNIQUE,
		status      TEXT NOT NULL,
		created_at  INTEGER NOT NULL,
		started_at  INTEGER NOT NULL DEFAULT 0,
		finished_at INTEGER NOT NULL DEFAULT 0,
		error       TEXT NOT NULL DEFAULT '',
		run_key     TEXT NOT NULL,
		destination TEXT NOT NULL,
		spec        BLOB NOT NULL,
		retry_of    TEXT NOT NULL DEFAULT '',
		items       INTEGER NOT NULL DEFAULT 0,
		ok          INTEGER NOT NULL DEFAULT 0,
		invalid     INTEGER NOT NULL DEFAULT 0,
		failed      INTEGER NOT NULL DEFAULT 0,
		skipped     INTEGER NOT NULL DEFAULT 0,
		unchanged   INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX runs_status ON runs (status, seq);
	CREATE TABLE run_secrets (
		run_id    TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
		write_key TEXT NOT NULL
	);
	CREATE TABLE items (
		run   INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
		idx   INTEGER NOT NULL,
		line  INTEGER NOT NULL,
		data  BLOB,
		error TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (run, idx)
	) WITHOUT ROWID;
	CREATE TABLE results (
		run    INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
		idx    INTEGER NOT NULL,
		status TEXT NOT NULL,
		line   BLOB NOT NULL,
		PRIMARY KEY (run, idx)
	) WITHOUT ROWID;
	CREATE INDEX results_not_ok ON results (run, idx) WHERE status != 'ok';`,
}

// migrate applies the migrations the database lacks, each in a transaction
// with its user_version bump. A database newer than this program is refused.
func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this segloop's (%d)", v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("schema step %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}
