package runstore

import (
	"context"
	"database/sql"
	"fmt"
)

// The schema, the same in both kinds of store but for column types:
//
//	runs         one row per run: options (spec), status, times, counts, the
//	             number of parts its items are split into, and a request to
//	             stop (cancel, or abort for a fatal error) that every worker
//	             of the run heeds
//	run_secrets  the write key of an unfinished run that brought its own
//	             (deleted when the run finishes)
//	parts        one row per part of a run: its chunk count, the first chunk
//	             not yet complete, whether it is done, and its lease (the
//	             holder, until when, and the epoch that fences its writes)
//	chunks       a part's items, a few thousand per row, in input order: one
//	             blob of (index, line, data or error) records (see codec.go)
//	results      result lines in groups, as a worker stored them: one blob of
//	             (index, status, line) records sorted by index, a bit per
//	             status present, and the replica that stored it
//
// parts, chunks and results are keyed by the run's seq, an integer: shorter
// keys than the id, and faster to compare.

// fileMigrations are the SQLite file's schema steps, applied in order; the
// file's user_version counts those applied. Never edit a released step: add
// one. Step 1 stored an item and a result per row; step 2 replaces them with
// chunks and result groups (runs left unfinished by a segloop of step 1 end
// failed: their items are not carried over).
var fileMigrations = []string{
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
	`UPDATE runs SET status = 'failed', error = 'stored by an earlier segloop: its items were not carried over; create the run again'
		WHERE status IN ('queued', 'running', 'receiving');
	DELETE FROM run_secrets;
	DROP TABLE results;
	DROP TABLE items;
	ALTER TABLE runs ADD COLUMN parts INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE runs ADD COLUMN stop_status TEXT NOT NULL DEFAULT '';
	ALTER TABLE runs ADD COLUMN stop_error TEXT NOT NULL DEFAULT '';
	CREATE TABLE parts (
		run         INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
		part        INTEGER NOT NULL,
		chunks      INTEGER NOT NULL DEFAULT 0,
		next_chunk  INTEGER NOT NULL DEFAULT 0,
		done        INTEGER NOT NULL DEFAULT 0,
		epoch       INTEGER NOT NULL DEFAULT 0,
		holder      TEXT NOT NULL DEFAULT '',
		lease_until INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (run, part)
	) WITHOUT ROWID;
	CREATE TABLE chunks (
		run       INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
		part      INTEGER NOT NULL,
		no        INTEGER NOT NULL,
		first_idx INTEGER NOT NULL,
		last_idx  INTEGER NOT NULL,
		items     INTEGER NOT NULL,
		data      BLOB NOT NULL,
		PRIMARY KEY (run, part, no)
	);
	CREATE TABLE results (
		run    INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
		part   INTEGER NOT NULL,
		chunk  INTEGER NOT NULL,
		grp    INTEGER NOT NULL,
		worker TEXT NOT NULL,
		n      INTEGER NOT NULL,
		kinds  INTEGER NOT NULL,
		data   BLOB NOT NULL,
		PRIMARY KEY (run, part, chunk, grp)
	);`,
}

// postgresMigrations are the PostgreSQL schema's steps; the table
// segloop_runstore_schema holds how many were applied.
var postgresMigrations = []string{
	`CREATE TABLE runs (
		id          TEXT PRIMARY KEY,
		seq         BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
		status      TEXT NOT NULL,
		created_at  BIGINT NOT NULL,
		started_at  BIGINT NOT NULL DEFAULT 0,
		finished_at BIGINT NOT NULL DEFAULT 0,
		error       TEXT NOT NULL DEFAULT '',
		run_key     TEXT NOT NULL,
		destination TEXT NOT NULL,
		spec        BYTEA NOT NULL,
		retry_of    TEXT NOT NULL DEFAULT '',
		items       BIGINT NOT NULL DEFAULT 0,
		ok          BIGINT NOT NULL DEFAULT 0,
		invalid     BIGINT NOT NULL DEFAULT 0,
		failed      BIGINT NOT NULL DEFAULT 0,
		skipped     BIGINT NOT NULL DEFAULT 0,
		unchanged   BIGINT NOT NULL DEFAULT 0,
		parts       INTEGER NOT NULL DEFAULT 0,
		stop_status TEXT NOT NULL DEFAULT '',
		stop_error  TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX runs_status ON runs (status, seq);
	CREATE TABLE run_secrets (
		run_id    TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
		write_key TEXT NOT NULL
	);
	CREATE TABLE parts (
		run         BIGINT NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
		part        INTEGER NOT NULL,
		chunks      INTEGER NOT NULL DEFAULT 0,
		next_chunk  INTEGER NOT NULL DEFAULT 0,
		done        INTEGER NOT NULL DEFAULT 0,
		epoch       BIGINT NOT NULL DEFAULT 0,
		holder      TEXT NOT NULL DEFAULT '',
		lease_until BIGINT NOT NULL DEFAULT 0,
		PRIMARY KEY (run, part)
	);
	CREATE INDEX parts_open ON parts (done, lease_until);
	CREATE TABLE chunks (
		run       BIGINT NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
		part      INTEGER NOT NULL,
		no        INTEGER NOT NULL,
		first_idx BIGINT NOT NULL,
		last_idx  BIGINT NOT NULL,
		items     INTEGER NOT NULL,
		data      BYTEA NOT NULL,
		PRIMARY KEY (run, part, no)
	);
	CREATE TABLE results (
		run    BIGINT NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
		part   INTEGER NOT NULL,
		chunk  INTEGER NOT NULL,
		grp    INTEGER NOT NULL,
		worker TEXT NOT NULL,
		n      INTEGER NOT NULL,
		kinds  INTEGER NOT NULL,
		data   BYTEA NOT NULL,
		PRIMARY KEY (run, part, chunk, grp)
	);`,
}

// migrateFile applies the migrations the file lacks, each in a transaction
// with its user_version bump. A database newer than this program is refused.
func migrateFile(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	if v > len(fileMigrations) {
		return fmt.Errorf("database schema version %d is newer than this segloop's (%d)", v, len(fileMigrations))
	}
	for ; v < len(fileMigrations); v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, fileMigrations[v]); err != nil {
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
