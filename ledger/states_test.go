package ledger_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/ledger"
)

// states returns LookupStates' answers for batch.
func states(t *testing.T, l *ledger.Ledger, batch []ledger.Entry) []ledger.State {
	t.Helper()
	got := make([]ledger.State, len(batch))
	if err := l.LookupStates(context.Background(), batch, got); err != nil {
		t.Fatalf("LookupStates: %v", err)
	}
	return got
}

// TestLookupStatesVersion checks what diff mode's messageIds rely on: a
// user's Version stays while nothing is committed for it, and moves with
// every commit, also back to earlier content (A, B, A, B).
func TestLookupStatesVersion(t *testing.T) {
	l := open(t, filepath.Join(t.TempDir(), "v.ledger"))
	a, b := entry("u1", 1), entry("u1", 2)

	s0 := states(t, l, []ledger.Entry{a, b})
	if s0[0].Unchanged || s0[1].Unchanged || s0[0].Version != s0[1].Version {
		t.Fatalf("new user: states %+v, want changed, one version", s0)
	}
	commit(t, l, []ledger.Entry{a})
	s1 := states(t, l, []ledger.Entry{a, b})
	if !s1[0].Unchanged || s1[1].Unchanged {
		t.Fatalf("after committing a: unchanged %v %v, want true false", s1[0].Unchanged, s1[1].Unchanged)
	}
	if s1[0].Version != s1[1].Version || s1[0].Version == s0[0].Version {
		t.Fatalf("after committing a: versions %x %x (before %x): want one new version for the user", s1[0].Version, s1[1].Version, s0[0].Version)
	}
	if again := states(t, l, []ledger.Entry{b}); again[0] != s1[1] {
		t.Fatalf("no commit between two lookups: %+v then %+v", s1[1], again[0])
	}
	commit(t, l, []ledger.Entry{b})
	s2 := states(t, l, []ledger.Entry{a})
	commit(t, l, []ledger.Entry{a})
	s3 := states(t, l, []ledger.Entry{b})
	seen := map[ledger.Version]string{s0[0].Version: "none", s1[0].Version: "a"}
	if prev, ok := seen[s2[0].Version]; ok {
		t.Fatalf("version after a, b is the version after %s", prev)
	}
	commit(t, l, []ledger.Entry{b})
	s4 := states(t, l, []ledger.Entry{a})
	for i, v := range []ledger.Version{s0[0].Version, s1[0].Version, s2[0].Version, s3[0].Version, s4[0].Version} {
		if prev, ok := seen[v]; ok && i > 1 {
			t.Fatalf("version %d (after a, b, a, b commits) repeats the version after %s", i, prev)
		}
		seen[v] = fmt.Sprint("commit ", i)
	}
	if s3[0].Unchanged || s2[0].Unchanged {
		t.Fatalf("changed content reported unchanged: %+v %+v", s2[0], s3[0])
	}
	if err := l.LookupStates(context.Background(), []ledger.Entry{a, b}, make([]ledger.State, 1)); err == nil {
		t.Error("LookupStates with a short states slice: no error")
	}
}

// v1 is a ledger of format version 1 (no commit counts, no epoch), with
// one user, as the first version of this package wrote it.
const v1Schema = `
CREATE TABLE segloop_ledger_meta (name %[1]s PRIMARY KEY, value %[1]s NOT NULL);
CREATE TABLE segloop_ledger (user_id %[2]s PRIMARY KEY, hash %[3]s NOT NULL);
INSERT INTO segloop_ledger_meta (name, value) VALUES ('version', '1'), ('destination', '` + dest + `');
`

// TestUpgradeFromVersion1 opens format version 1 ledgers of both kinds:
// they keep their users, and get commit counts from then on.
func TestUpgradeFromVersion1(t *testing.T) {
	a := entry("u1", 1)
	// check finds u1 with content held, commits content next and checks
	// that the version moved.
	check := func(t *testing.T, l *ledger.Ledger, held, next ledger.Entry) {
		t.Helper()
		s := states(t, l, []ledger.Entry{held})
		if !s[0].Unchanged {
			t.Fatal("the ledger lost u1's content")
		}
		commit(t, l, []ledger.Entry{next})
		if s2 := states(t, l, []ledger.Entry{held}); s2[0].Unchanged || s2[0].Version == s[0].Version {
			t.Fatalf("after a commit: %+v (before %+v)", s2[0], s[0])
		}
	}
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "v1.ledger")
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		stmts := "PRAGMA application_id = 1397509191; PRAGMA user_version = 1;" + fmt.Sprintf(v1Schema, "TEXT", "TEXT", "BLOB")
		_, err = db.Exec(stmts)
		if err == nil {
			_, err = db.Exec("INSERT INTO segloop_ledger (user_id, hash) VALUES (?1, ?2)", a.User, a.Hash[:])
		}
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		check(t, open(t, path), a, entry("u1", 2))
		check(t, open(t, path), entry("u1", 2), a) // and again, upgraded
	})
	t.Run("postgres", func(t *testing.T) {
		u, _ := testserver.SharedPostgres(t)
		conn, err := pgx.Connect(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), fmt.Sprintf(v1Schema, "text", "bytea", "bytea")); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(context.Background(), "INSERT INTO segloop_ledger (user_id, hash) VALUES ($1, $2)", []byte(a.User), a.Hash[:]); err != nil {
			t.Fatal(err)
		}
		check(t, open(t, u), a, entry("u1", 2))
		check(t, open(t, u), entry("u1", 2), a)
	})
}
