package runstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	up, _ := st.NewUpload(context.Background())
	up.Add(context.Background(), runstore.Item{Index: 0, Line: 1, Data: []byte(`{"id":"u"}`)})
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

// commit stores a run of n items (index i, line i+2).
func commit(t *testing.T, st *runstore.Store, n int, writeKey string) runstore.Run {
	t.Helper()
	ctx := context.Background()
	up, err := st.NewUpload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := up.Add(ctx, runstore.Item{Index: int64(i), Line: i + 2, Data: fmt.Appendf(nil, `{"id":"u%d"}`, i)}); err != nil {
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
	up, _ := st.NewUpload(ctx)
	for i := range 5000 { // more than one batch: some are written
		up.Add(ctx, runstore.Item{Index: int64(i), Line: i + 1, Data: []byte(`{}`)})
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
	if err := up.Abort(); err == nil {
		t.Log("abort after close is an error or a no-op")
	}
}

func TestPendingRecordResults(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "runs.db"))
	ctx := context.Background()
	const n = 2500 // more than a page
	run := commit(t, st, n, "")
	// Results for every third item, one recorded twice (ignored).
	var rs []runstore.Result
	for i := 0; i < n; i += 3 {
		st := "ok"
		if i%2 == 0 {
			st = "failed"
		}
		rs = append(rs, runstore.Result{Index: int64(i), Status: st, Line: fmt.Appendf(nil, "{\"index\":%d}\n", i)})
	}
	if err := st.Record(ctx, run.ID, rs); err != nil {
		t.Fatal(err)
	}
	if err := st.Record(ctx, run.ID, []runstore.Result{{Index: 0, Status: "ok", Line: []byte("{\"again\":0}\n")}}); err != nil {
		t.Fatal(err)
	}
	got, _ := st.Get(ctx, run.ID)
	if got.Counts.Done() != int64(len(rs)) || got.Counts.Failed != int64((len(rs)+1)/2) {
		t.Fatalf("counts %+v; want %d done, %d failed", got.Counts, len(rs), (len(rs)+1)/2)
	}
	p := st.Pending(run.ID)
	var pending []int64
	for {
		it, err := p.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, it.Index)
	}
	if len(pending) != n-len(rs) {
		t.Fatalf("%d pending; want %d", len(pending), n-len(rs))
	}
	for i, idx := range pending {
		if idx%3 == 0 || (i > 0 && idx <= pending[i-1]) {
			t.Fatalf("pending[%d] = %d: done, or out of order", i, idx)
		}
	}
	var lines []string
	st.Results(ctx, run.ID, "failed", 1000, func(_ int64, line []byte) error {
		lines = append(lines, string(line))
		return nil
	})
	if len(lines) == 0 || lines[0] != "{\"index\":1002}\n" {
		t.Fatalf("failed results after 1000 start %q; want index 1002", lines[:min(1, len(lines))])
	}
	if lines0 := lines; strings.Contains(strings.Join(lines0, ""), "again") {
		t.Fatal("a second result replaced the first")
	}
}

func TestRetryKeepsIndexesAndSecretLifetime(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "runs.db"))
	ctx := context.Background()
	run := commit(t, st, 5, "wk-secret")
	if key, ok, _ := st.WriteKey(ctx, run.ID); !ok || key != "wk-secret" {
		t.Fatalf("WriteKey = %q, %v", key, ok)
	}
	st.Start(ctx, run.ID)
	st.Record(ctx, run.ID, []runstore.Result{
		{Index: 0, Status: "ok", Line: []byte("a\n")}, {Index: 1, Status: "failed", Line: []byte("b\n")},
		{Index: 2, Status: "invalid", Line: []byte("c\n")}, {Index: 3, Status: "failed", Line: []byte("d\n")},
		{Index: 4, Status: "ok", Line: []byte("e\n")},
	})
	if err := st.Finish(ctx, run.ID, runstore.CompletedWithFailures, ""); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.WriteKey(ctx, run.ID); ok {
		t.Fatal("the write key outlived the run")
	}
	if err := st.Finish(ctx, run.ID, runstore.Succeeded, ""); !errors.Is(err, runstore.ErrFinished) {
		t.Fatalf("second Finish = %v; want ErrFinished", err)
	}
	retry, err := st.NewRetry(ctx, run.ID, runstore.New{RunKey: run.RunKey, Destination: run.Destination}, "")
	if err != nil {
		t.Fatal(err)
	}
	if retry.Items != 2 || retry.RetryOf != run.ID || retry.Status != runstore.Queued || retry.RunKey != "key" {
		t.Fatalf("retry = %+v", retry)
	}
	p := st.Pending(retry.ID)
	for _, want := range []int64{1, 3} {
		it, err := p.Next(ctx)
		if err != nil || it.Index != want || it.Line != int(want)+2 {
			t.Fatalf("retry item = %+v, %v; want index %d", it, err, want)
		}
	}
	if _, err := st.NewRetry(ctx, "nope", runstore.New{}, ""); !errors.Is(err, runstore.ErrNotFound) {
		t.Fatalf("retry of unknown run = %v", err)
	}
	un, _ := st.Unfinished(ctx)
	if len(un) != 1 || un[0].ID != retry.ID {
		t.Fatalf("unfinished = %v; want the retry only", un)
	}
}

func TestSecretOverwrittenInFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.db")
	st, err := runstore.Open(context.Background(), path, runstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const key = "wk-4f1c9e2b7d0a6358-unique"
	run := commit(t, st, 1, key)
	st.Finish(ctx, run.ID, runstore.Succeeded, "")
	st.Close()
	for _, p := range []string{path, path + "-wal"} {
		data, _ := os.ReadFile(p)
		if strings.Contains(string(data), key) {
			t.Errorf("%s still holds the write key after the run finished", filepath.Base(p))
		}
	}
}
