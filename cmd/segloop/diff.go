package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/ledger"
)

// diffFlags is --diff LEDGER: diff mode, sending only the items whose event
// changed since Segment last accepted one for their user (see the README's
// "Nightly sync").
type diffFlags struct {
	location string // a file path (the embedded kind) or a postgres:// URL; "" = off
}

// register defines --diff on fs.
func (d *diffFlags) register(fs *flag.FlagSet) {
	fs.Var((*ledgerURL)(&d.location), "diff",
		"send only the items whose event changed since Segment last accepted one for their user: the ledger `LEDGER` (a file, created 0600; or postgres://… shared by several machines) keeps each user's event hash, per endpoint and write key")
}

// check validates --diff against the other flags.
func (d *diffFlags) check(f *importFlags) error {
	switch {
	case d.location == "":
	case f.dryRun && !f.sandbox && f.writeKey == "":
		return usageError("import: --dry-run --diff needs the write key the ledger belongs to (set SEGMENT_WRITE_KEY or pass --write-key): a ledger is kept per endpoint and write key")
	}
	return nil
}

// file is the path of an embedded ledger, "" for none or a PostgreSQL one.
func (d *diffFlags) file() string {
	if d.location == "" || isPostgresURL(d.location) {
		return ""
	}
	return d.location
}

func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// ledgerDestination is the destination a run's ledger belongs to
// (segloop.LedgerDestination of the endpoint and write key). The sandbox is a destination of its own, the
// same for every --sandbox run (its URL changes from run to run), so a
// sandbox ledger is never mistaken for a real endpoint's.
func ledgerDestination(f *importFlags) string {
	if f.sandbox {
		return segloop.LedgerDestination("sandbox", sandboxWriteKey)
	}
	return segloop.LedgerDestination(f.endpoint, f.writeKey)
}

// runLedger is the open ledger of a diff run; the zero value is no ledger.
type runLedger struct {
	l *ledger.Ledger
	// empty: a dry run whose ledger file does not exist yet: every item
	// would be sent, and nothing is created.
	empty bool
}

// openDiff opens --diff's ledger (after checkOutputs checked its name
// against the run's other files). Every failure is a usage error (exit 2):
// nothing has been sent or truncated yet. The errors never show a
// PostgreSQL password.
func openDiff(ctx context.Context, f *importFlags) (runLedger, error) {
	loc := f.diff.location
	if loc == "" {
		return runLedger{}, nil
	}
	if path := f.diff.file(); path != "" && f.dryRun {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return runLedger{empty: true}, nil
		}
	}
	l, err := ledger.Open(ctx, loc, ledgerDestination(f))
	switch {
	case errors.Is(err, ledger.ErrDestination):
		return runLedger{}, usageError("import: --diff: %v: the ledger was made for another endpoint or write key; keep one ledger per destination", err)
	case errors.Is(err, ledger.ErrNotLedger):
		return runLedger{}, usageError("import: --diff: %v", err)
	case err != nil:
		return runLedger{}, usageError("import: --diff: cannot open the ledger: %v", err)
	}
	return runLedger{l: l}, nil
}

// ledger returns the run's segloop.Ledger, nil when diff mode is off.
func (r runLedger) ledger() segloop.Ledger {
	switch {
	case r.empty:
		return emptyLedger{}
	case r.l != nil:
		return r.l
	}
	return nil
}

func (r runLedger) close() {
	if r.l != nil {
		r.l.Close()
	}
}

// emptyLedger is the ledger of a dry run whose ledger file does not exist:
// it holds no user.
type emptyLedger struct{}

func (emptyLedger) LookupStates(_ context.Context, batch []ledger.Entry, states []ledger.State) error {
	clear(states[:len(batch)])
	return nil
}

func (emptyLedger) Commit(context.Context, []ledger.Entry) error {
	return errors.New("a dry run commits nothing")
}

// ledgerURL is a flag.Value that never shows a PostgreSQL password (in
// --help or an error about the flag).
type ledgerURL string

func (v *ledgerURL) String() string {
	if v == nil || *v == "" {
		return ""
	}
	if s := string(*v); isPostgresURL(s) {
		if u, err := url.Parse(s); err == nil {
			u.RawQuery = "" // may hold a password too
			return u.Redacted()
		}
		return "postgres://…"
	}
	return string(*v)
}

func (v *ledgerURL) Set(s string) error {
	if s == "" {
		return fmt.Errorf("want a file path or a postgres:// URL")
	}
	*v = ledgerURL(s)
	return nil
}
