package ledger

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The PostgreSQL kind: two tables in the URL's database (in the first schema
// of its search_path, so ?search_path=s keeps several ledgers in one
// database), shared by every process that opens the same URL.
const (
	// pgConns bounds one Ledger's connections.
	pgConns = 4
	// pgLockKey is the advisory lock that orders schema creation between
	// processes opening one database at once ("SLLG").
	pgLockKey = applicationID
)

const pgSchema = `
CREATE TABLE IF NOT EXISTS segloop_ledger_meta (
	name  text PRIMARY KEY,
	value text NOT NULL
);
CREATE TABLE IF NOT EXISTS segloop_ledger (
	user_id bytea PRIMARY KEY,        -- userKey(user) in UTF-8 (bytea: it may hold NUL)
	hash    bytea NOT NULL,           -- the Hash of the user's last accepted event
	gen     bigint NOT NULL DEFAULT 0 -- the user's commits so far
);`

// pgUpgradeSQL turns a format version 1 ledger into the current one ($1 in
// the second statement): every user's commit count starts at 0.
var pgUpgradeSQL = [...]string{
	`ALTER TABLE segloop_ledger ADD COLUMN gen bigint NOT NULL DEFAULT 0`,
	`UPDATE segloop_ledger_meta SET value = $1 WHERE name = 'version'`,
}

const (
	pgLookupSQL = `SELECT user_id, hash, gen FROM segloop_ledger WHERE user_id = ANY($1)`
	pgCommitSQL = `INSERT INTO segloop_ledger (user_id, hash, gen) SELECT u, h, 1 FROM unnest($1::bytea[], $2::bytea[]) AS x(u, h)
ON CONFLICT (user_id) DO UPDATE SET hash = EXCLUDED.hash, gen = segloop_ledger.gen + 1`
)

// pgStore is a ledger in PostgreSQL.
type pgStore struct {
	pool    *pgxpool.Pool
	secrets []string // redacted from every error
}

// openPostgres opens the ledger at the postgres:// URL location; it returns
// the URL without password for messages.
func openPostgres(ctx context.Context, location, destination string) (_ store, display string, epoch uint64, err error) {
	display, secrets := redactURL(location)
	s := &pgStore{secrets: secrets}
	cfg, err := pgxpool.ParseConfig(location)
	if err != nil {
		return nil, display, 0, s.wrap("ledger "+display+": invalid PostgreSQL URL", err)
	}
	if p := cfg.ConnConfig.Password; p != "" {
		s.secrets = appendSecret(s.secrets, p)
	}
	cfg.MaxConns = pgConns
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, display, 0, s.wrap("ledger "+display, err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(pgLockKey)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, pgSchema); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO segloop_ledger_meta (name, value) VALUES ('version', $1), ('destination', $2), ('epoch', $3)
ON CONFLICT (name) DO NOTHING`, strconv.Itoa(formatVersion), destination, newEpoch())
		if err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, "SELECT name, value FROM segloop_ledger_meta")
		meta := map[string]string{}
		var name, value string
		_, err = pgx.ForEachRow(rows, []any{&name, &value}, func() error { meta[name] = value; return nil })
		if err != nil {
			return err
		}
		if meta["version"] == "1" { // its epoch was inserted above
			_, err := tx.Exec(ctx, pgUpgradeSQL[0])
			if err == nil {
				_, err = tx.Exec(ctx, pgUpgradeSQL[1], strconv.Itoa(formatVersion))
			}
			if err != nil {
				return fmt.Errorf("upgrading the ledger from format version 1: %w", err)
			}
			meta["version"] = strconv.Itoa(formatVersion)
		}
		epoch, err = checkMeta(meta, destination)
		return err
	})
	if err != nil {
		s.pool.Close()
		if errors.Is(err, ErrDestination) || errors.Is(err, ErrNotLedger) {
			return nil, display, 0, fmt.Errorf("ledger %s: %w", display, err)
		}
		return nil, display, 0, s.wrap("ledger "+display, err)
	}
	return s, display, epoch, nil
}

func (s *pgStore) lookup(ctx context.Context, keys []string, stored []Hash, gens []uint64, found []bool) error {
	rows, _ := s.pool.Query(ctx, pgLookupSQL, byteas(keys))
	var (
		user, hash []byte
		gen        int64
	)
	_, err := pgx.ForEachRow(rows, []any{&user, &hash, &gen}, func() error {
		i := sort.Search(len(keys), func(i int) bool { return keys[i] >= string(user) })
		if i == len(keys) || keys[i] != string(user) || len(hash) != HashSize {
			return fmt.Errorf("corrupt entry for user %q", user)
		}
		found[i] = true
		stored[i] = Hash(hash)
		gens[i] = uint64(gen)
		return nil
	})
	if err != nil {
		return s.wrap("ledger: lookup", err)
	}
	return nil
}

func (s *pgStore) commit(ctx context.Context, keys []string, hashes []Hash) error {
	hs := make([][]byte, len(hashes))
	for i := range hashes {
		hs[i] = hashes[i][:]
	}
	// One statement is one transaction: all of it or nothing. keys are
	// ascending, so concurrent commits lock rows in one order and never
	// deadlock.
	if _, err := s.pool.Exec(ctx, pgCommitSQL, byteas(keys), hs); err != nil {
		return s.wrap("ledger: commit", err)
	}
	return nil
}

// byteas returns keys as byte slices (in one allocation), for bytea[].
func byteas(keys []string) [][]byte {
	n := 0
	for _, k := range keys {
		n += len(k)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(keys))
	for i, k := range keys {
		buf = append(buf, k...)
		out[i] = buf[len(buf)-len(k):]
	}
	return out
}

func (s *pgStore) close() error {
	s.pool.Close()
	return nil
}

// wrap returns err as a *redactedError with context msg.
func (s *pgStore) wrap(msg string, err error) error {
	text := msg + ": " + err.Error()
	for _, p := range s.secrets {
		text = strings.ReplaceAll(text, p, "xxxxx")
	}
	return &redactedError{msg: text, err: err}
}

// redactedError is an error of the PostgreSQL driver with every password
// removed from its text. It does not unwrap (the driver's own error could
// quote the URL) but it answers errors.Is for it, so that
// errors.Is(err, context.Canceled) still works.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }

// redactURL returns location as it may be shown (scheme, user, host, port
// and database: no password, no query) and the secrets in it, in every
// spelling they may appear in an error (decoded and as written).
func redactURL(location string) (display string, secrets []string) {
	u, err := url.Parse(location)
	if err != nil {
		// Unparsable: show the scheme only, and hide everything between
		// the scheme and the host as a password might be there.
		scheme, rest, _ := strings.Cut(location, "://")
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			info := rest[:at]
			if _, pw, ok := strings.Cut(info, ":"); ok {
				secrets = appendSecret(secrets, pw)
			}
			secrets = appendSecret(secrets, info)
		}
		return scheme + "://…", secrets
	}
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			secrets = appendSecret(secrets, pw)
			if raw, _, ok := strings.Cut(u.User.String(), "@"); ok {
				_, enc, _ := strings.Cut(raw, ":")
				secrets = appendSecret(secrets, enc)
			}
			_, enc, _ := strings.Cut(strings.TrimPrefix(location, u.Scheme+"://"), ":")
			if at := strings.LastIndex(enc, "@"); at >= 0 {
				secrets = appendSecret(secrets, enc[:at])
			}
		}
	}
	for name, vs := range u.Query() {
		if strings.Contains(strings.ToLower(name), "password") {
			for _, v := range vs {
				secrets = appendSecret(secrets, v)
				secrets = appendSecret(secrets, url.QueryEscape(v))
			}
		}
	}
	shown := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	if u.User != nil {
		shown.User = url.User(u.User.Username())
	}
	return shown.String(), secrets
}

func appendSecret(secrets []string, s string) []string {
	if s == "" || slices.Contains(secrets, s) {
		return secrets
	}
	return append(secrets, s)
}
