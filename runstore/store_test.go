package runstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/segloop/segloop/runstore"
)

func open(t *testing.T, path string) *runstore.Store {
	t.Helper()
	st, err := runstore.Open(context.Background(), path, runstore.Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestOpenCreates0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.db")
	st := open(t, path)
	mode, err := st.Mode()
	if err != nil || mode != 0o600 {
		t.Fatalf("mode = %04o, %v; want 0600", mode, err)
	}
	// The write-ahead log holds the same data: it must be as private.
	up, _ := st.NewUpload(context.Background(), 1)
	up.Add(context.Background(), 0, runstore.Item{Index: 0, Line: 1, Data: []byte(`{"id":"u"}`)})
	if _, err := up.Commit(context.Background(), runstore.New{RunKey: "k"}, "secret-key"); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if fi, err := os.Stat(path + suffix); err == nil && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %04o; want no access for others", suffix, fi.Mode().Perm())
		}
	}
}

func TestOpenRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("precious notes, not a database\n"), 0o644)
	other := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite", other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE t (x); INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	otherBefore, _ := os.ReadFile(other)
	for _, tc := range []struct {
		name, path string
		before     []byte
	}{
		{"text file", text, []byte("precious notes, not a database\n")},
		{"another application's SQLite", other, otherBefore},
		{"directory", dir, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runstore.Open(context.Background(), tc.path, runstore.Options{})
			if !errors.Is(err, runstore.ErrNotStore) {
				t.Fatalf("Open = %v; want ErrNotStore", err)
			}
			if tc.before != nil {
				after, _ := os.ReadFile(tc.path)
				if string(after) != string(tc.before) {
					t.Fatal("the file was changed")
				}
			}
		})
	}
}

func TestOpenLocksEveryName(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "runs.db")
	open(t, path)
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, link} {
		if _, err := runstore.Open(context.Background(), p, runstore.Options{}); !errors.Is(err, runstore.ErrLocked) {
			t.Errorf("second Open(%s) = %v; want ErrLocked", p, err)
		}
	}
}

func TestOpenAcceptsEmptyFileAndReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.db")
	os.WriteFile(path, nil, 0o600)
	st, err := runstore.Open(context.Background(), path, runstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	run := commit(t, st, 3, "")
	st.Close()
	st = open(t, path)
	got, err := st.Get(context.Background(), run.ID)
	if err != nil || got.Items != 3 || got.Status != runstore.Queued {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
}

func TestOpenWarnsOfWideMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.db")
	st := open(t, path)
	st.Close()
	os.Chmod(path, 0o644)
	var warned string
	st, err := runstore.Open(context.Background(), path, runstore.Options{Warn: func(m string) { warned = m }})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if !strings.Contains(warned, "0644") {
		t.Fatalf("warning = %q; want the mode named", warned)
	}
}

// commit stores a run of n items (index i, line i+2) in 4 parts, item i
// in part i%4.
func commit(t *testing.T, st *runstore.Store, n int, writeKey string) runstore.Run {
	t.Helper()
	ctx := context.Background()
	up, err := st.NewUpload(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := up.Add(ctx, i%4, runstore.Item{Index: int64(i), Line: i + 2, Data: fmt.Appendf(nil, `{"id":"u%d"}`, i)}); err != nil {
			t.Fatal(err)
		}
	}
	run, err := up.Commit(ctx, runstore.New{RunKey: "key", Destination: "dest", Spec: []byte(`{"format":"ndjson"}`)}, writeKey)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func TestUploadAbortedLeavesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.db")
	st := open(t, path)
	ctx := context.Background()
	up, _ := st.NewUpload(ctx, 2)
	for i := range 10000 { // more than a chunk: some are written
		up.Add(ctx, i%2, runstore.Item{Index: int64(i), Line: i + 1, Data: []byte(`{}`)})
	}
	if _, err := st.Get(ctx, up.ID()); !errors.Is(err, runstore.ErrNotFound) {
		t.Fatalf("an upload under way is visible: %v", err)
	}
	// A crash mid-upload: the next Open deletes it.
	st.Close()
	st = open(t, path)
	if runs, _ := st.List(ctx, "", 0, 10); len(runs) != 0 {
		t.Fatalf("runs after reopen: %d; want 0", len(runs))
	}
}

// A chunk is written while the next items are added: a write that fails
// fails the upload's Commit, and nothing of it is left.
func TestUploadWriteErrorFailsCommit(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "runs.db"))
	ctx := context.Background()
	up, _ := st.NewUpload(ctx, 1)
	gone, cancel := context.WithCancel(ctx)
	cancel()
	for i := range runstore.DefaultChunkItems + 10 { // the first chunk's write gets gone
		c := ctx
		if i == runstore.DefaultChunkItems-1 {
			c = gone
		}
		up.Add(c, 0, runstore.Item{Index: int64(i), Line: i + 1, Data: []byte(`{}`)})
	}
	if _, err := up.Commit(ctx, runstore.New{RunKey: "k"}, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit after a failed chunk write = %v; want context.Canceled", err)
	}
	if err := up.Abort(); err != nil {
		t.Fatal(err)
	}
	if runs, _ := st.List(ctx, "", 0, 10); len(runs) != 0 {
		t.Fatalf("runs after a failed upload: %d; want 0", len(runs))
	}
}

func TestSecretOverwrittenInFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.db")
	st, err := runstore.Open(context.Background(), path, runstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const key = "wk-4f1c9e2b7d0a6358-unique"
	run := commit(t, st, 1, key)
	finishAll(t, st, run, "ok")
	st.Close()
	for _, p := range []string{path, path + "-wal"} {
		data, _ := os.ReadFile(p)
		if strings.Contains(string(data), key) {
			t.Errorf("%s still holds the write key after the run finished", filepath.Base(p))
		}
	}
}

// finishAll claims every part of run and records status for each pending
// item, then marks the parts done.
func finishAll(t *testing.T, st *runstore.Store, run runstore.Run, status string) runstore.Run {
	t.Helper()
	ctx := context.Background()
	var last runstore.Run
	for part := range run.Parts {
		l, err := st.Claim(ctx, runstore.PartRef{Run: run.Seq, Part: part}, "test", time.Minute)
		if errors.Is(err, runstore.ErrStale) {
			continue // a part without items: done from the start
		}
		if err != nil {
			t.Fatalf("Claim part %d: %v", part, err)
		}
		for no := l.Next; no < l.Chunks; no++ {
			items, _, err := l.Pending(ctx, no)
			if err != nil {
				t.Fatal(err)
			}
			var rs []runstore.Result
			for _, it := range items {
				rs = append(rs, runstore.Result{Index: it.Index, Status: status, Line: fmt.Appendf(nil, "{\"index\":%d}\n", it.Index)})
			}
			if err := l.Record(ctx, no, rs); err != nil {
				t.Fatal(err)
			}
		}
		if last, _, err = l.Done(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return last
}
