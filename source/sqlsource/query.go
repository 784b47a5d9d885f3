// Package sqlsource reads the rows of a database query as input items:
// PostgreSQL (postgres:// and postgresql:// URLs, through pgx) and SQLite
// (sqlite:FILE, through the pure-Go modernc.org/sqlite). It lives apart from
// package source so that programs reading only files do not build the
// database drivers.
//
// Each row is an item keyed by column name, with its type kept in the JSON
// form the mapping reads, as source's JSON readers give it: integers and
// exact decimals as json.Number, booleans as bool, json/jsonb decoded,
// timestamps RFC 3339, NULL an absent key. See Open for the full list.
//
// A typical use:
//
//	q := sqlsource.Query{URL: url, Text: text}
//	r, err := sqlsource.Open(ctx, q, source.Options{})
//	if err != nil { ... } // *sqlsource.Error: no password in it
//	defer r.Close()
//	for { rec, err := r.Next(); ... } // as any source.Reader
package sqlsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/segloop/segloop/source"
)

// Query is a database query as the command line gives it.
type Query struct {
	// URL names the database: postgres://USER:PASSWORD@HOST:PORT/DB?… or
	// postgresql://… (libpq's URL form; PG* environment variables and
	// ~/.pgpass fill in what it leaves out), or sqlite:FILE (sqlite:///abs
	// also works), opened read-only.
	URL string
	// Text is one SQL statement; LoadText resolves --query's @FILE form.
	Text string
	// Key, if set, names a result column the rows are sorted by: the query is
	// run as SELECT * FROM (Text) ORDER BY Key. It must exist (Open checks)
	// and should be unique, or rows with equal keys have no stable order.
	Key string
}

// IsURL reports whether an input argument names a database rather than a
// file: it starts with postgres://, postgresql:// or sqlite: (in any case).
func IsURL(arg string) bool {
	s := strings.ToLower(arg)
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") || strings.HasPrefix(s, "sqlite:")
}

// LoadText returns the query text of a --query argument: the argument
// itself, or the contents of FILE for @FILE. Empty text is an error.
func LoadText(arg string) (string, error) {
	text := arg
	if name, ok := strings.CutPrefix(arg, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("--query @%s: %w", name, err)
		}
		text = string(b)
	}
	if strings.TrimSpace(statement(text)) == "" {
		return "", errors.New("--query: the query is empty")
	}
	return text, nil
}

// Ordered reports whether the query's rows come in a stable order, as a
// checkpoint needs (it resumes by row position): when Key is set, or when
// Text has an ORDER BY at its top level (see HasOrderBy). An ORDER BY that
// leaves ties, or sorts by random(), is not detected: the order it gives is
// the query author's responsibility.
func (q Query) Ordered() bool { return q.Key != "" || HasOrderBy(q.Text) }

// ErrUnordered is the error a command gives for a checkpoint over a query
// that is not Ordered.
var ErrUnordered = errors.New("a checkpoint over a query needs a stable row order: add an ORDER BY to the query, or name a unique column with --key")

// Redacted returns the URL without its password, for messages.
func (q Query) Redacted() string {
	if file, ok := sqlitePath(q.URL); ok {
		if abs, err := filepath.Abs(file); err == nil {
			file = abs
		}
		return "sqlite:" + file
	}
	return redact(q.URL)
}

// Description identifies the query for run fingerprints: the database URL
// without its password (an SQLite file by its absolute path), the key and the
// query text. It never holds the password.
func (q Query) Description() string {
	return fmt.Sprintf("query %s\nkey %q\n%s", q.Redacted(), q.Key, q.Text)
}

// File returns the SQLite file an sqlite:FILE URL names, as written (not
// made absolute), and false for a PostgreSQL URL: a caller that writes files
// checks it is none of them.
func (q Query) File() (string, bool) { return sqlitePath(q.URL) }

// sqlitePath returns FILE of a sqlite:FILE URL.
func sqlitePath(raw string) (string, bool) {
	if len(raw) < len("sqlite:") || !strings.EqualFold(raw[:len("sqlite:")], "sqlite:") {
		return "", false
	}
	file := raw[len("sqlite:"):]
	return strings.TrimPrefix(file, "//"), true // sqlite:///abs/path, sqlite://rel/path
}

// Open connects to the database, starts the query and returns a reader of
// its rows; ctx bounds the whole read, not only the opening. The query runs
// read-only (PostgreSQL: in a READ ONLY transaction; SQLite: a read-only
// connection), so a statement that writes is refused. Rows stream: the
// server sends them as the reader consumes them, in bounded memory.
//
// Column values become, for PostgreSQL: smallint, integer, bigint and oid as
// exact json.Number; real and double precision as json.Number (NaN and ±Inf
// as the strings "NaN", "Infinity", "-Infinity"); numeric as an exact
// json.Number keeping its scale ("12.50"), NaN and ±Infinity as those
// strings; boolean as bool; json and jsonb decoded (numbers json.Number);
// timestamptz and timestamp (read as UTC) as RFC 3339 in UTC with the
// column's fraction digits (6 unless declared timestamp(p)), ±infinity as
// "infinity"/"-infinity"; date as YYYY-MM-DD; text, varchar, char, name and
// uuid as strings; bytea as standard base64; arrays of those as JSON arrays
// (nested for several dimensions, NULL elements as JSON null); every other
// type (interval, time, inet, money, enums, …) as PostgreSQL's text for it.
// For SQLite, by each value's storage class: INTEGER as json.Number (bool in
// a column declared BOOLEAN or BOOL), REAL as json.Number, TEXT as a string
// (decoded in a column declared JSON; RFC 3339 in one declared DATE,
// DATETIME or TIMESTAMP), BLOB as base64. NULL is an absent key everywhere.
//
// Index is the row's 0-based position, Line its 1-based row number. A row
// holding invalid UTF-8 in a text column, or more than opts.MaxItemBytes of
// data, is an item error naming the column; reading goes on. Every fault
// (no connection, a query the server refuses, a connection lost mid-read)
// is an *Error. Two result columns of the same name are refused
// (ErrDuplicateColumn): one would hide the other.
func Open(ctx context.Context, q Query, opts source.Options) (*Reader, error) {
	if strings.TrimSpace(statement(q.Text)) == "" {
		return nil, &Error{Op: "query", DB: q.Redacted(), msg: "the query is empty"}
	}
	var (
		b   backend
		err error
	)
	if file, ok := sqlitePath(q.URL); ok {
		b, err = openSQLite(ctx, file, q)
	} else {
		b, err = openPostgres(ctx, q)
	}
	if err != nil {
		return nil, err
	}
	max := opts.MaxItemBytes
	if max <= 0 {
		max = source.DefaultMaxItemBytes
	}
	return &Reader{b: b, max: max}, nil
}

// backend is one database driver's side of a Reader.
type backend interface {
	// row reads the next row into fields; err is io.EOF at the end, else a
	// fatal *Error.
	row(fields map[string]any) (rowInfo, error)
	columns() []string
	close() error
}

// rowInfo is what a backend tells of the row it read.
type rowInfo struct {
	size int   // the row's data, in bytes
	bad  error // a fault of this row alone: it becomes an item error
}

// Reader yields a query's rows as source records. It is not safe for
// concurrent use; the caller must call Close, which ends the query (rows
// not read are not fetched).
type Reader struct {
	b     backend
	max   int
	index int64
	err   error // sticky
}

var _ source.Reader = (*Reader)(nil)

// Columns returns the result's column names in order. The caller must not
// modify the slice.
func (r *Reader) Columns() []string { return r.b.columns() }

// Next returns the next row. See Open for the rules.
func (r *Reader) Next() (source.Record, error) {
	if r.err != nil {
		return source.Record{}, r.err
	}
	fields := make(map[string]any, len(r.b.columns()))
	info, err := r.b.row(fields)
	if err != nil {
		r.err = err
		if err == io.EOF {
			r.b.close()
		}
		return source.Record{}, err
	}
	line := int(r.index) + 1
	rec := source.Record{Index: r.index, Line: line, Fields: fields}
	r.index++
	switch {
	case info.bad != nil:
		rec.Fields, rec.Err = nil, &source.ItemError{Line: line, Err: info.bad}
	case info.size > r.max:
		rec.Fields, rec.Err = nil, &source.ItemError{Line: line, Err: fmt.Errorf("%w: row holds over %d bytes", source.ErrItemTooLarge, r.max)}
	}
	return rec, nil
}

// Close ends the query and releases the connection. It is safe to call more
// than once.
func (r *Reader) Close() error {
	if r.err == nil {
		r.err = errors.New("sqlsource: reader closed")
	}
	return r.b.close()
}

// checkColumns refuses duplicate column names and a Key that names no
// column.
func checkColumns(names []string, key string) error {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n] {
			return fmt.Errorf("%w %q in the query's result: give each column its own name (AS …)", ErrDuplicateColumn, n)
		}
		seen[n] = true
	}
	if key != "" && !seen[key] {
		return fmt.Errorf("--key %q: %w in the query's result (its columns: %s)", key, ErrNoColumn, strings.Join(names, ", "))
	}
	return nil
}
