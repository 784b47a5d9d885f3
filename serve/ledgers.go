package serve

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/ledger"
	"github.com/segloop/segloop/runstore"
)

// Diff is diff mode for a server's runs (Config.Diff): the ledger of each
// destination, by its segloop.LedgerDestination. *Ledgers is the one to use.
type Diff interface {
	Ledger(ctx context.Context, destination string) (segloop.Ledger, error)
}

// Ledgers are the diff ledgers of a server, one per destination (a Segment
// endpoint and write key; a ledger holds exactly one), opened on first use
// and kept open until Close. They live in a directory, one ledger file per
// destination (DIR/DESTINATION.ledger, created 0600), or in a PostgreSQL
// database, one schema per destination (LedgerSchemaPrefix + DESTINATION,
// created when missing). Either way a `segloop import --diff` of the same
// endpoint and write key can share a run's ledger: given that file, or the
// URL with ?search_path=that schema. DESTINATION is 32 hex digits,
// segloop.LedgerDestination of the endpoint and write key (never the key).
//
// Ledgers is safe for concurrent use, by every run of the server and by
// other processes sharing the location.
type Ledgers struct {
	location string        // a directory, or a postgres:// URL
	display  string        // location without a password, for messages
	secret   string        // the URL's password, scrubbed from messages
	pool     *pgxpool.Pool // PostgreSQL: for creating the schemas
	log      *slog.Logger

	mu     sync.Mutex
	open   map[string]*openLedger // by destination
	closed bool
}

// openLedger is one destination's ledger, opened once (mu held while
// opening, so that concurrent first uses wait for one open).
type openLedger struct {
	mu sync.Mutex
	l  *ledger.Ledger
}

// LedgerSchemaPrefix starts the name of each destination's schema in a
// PostgreSQL location of Ledgers.
const LedgerSchemaPrefix = "segloop_ledger_"

// ledgerSchemaLock is the advisory lock under which replicas create a
// destination's schema one after the other ("SLLS").
const ledgerSchemaLock = 0x534c4c53

// OpenLedgers checks location, a directory (created 0700 when missing) or
// a postgres:// or postgresql:// URL (connected to now, so that a wrong
// URL fails at the start), and returns its Ledgers, which log each ledger
// they open, with its location, to log (nil: none). Errors never show a
// password.
func OpenLedgers(ctx context.Context, location string, log *slog.Logger) (*Ledgers, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ls := &Ledgers{location: location, display: location, log: log, open: map[string]*openLedger{}}
	if !runstore.IsPostgres(location) {
		if location == "" {
			return nil, errors.New("no directory")
		}
		fi, err := os.Stat(location)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.MkdirAll(location, 0o700); err != nil {
				return nil, err
			}
		case err != nil:
			return nil, err
		case !fi.IsDir():
			return nil, fmt.Errorf("%s: not a directory: the service keeps a ledger file per endpoint and write key there", location)
		}
		return ls, nil
	}
	ls.display, ls.secret = runstore.RedactURL(location)
	cfg, err := pgxpool.ParseConfig(location)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid PostgreSQL URL", ls.display)
	}
	if p := cfg.ConnConfig.Password; p != "" {
		ls.secret = p
	}
	cfg.MaxConns = 2
	if ls.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, ls.wrap(err)
	}
	if err := ls.pool.Ping(ctx); err != nil {
		ls.pool.Close()
		return nil, ls.wrap(err)
	}
	return ls, nil
}

// wrap prefixes err with the location, without its password.
func (ls *Ledgers) wrap(err error) error {
	msg := err.Error()
	if ls.secret != "" {
		msg = strings.ReplaceAll(msg, ls.secret, "[redacted]")
	}
	return fmt.Errorf("%s: %s", ls.display, msg)
}

// Location is where the ledgers are: the directory, or the URL without
// its password.
func (ls *Ledgers) Location() string { return ls.display }

// Ledger returns the ledger of destination (segloop.LedgerDestination of
// an endpoint and write key), opening it, and creating it when missing, on
// first use. A failure is not remembered: the next call tries again. The
// errors wrap ledger.ErrDestination or ledger.ErrNotLedger when the
// location holds something else than this destination's ledger.
func (ls *Ledgers) Ledger(ctx context.Context, destination string) (segloop.Ledger, error) {
	if !validDestination(destination) {
		return nil, fmt.Errorf("ledger: destination %q: want 32 hex digits", destination)
	}
	ls.mu.Lock()
	if ls.closed {
		ls.mu.Unlock()
		return nil, errors.New("ledgers closed")
	}
	o := ls.open[destination]
	if o == nil {
		o = &openLedger{}
		ls.open[destination] = o
	}
	ls.mu.Unlock()

	o.mu.Lock()
	defer o.mu.Unlock()
	if o.l != nil {
		return o.l, nil
	}
	loc, err := ls.prepare(ctx, destination)
	if err != nil {
		return nil, err
	}
	l, err := ledger.Open(ctx, loc, destination)
	if err != nil {
		return nil, err
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.closed { // closed while opening
		l.Close()
		return nil, errors.New("ledgers closed")
	}
	o.l = l
	ls.log.Info("diff ledger opened", "destination", destination, "ledger", ls.LedgerLocation(destination))
	return l, nil
}

// LedgerLocation is where the ledger of destination is: its file, or the
// PostgreSQL URL (without password) with the search_path of its schema:
// what `segloop import --diff` takes to share it.
func (ls *Ledgers) LedgerLocation(destination string) string {
	if ls.pool == nil {
		return filepath.Join(ls.location, destination+".ledger")
	}
	return withSearchPath(ls.display, LedgerSchemaPrefix+destination)
}

// prepare returns the location of destination's ledger, creating its
// schema in PostgreSQL.
func (ls *Ledgers) prepare(ctx context.Context, destination string) (string, error) {
	if ls.pool == nil {
		return filepath.Join(ls.location, destination+".ledger"), nil
	}
	schema := LedgerSchemaPrefix + destination
	err := pgx.BeginFunc(ctx, ls.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(ledgerSchemaLock)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize())
		return err
	})
	if err != nil {
		return "", ls.wrap(fmt.Errorf("creating the ledger's schema %s: %w", schema, err))
	}
	return withSearchPath(ls.location, schema), nil
}

// withSearchPath returns the PostgreSQL URL u with search_path set to
// schema (and no other search_path).
func withSearchPath(u, schema string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := pu.Query()
	q.Set("search_path", schema)
	pu.RawQuery = q.Encode()
	return pu.String()
}

// validDestination reports whether d is a destination as
// segloop.LedgerDestination makes them: 32 lower-case hex digits (safe in a
// file name and a schema name).
func validDestination(d string) bool {
	if len(d) != 32 {
		return false
	}
	for _, c := range d {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Close closes every ledger opened; later calls of Ledger fail. Call it
// once the server's Serve has returned.
func (ls *Ledgers) Close() error {
	ls.mu.Lock()
	ls.closed = true
	open := ls.open
	ls.open = nil
	ls.mu.Unlock()
	var errs []error
	for _, o := range open {
		o.mu.Lock()
		if o.l != nil {
			errs = append(errs, o.l.Close())
			o.l = nil
		}
		o.mu.Unlock()
	}
	if ls.pool != nil {
		ls.pool.Close()
	}
	return errors.Join(errs...)
}

// ledgerFatal reports whether err, from Diff.Ledger, means the run can
// never use its ledger (the location holds another destination's ledger,
// or something else), rather than a ledger that cannot be reached now.
func ledgerFatal(err error) bool {
	return errors.Is(err, ledger.ErrDestination) || errors.Is(err, ledger.ErrNotLedger) || errors.Is(err, fs.ErrPermission)
}
