package ledger_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/segloop/segloop/ledger"
	_ "modernc.org/sqlite"
)

const dest = "api.segment.io/wk-3f2a"

// entry returns an Entry for user with a hash derived from version.
func entry(user string, version int) ledger.Entry {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", user, version))
	return ledger.Entry{User: user, Hash: ledger.Hash(sum[:ledger.HashSize])}
}

func entries(prefix string, n, version int) []ledger.Entry {
	es := make([]ledger.Entry, n)
	for i := range es {
		es[i] = entry(fmt.Sprintf("%s%d", prefix, i), version)
	}
	return es
}

func open(t testing.TB, location string) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(context.Background(), location, dest)
	if err != nil {
		t.Fatalf("Open(%s): %v", location, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// unchanged returns Lookup's answers for batch.
func unchanged(t *testing.T, l *ledger.Ledger, batch []ledger.Entry) []bool {
	t.Helper()
	got := make([]bool, len(batch))
	if err := l.Lookup(context.Background(), batch, got); err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	return got
}

func commit(t *testing.T, l *ledger.Ledger, batch []ledger.Entry) {
	t.Helper()
	if err := l.Commit(context.Background(), batch); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func count(bs []bool) (n int) {
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// testRoundTrip runs the same checks on both kinds of ledger.
func testRoundTrip(t *testing.T, location string) {
	l := open(t, location)
	batch := entries("u", 300, 1)
	if n := count(unchanged(t, l, batch)); n != 0 {
		t.Fatalf("empty ledger: %d unchanged, want 0", n)
	}
	commit(t, l, batch[:200])
	got := unchanged(t, l, batch)
	for i, u := range got {
		if u != (i < 200) {
			t.Fatalf("after committing 200: unchanged[%d] = %v", i, u)
		}
	}
	// A new version of some users: changed until committed.
	next := append([]ledger.Entry(nil), batch...)
	for i := 0; i < len(next); i += 10 {
		next[i] = entry(next[i].User, 2)
	}
	if n := count(unchanged(t, l, next)); n != 200-20 {
		t.Fatalf("after changing 30 users: %d unchanged, want 180", n)
	}
	commit(t, l, next)
	if n := count(unchanged(t, l, next)); n != 300 {
		t.Fatalf("after committing all: %d unchanged, want 300", n)
	}
	// One user twice in a batch: both compared with the ledger, and the
	// last one committed.
	u := []ledger.Entry{entry("dup", 1), entry("dup", 2), entry("dup", 3)}
	commit(t, l, u[:1])
	if got := unchanged(t, l, u); fmt.Sprint(got) != "[true false false]" {
		t.Fatalf("duplicates: %v, want [true false false]", got)
	}
	commit(t, l, u[1:])
	if got := unchanged(t, l, u); fmt.Sprint(got) != "[false false true]" {
		t.Fatalf("duplicates after commit: %v, want [false false true]", got)
	}
	// Users are what they are on the wire: invalid UTF-8 as U+FFFD.
	commit(t, l, []ledger.Entry{{User: "bad\xff", Hash: entry("x", 1).Hash}})
	if got := unchanged(t, l, []ledger.Entry{{User: "bad\uFFFD", Hash: entry("x", 1).Hash}}); !got[0] {
		t.Fatal("user with invalid UTF-8 not found under U+FFFD")
	}
	// Users of every shape: quotes, backslashes, control characters, NUL,
	// non-ASCII, and longer than the ledger keeps as they are.
	odd := []ledger.Entry{}
	for _, u := range []string{`a"b`, `a\b`, "a\x00b", "\n", "\u00e9", "é", "😀", " ", strings.Repeat("x", 512), strings.Repeat("x", 513), strings.Repeat("y", 5000)} {
		odd = append(odd, entry(u, 1))
	}
	commit(t, l, odd)
	if n := count(unchanged(t, l, odd)); n != len(odd) {
		t.Fatalf("odd users: %d of %d unchanged", n, len(odd))
	}
	if n := count(unchanged(t, l, []ledger.Entry{entry("ab", 1), entry(strings.Repeat("x", 514), 1), {User: "a", Hash: entry(`a"b`, 1).Hash}})); n != 0 {
		t.Fatalf("users that were never committed: %d unchanged", n)
	}
	if err := l.Lookup(context.Background(), nil, nil); err != nil {
		t.Errorf("empty Lookup: %v", err)
	}
	if err := l.Commit(context.Background(), nil); err != nil {
		t.Errorf("empty Commit: %v", err)
	}
	if err := l.Lookup(context.Background(), batch, make([]bool, 1)); err == nil {
		t.Error("Lookup with a short unchanged slice: no error")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Everything survives a reopen.
	l = open(t, location)
	if n := count(unchanged(t, l, next)); n != 300 {
		t.Fatalf("after reopening: %d unchanged, want 300", n)
	}
}

func TestFileRoundTrip(t *testing.T) {
	testRoundTrip(t, filepath.Join(t.TempDir(), "ledger.db"))
}

func TestFileDestinationMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := open(t, path)
	commit(t, l, entries("u", 10, 1))
	l.Close()
	_, err := ledger.Open(context.Background(), path, "eu.segment.io/wk-other")
	if !errors.Is(err, ledger.ErrDestination) {
		t.Fatalf("Open for another destination: %v, want ErrDestination", err)
	}
	for _, want := range []string{path, dest, "eu.segment.io/wk-other"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	l = open(t, path) // still the first destination's, intact
	if n := count(unchanged(t, l, entries("u", 10, 1))); n != 10 {
		t.Errorf("after the refusal: %d unchanged, want 10", n)
	}
}

func TestFileNotLedgerLeftUntouched(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "app.db")
	db, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE users (id TEXT); INSERT INTO users VALUES ('u1')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	foreignData, err := os.ReadFile(foreign)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"csv", []byte("id,email\nu1,a@example.com\n"), "not a SQLite database"},
		{"short", []byte("S"), "not a SQLite database"},
		{"sqlite of another application", foreignData, "another application"},
		{"sqlite header only", append([]byte("SQLite format 3\x00"), make([]byte, 84)...), "another application"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "input")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Stat(path)
			_, err := ledger.Open(context.Background(), path, dest)
			if !errors.Is(err, ledger.ErrNotLedger) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open: %v, want ErrNotLedger naming the file and saying %q", err, tt.want)
			}
			after, _ := os.Stat(path)
			got, _ := os.ReadFile(path)
			if !bytes.Equal(got, tt.data) || after.Mode() != before.Mode() || !after.ModTime().Equal(before.ModTime()) {
				t.Errorf("the file was changed: mode %v -> %v, %d -> %d bytes", before.Mode(), after.Mode(), len(tt.data), len(got))
			}
			if names := dirNames(t, filepath.Dir(path)); len(names) != 1 {
				t.Errorf("files beside it: %v", names)
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		if _, err := ledger.Open(context.Background(), t.TempDir(), dest); !errors.Is(err, ledger.ErrNotLedger) {
			t.Errorf("Open(directory): %v, want ErrNotLedger", err)
		}
	})
	t.Run("fifo", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Skip(err)
		}
		if _, err := ledger.Open(context.Background(), path, dest); !errors.Is(err, ledger.ErrNotLedger) {
			t.Errorf("Open(fifo): %v, want ErrNotLedger", err)
		}
	})
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestFileMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.db")
	l := open(t, path)
	commit(t, l, entries("u", 10, 1)) // the WAL and its index exist now
	for _, name := range dirNames(t, dir) {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	if names := dirNames(t, dir); len(names) != 3 {
		t.Errorf("files: %v, want the ledger, its -wal and -shm", names)
	}
}

func TestFileEmptyAndSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	l := open(t, link) // an empty file becomes a ledger, through the link
	commit(t, l, entries("u", 5, 1))
	l.Close()
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi, err)
	}
	l = open(t, target)
	if n := count(unchanged(t, l, entries("u", 5, 1))); n != 5 {
		t.Errorf("through the target: %d unchanged, want 5", n)
	}
}

// TestFileConcurrent has several goroutines and two Ledgers on one file
// (as two processes would) look up and commit at once.
func TestFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	var ls [2]*ledger.Ledger
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range ls { // concurrent creation too
		wg.Go(func() {
			l, err := ledger.Open(context.Background(), path, dest)
			if err != nil {
				errs <- err
				return
			}
			ls[i] = l
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Open: %v", err)
	}
	for _, l := range ls {
		t.Cleanup(func() { l.Close() })
	}
	testConcurrent(t, ls[:])
}

func testConcurrent(t *testing.T, ls []*ledger.Ledger) {
	const workers, batches, size = 4, 20, 50
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			l := ls[w%len(ls)]
			got := make([]bool, size)
			for b := range batches {
				batch := entries(fmt.Sprintf("w%d-b%d-", w, b), size, 1)
				batch = append(batch[:size-1], entry("shared", w)) // a user every worker writes
				if err := l.Lookup(ctx, batch, got); err != nil {
					errs <- err
					return
				}
				if n := count(got[:size-1]); n != 0 {
					errs <- fmt.Errorf("worker %d: %d new users unchanged", w, n)
					return
				}
				if err := l.Commit(ctx, batch); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range workers {
		for b := range batches {
			batch := entries(fmt.Sprintf("w%d-b%d-", w, b), size-1, 1)
			for _, l := range ls {
				if n := count(unchanged(t, l, batch)); n != size-1 {
					t.Fatalf("worker %d batch %d: %d of %d unchanged", w, b, n, size-1)
				}
			}
		}
	}
	// The shared user holds one worker's last write, the same for all.
	shared := make([]ledger.Entry, workers)
	for w := range shared {
		shared[w] = entry("shared", w)
	}
	for _, l := range ls {
		if n := count(unchanged(t, l, shared)); n != 1 {
			t.Errorf("shared user: %d versions unchanged, want exactly 1", n)
		}
	}
}
func TestFileCancelled(t *testing.T) {
	l := open(t, filepath.Join(t.TempDir(), "ledger.db"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Lookup(ctx, entries("u", 3, 1), make([]bool, 3)); !errors.Is(err, context.Canceled) {
		t.Errorf("Lookup with a cancelled context: %v, want context.Canceled", err)
	}
	if err := l.Commit(ctx, entries("u", 3, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit with a cancelled context: %v, want context.Canceled", err)
	}
	if n := count(unchanged(t, l, entries("u", 3, 1))); n != 0 {
		t.Errorf("a cancelled Commit recorded %d entries", n)
	}
}
