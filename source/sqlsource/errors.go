package sqlsource

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Errors for errors.Is.
var (
	// ErrNoColumn is wrapped when Query.Key names no column of the query.
	ErrNoColumn = errors.New("no such column")
	// ErrDuplicateColumn is wrapped when two result columns share a name:
	// one would hide the other in the item.
	ErrDuplicateColumn = errors.New("duplicate column name")
)

// Error is a database fault: connecting, running the query or reading its
// rows. Its message names the database by its URL without the password and
// keeps the server's own message (PostgreSQL's text and SQLSTATE); it never
// holds the password, which is scrubbed from every message the driver gives.
//
// For errors.Is and errors.As, a PostgreSQL Error unwraps to
// context.Canceled or context.DeadlineExceeded when the context ended the
// work, to the *pgconn.PgError the server sent, or to ErrNoColumn and
// ErrDuplicateColumn; never to a driver error whose text could hold the
// password. An SQLite Error unwraps to the driver's error.
type Error struct {
	Op   string // "connect", "query" or "read"
	DB   string // the database URL without its password
	Code string // PostgreSQL's SQLSTATE ("42601": a syntax error), or ""
	msg  string // scrubbed
	safe error  // what Unwrap returns
}

func (e *Error) Error() string { return e.DB + ": " + e.Op + ": " + e.msg }

func (e *Error) Unwrap() error { return e.safe }

// fileError wraps an error about an SQLite file, which has no password: it
// unwraps to err itself.
func fileError(op, db string, err error) *Error {
	return &Error{Op: op, DB: db, msg: err.Error(), safe: err}
}

// newError wraps err, scrubbing every secret from its text.
func newError(op, db string, err error, secrets []string) *Error {
	e := &Error{Op: op, DB: db, msg: scrub(err.Error(), secrets)}
	var pg *pgconn.PgError
	switch {
	case errors.Is(err, context.Canceled):
		e.safe = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		e.safe = context.DeadlineExceeded
	case errors.As(err, &pg):
		e.Code, e.safe = pg.Code, pg
		if pg.Position > 0 {
			e.msg += fmt.Sprintf(" (at character %d of the query)", pg.Position)
		}
	case errors.Is(err, ErrNoColumn):
		e.safe = ErrNoColumn
	case errors.Is(err, ErrDuplicateColumn):
		e.safe = ErrDuplicateColumn
	}
	return e
}

// scrub replaces each secret in s.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "xxxxx")
		}
	}
	return s
}

// splitURL cuts a database URL into the part before its user info, the user
// info, and the rest; userinfo is "" when the URL has none.
func splitURL(raw string) (scheme, userinfo, rest string) {
	i := strings.Index(raw, "://")
	if i < 0 {
		return "", "", raw
	}
	scheme, after := raw[:i+3], raw[i+3:]
	authEnd := strings.IndexAny(after, "/?#")
	if authEnd < 0 {
		authEnd = len(after)
	}
	at := strings.LastIndex(after[:authEnd], "@")
	if at < 0 {
		return scheme, "", after
	}
	return scheme, after[:at], after[at+1:]
}

// secretsOf returns the passwords in a database URL, in the forms they may
// be quoted in: as written and percent-decoded, from the user info and from
// a password query parameter.
func secretsOf(raw string) []string {
	var out []string
	add := func(s string) {
		forms := []string{s}
		if d, err := url.PathUnescape(s); err == nil {
			forms = append(forms, d)
		}
		if d, err := url.QueryUnescape(s); err == nil {
			forms = append(forms, d)
		}
		for _, f := range forms {
			if f != "" && !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	_, userinfo, rest := splitURL(raw)
	if _, pw, ok := strings.Cut(userinfo, ":"); ok {
		add(pw)
	}
	if _, query, ok := strings.Cut(rest, "?"); ok {
		query, _, _ = strings.Cut(query, "#")
		for kv := range strings.SplitSeq(query, "&") {
			k, v, _ := strings.Cut(kv, "=")
			if k, err := url.QueryUnescape(k); err == nil && strings.EqualFold(k, "password") {
				add(v)
			}
		}
	}
	return out
}

// redact returns a database URL without its password: the user info keeps
// only the user name, and password query parameters are dropped.
func redact(raw string) string {
	scheme, userinfo, rest := splitURL(raw)
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		userinfo = user
	}
	if userinfo != "" {
		userinfo += "@"
	}
	if path, query, ok := strings.Cut(rest, "?"); ok {
		query, frag, hasFrag := strings.Cut(query, "#")
		var kept []string
		for kv := range strings.SplitSeq(query, "&") {
			k, _, _ := strings.Cut(kv, "=")
			if k, err := url.QueryUnescape(k); kv == "" || err == nil && strings.EqualFold(k, "password") {
				continue
			}
			kept = append(kept, kv)
		}
		rest = path
		if len(kept) > 0 {
			rest += "?" + strings.Join(kept, "&")
		}
		if hasFrag {
			rest += "#" + frag
		}
	}
	return scheme + userinfo + rest
}
