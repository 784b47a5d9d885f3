package runstore

import (
	"context"
	"database/sql"
	"sync"
)

// stmts holds the prepared statements of a SQLite store's frequent
// queries (a result group's, a chunk's), each prepared once per pool at
// its first use and kept until Close. The driver (modernc.org/sqlite)
// otherwise parses and plans a statement at every call, about 5% of the
// service's CPU in a 100k-item run. PostgreSQL's driver (pgx) keeps a
// cache of its own; there the queries go through as they are.
type stmts struct {
	mu sync.Mutex
	m  map[stmtKey]*sql.Stmt
}

type stmtKey struct {
	db    *sql.DB
	query string
}

// cached returns db's prepared statement of query, or nil if it has none.
// Inside a transaction on the writer only cached statements can be used:
// preparing one would wait for the writer's one connection, which the
// transaction holds.
func (c *stmts) cached(db *sql.DB, query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[stmtKey{db, query}]
}

// warm prepares db's statements of queries that are not yet, outside any
// transaction on db, for execTx and scanTx to find; a failure is left to
// those calls, which then run the query unprepared.
func (c *stmts) warm(ctx context.Context, db *sql.DB, queries ...string) {
	for _, q := range queries {
		_, _ = c.get(ctx, db, q)
	}
}

// get returns db's prepared statement of query, preparing it if needed.
func (c *stmts) get(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	if st := c.cached(db, query); st != nil {
		return st, nil
	}
	// Prepared without the lock: it may wait for a connection that a
	// transaction holds, and that transaction calls cached.
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := stmtKey{db, query}
	if had, ok := c.m[k]; ok {
		st.Close()
		return had, nil
	}
	if c.m == nil {
		c.m = make(map[stmtKey]*sql.Stmt)
	}
	c.m[k] = st
	return st, nil
}

// close closes every statement; the store closes its pools after it.
func (c *stmts) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	for k, st := range c.m {
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		delete(c.m, k)
	}
	return err
}

// execTx runs query with args in tx, a transaction on the writer, through
// its prepared statement if warm made one.
func (s *Store) execTx(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st := s.stmts.cached(s.w, query)
	if s.d.shared || st == nil {
		return tx.ExecContext(ctx, query, args...)
	}
	return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

// scanTx runs query with args in tx and scans its first row into dest
// (sql.ErrNoRows if it has none), through its prepared statement if warm
// made one.
func (s *Store) scanTx(ctx context.Context, tx *sql.Tx, query string, args []any, dest ...any) error {
	st := s.stmts.cached(s.w, query)
	if s.d.shared || st == nil {
		return tx.QueryRowContext(ctx, query, args...).Scan(dest...)
	}
	return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...).Scan(dest...)
}

// exec runs query with args on db, one of the store's pools.
func (s *Store) exec(ctx context.Context, db *sql.DB, query string, args ...any) (sql.Result, error) {
	if s.d.shared {
		return db.ExecContext(ctx, query, args...)
	}
	st, err := s.stmts.get(ctx, db, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// query runs query with args on db, one of the store's pools.
func (s *Store) query(ctx context.Context, db *sql.DB, query string, args ...any) (*sql.Rows, error) {
	if s.d.shared {
		return db.QueryContext(ctx, query, args...)
	}
	st, err := s.stmts.get(ctx, db, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}
