package ledger_test

import (
	"context"
	"path/filepath"
	"testing"

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
// every commit of other content, also back to earlier content (A, B, A).
func TestLookupStatesVersion(t *testing.T) {
	l := open(t, filepath.Join(t.TempDir(), "v.ledger"))
	a, b := entry("u1", 1), entry("u1", 2)

	s0 := states(t, l, []ledger.Entry{a, b})
	if s0[0] != (ledger.State{}) || s0[1] != (ledger.State{}) {
		t.Fatalf("new user: states %+v, want zero", s0)
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
	if s3[0].Version == s2[0].Version {
		t.Fatal("version after a, b, a is the version after a, b")
	}
	if s3[0].Unchanged || s2[0].Unchanged {
		t.Fatalf("changed content reported unchanged: %+v %+v", s2[0], s3[0])
	}
	if err := l.LookupStates(context.Background(), []ledger.Entry{a, b}, make([]ledger.State, 1)); err == nil {
		t.Error("LookupStates with a short states slice: no error")
	}
}
