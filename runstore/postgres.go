package runstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgresSchema is the PostgreSQL schema (namespace) that holds segloop
// serve's tables, and River's: a database may be shared with other uses.
const PostgresSchema = "segloop"

// pgLockKey is the advisory lock under which replicas starting at once
// migrate the schema one after the other ("SGLP").
const pgLockKey = applicationID

// postgresConns bounds a store's connections (River's included).
const postgresConns = 16

var postgresDialect = dialect{
	shared:    true,
	forUpdate: " FOR UPDATE",
	insertRun: `INSERT INTO runs (id, status, created_at, run_key, destination, spec, retry_of, parts)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq`,
}

// OpenPostgres opens the store in the PostgreSQL database at the URL
// location (postgres://user:password@host:port/db?…), in the schema
// PostgresSchema, which it creates and migrates under an advisory lock:
// replicas that start at once wait for one another. Errors never show the
// URL's password. Several processes may share the store; each must Close
// its own.
func OpenPostgres(ctx context.Context, location string, opts Options) (*Store, error) {
	display, secret := RedactURL(location)
	wrap := func(err error) error {
		msg := err.Error()
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "[redacted]")
		}
		return fmt.Errorf("%s: %s", display, msg)
	}
	cfg, err := pgxpool.ParseConfig(location)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid PostgreSQL URL", display)
	}
	if cfg.ConnConfig.Password != "" {
		secret = cfg.ConnConfig.Password
	}
	cfg.MaxConns = postgresConns
	cfg.ConnConfig.RuntimeParams["search_path"] = PostgresSchema
	cfg.ConnConfig.RuntimeParams["application_name"] = "segloop serve"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wrap(err)
	}
	if err := migratePostgres(ctx, pool); err != nil {
		pool.Close()
		return nil, wrap(err)
	}
	db := stdlib.OpenDBFromPool(pool)
	s := &Store{d: postgresDialect, w: db, r: db, now: opts.Now, pool: pool, display: display, chunkItems: opts.chunkItems()}
	if s.now == nil {
		s.now = time.Now
	}
	s.closers = []func() error{db.Close, func() error { pool.Close(); return nil }}
	if err := s.startup(ctx); err != nil {
		s.Close()
		return nil, wrap(err)
	}
	return s, nil
}

// Pool is the PostgreSQL store's connection pool (for River's jobs, in the
// same database and schema); nil for a SQLite store.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Location is where the store is, for messages: the file's path, or the
// PostgreSQL URL without its password.
func (s *Store) Location() string { return s.display }

// Migrate runs fn while holding the schema's advisory lock (on a
// connection of its own), for a caller's own migrations (River's) in the
// same schema: replicas starting at once run them one after the other.
// PostgreSQL only.
func (s *Store) Migrate(ctx context.Context, fn func() error) error {
	if s.pool == nil {
		return errors.New("runstore: not a PostgreSQL store")
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(pgLockKey)); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(pgLockKey))
	return fn()
}

// migratePostgres creates the schema and applies the steps it lacks, in
// one transaction under the advisory lock. A schema newer than this
// program is refused.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgLockKey)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+PostgresSchema+`;
			CREATE TABLE IF NOT EXISTS segloop_runstore_schema (version INTEGER NOT NULL);
			INSERT INTO segloop_runstore_schema (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM segloop_runstore_schema)`); err != nil {
			return err
		}
		var v int
		if err := tx.QueryRow(ctx, `SELECT version FROM segloop_runstore_schema`).Scan(&v); err != nil {
			return err
		}
		if v > len(postgresMigrations) {
			return fmt.Errorf("database schema version %d is newer than this segloop's (%d)", v, len(postgresMigrations))
		}
		for ; v < len(postgresMigrations); v++ {
			if _, err := tx.Exec(ctx, postgresMigrations[v]); err != nil {
				return fmt.Errorf("schema step %d: %w", v+1, err)
			}
		}
		_, err := tx.Exec(ctx, `UPDATE segloop_runstore_schema SET version = $1`, v)
		return err
	})
}

// RedactURL returns location without its password, for messages, and the
// password itself (to scrub from error texts).
func RedactURL(location string) (display, password string) {
	u, err := url.Parse(location)
	if err != nil {
		return "postgres://…", ""
	}
	if p, ok := u.User.Password(); ok {
		password = p
	}
	q := u.Query()
	if q.Has("password") {
		password = q.Get("password")
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted(), password
}
