package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/segment/segmenttest"
)

// noSecret fails t if secret appears in any of the outputs (text, or files
// by path).
func noSecret(t *testing.T, secret string, texts map[string]string, files ...string) {
	t.Helper()
	if len(secret) < 8 {
		t.Fatalf("the secret %q is too short to be looked for", secret)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts[filepath.Base(f)] = string(data)
	}
	for name, text := range texts {
		if strings.Contains(text, secret) {
			t.Fatalf("the database password appears in %s:\n%s", name, text)
		}
	}
}

// usersTable creates a table of n users of the usual column types: every
// 1000th has an invalid email, every third a NULL note.
func usersTable(t *testing.T, url string, n int) {
	t.Helper()
	testserver.MustExec(t, url, `CREATE TABLE users (id int PRIMARY KEY, email text, active bool, seats int,
		profile jsonb, created timestamptz, price numeric(12,2), note text)`,
		fmt.Sprintf(`INSERT INTO users SELECT i,
			CASE WHEN i %% 1000 = 0 THEN 'not-an-email' ELSE 'u' || i || '@example.com' END,
			i %% 2 = 0, i %% 50, jsonb_build_object('tier', 'gold', 'n', i),
			to_timestamp(1704067200 + i), i / 100.0, CASE WHEN i %% 3 = 0 THEN NULL ELSE 'n' || i END
			FROM generate_series(1, %d) i`, n))
}

// TestImportPostgres: the rows of a real PostgreSQL query reach Segment with
// their types; the failed rows go to a JSON Lines file that re-runs; the
// password is in no output.
func TestImportPostgres(t *testing.T) {
	url, password := testserver.SharedPostgres(t)
	const n = 3000
	usersTable(t, url, n)
	dir := t.TempDir()
	results, failed, ck := filepath.Join(dir, "results.ndjson"), filepath.Join(dir, "failed.ndjson"), filepath.Join(dir, "run.ckpt")
	srv := newServer(t, segmenttest.Options{})
	r := runCLI(t, context.Background(), nil, "import", "--endpoint", srv.URL, "--write-key", testWriteKey, "--log-format", "json",
		"--batch", "200", "--results", results, "--failed", failed, "--checkpoint", ck,
		"--query", "SELECT * FROM users", "--key", "id", url)
	if r.code != exitIncomplete {
		t.Fatalf("exit %d, want 1 (three invalid emails)\n%s", r.code, r.stderr)
	}
	noSecret(t, password, map[string]string{"stdout": r.stdout, "stderr": r.stderr}, results, failed, ck)
	lines := readResults(t, results)
	if got := byStatus(lines); len(lines) != n || got["ok"] != n-3 || got["invalid"] != 3 {
		t.Fatalf("%d results %v, want %d ok and 3 invalid", len(lines), got, n-3)
	}
	for _, l := range lines {
		if l.Line != int(l.Index)+1 || l.UserID != fmt.Sprint(l.Index+1) {
			t.Fatalf("result %+v: not in --key order", l)
		}
	}
	traits := traitsOf(t, srv)
	u7 := traits["7"]
	if u7["active"] != false || u7["seats"] != json.Number("7") || u7["price"] != json.Number("0.07") ||
		u7["created"] != "2024-01-01T00:00:07.000000Z" || u7["note"] != "n7" || fmt.Sprint(u7["profile"]) != "map[n:7 tier:gold]" {
		t.Fatalf("row 7's traits lost their types: %#v", u7)
	}
	if _, ok := traits["9"]["note"]; ok {
		t.Fatalf("a NULL reached Segment: %#v", traits["9"])
	}

	data, _ := os.ReadFile(failed)
	fixed := filepath.Join(dir, "fixed.ndjson")
	os.WriteFile(fixed, bytes.ReplaceAll(data, []byte("not-an-email"), []byte("fixed@example.com")), 0o600)
	again := runCLI(t, context.Background(), nil, importArgs(srv.URL, fixed)...)
	if again.code != exitOK || len(parseResults(t, again.stdout)) != 3 {
		t.Fatalf("re-run of the failed rows: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}
	if u1000 := traitsOf(t, srv)["1000"]; u1000["email"] != "fixed@example.com" || u1000["seats"] != json.Number("0") || u1000["price"] != json.Number("10.00") {
		t.Fatalf("the re-run lost the types: %#v", u1000)
	}

	t.Run("the same query resumes from the checkpoint", func(t *testing.T) {
		r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--checkpoint", ck, "--query", "SELECT * FROM users", "--key", "id", url)...)
		if got := byStatus(parseResults(t, r.stdout)); r.code != exitIncomplete || got["skipped"] != n-3 || got["invalid"] != 3 {
			t.Fatalf("exit %d, results %v: want the delivered rows skipped\n%s", r.code, got, r.stderr)
		}
	})
	t.Run("another query is refused by the checkpoint", func(t *testing.T) {
		r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--checkpoint", ck, "--query", "SELECT * FROM users WHERE id > 5", "--key", "id", url)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "another input or mapping") {
			t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
		}
		noSecret(t, password, map[string]string{"stderr": r.stderr})
	})
}

// TestImportPostgresResume: a run over an ordered query, interrupted, resumes
// from its checkpoint: delivered rows are skipped, the others sent under the
// messageIds of the first run, every row delivered once.
func TestImportPostgresResume(t *testing.T) {
	url, password := testserver.SharedPostgres(t)
	const n = 2000
	testserver.MustExec(t, url, "CREATE TABLE users (id int PRIMARY KEY, email text)",
		fmt.Sprintf("INSERT INTO users SELECT i, 'u' || i || '@example.com' FROM generate_series(1, %d) i", n))
	ck := filepath.Join(t.TempDir(), "run.ckpt")
	query := "SELECT id AS user_id, email FROM users ORDER BY id"

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	inner := segmenttest.NewHandler(segmenttest.Options{WriteKeys: []string{testWriteKey}, KeepEvents: true})
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 5 {
			cancel(errInterrupted) // as the first SIGINT does
		}
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	first := runCLI(t, ctx, nil, importArgs(srv.URL, "--batch", "20", "--concurrency", "2", "--checkpoint", ck, "--query", query, url)...)
	if first.code != exitInterrupted {
		t.Fatalf("first run: exit %d, want 130\n%s", first.code, first.stderr)
	}
	firstIDs := map[int64]string{}
	for _, l := range parseResults(t, first.stdout) {
		firstIDs[l.Index] = l.MessageID
	}
	if len(firstIDs) == 0 || len(firstIDs) >= n {
		t.Fatalf("the first run has %d results; want it stopped early", len(firstIDs))
	}

	again := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--batch", "20", "--checkpoint", ck, "--query", query, url)...)
	if again.code != exitOK {
		t.Fatalf("resumed run: exit %d\n%s", again.code, again.stderr)
	}
	noSecret(t, password, map[string]string{"first": first.stderr, "again": again.stderr}, ck)
	lines := parseResults(t, again.stdout)
	got := byStatus(lines)
	if len(lines) != n || got["skipped"] == 0 || got["skipped"]+got["ok"] != n {
		t.Fatalf("resumed run: %d results %v, want %d skipped or ok", len(lines), got, n)
	}
	for _, l := range lines {
		if id, ok := firstIDs[l.Index]; ok && id != l.MessageID {
			t.Fatalf("row %d: messageId %s on resume, %s before", l.Index, l.MessageID, id)
		}
	}
	if st := inner.Stats(); st.Unique != n || st.Duplicates != 0 {
		t.Fatalf("the server has %d unique events and %d duplicates; want %d and 0", st.Unique, st.Duplicates, n)
	}
}

// TestImportDatabaseErrors: a refused connection and a query PostgreSQL
// rejects are usage errors (exit 2) in PostgreSQL's words, without the
// password; so are the flags a query needs, and a checkpoint over rows
// without a stable order.
func TestImportDatabaseErrors(t *testing.T) {
	url, password := testserver.SharedPostgres(t)
	testserver.MustExec(t, url, "CREATE TABLE users (id int)")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	sqlite := "sqlite:" + filepath.Join(t.TempDir(), "none.db")
	ck := filepath.Join(t.TempDir(), "run.ckpt")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"connection refused", []string{"--query", "SELECT 1 AS id", "postgres://segloop:" + password + "@" + closed + "/app?sslmode=disable"},
			[]string{"postgres://segloop@" + closed + "/app", "connect", "refused"}},
		{"query error", []string{"--query", "SELECT * FROM nosuch", url}, []string{`relation "nosuch" does not exist`, "42P01"}},
		{"syntax error", []string{"--query", "SELEC 1", url}, []string{`syntax error at or near "SELEC"`}},
		{"no such key", []string{"--query", "SELECT 1 AS id", "--key", "userid", url}, []string{`--key "userid"`, "id"}},
		{"a statement that writes", []string{"--query", "INSERT INTO users VALUES (1) RETURNING id", url}, []string{"read-only transaction"}},
		{"a statement without rows", []string{"--query", "DROP TABLE users", url}, []string{"returns no rows"}},
		{"no query", []string{url}, []string{"--query SQL", "postgres://segloop@"}},
		{"empty query", []string{"--query", " ;", url}, []string{"empty"}},
		{"query file missing", []string{"--query", "@" + filepath.Join(t.TempDir(), "none.sql"), url}, []string{"--query @", "no such file"}},
		{"query without a database", []string{"--query", "SELECT 1", writeFile(t, "u.csv", genCSV(1))}, []string{"--query reads a database"}},
		{"key without a database", []string{"--key", "id", writeFile(t, "u.csv", genCSV(1))}, []string{"--key orders the rows"}},
		{"format with a database", []string{"--format", "csv", "--query", "SELECT 1", url}, []string{"--format does not apply"}},
		{"checkpoint without order", []string{"--checkpoint", ck, "--query", "SELECT * FROM users", url}, []string{"stable row order", "ORDER BY", "--key"}},
		{"failed file named .csv", []string{"--failed", filepath.Join(t.TempDir(), "f.csv"), "--query", "SELECT 1 AS id", url}, []string{"JSON Lines"}},
		{"no sqlite file", []string{"--query", "SELECT 1", sqlite}, []string{sqlite, "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, context.Background(), nil, append([]string{"import", "--dry-run", "--quiet"}, tt.args...)...)
			if r.code != exitUsage {
				t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Fatalf("stderr does not say %q:\n%s", w, r.stderr)
				}
			}
			noSecret(t, password, map[string]string{"stdout": r.stdout, "stderr": r.stderr})
		})
	}
	if _, err := os.Stat(ck); err == nil {
		t.Error("a refused checkpoint was created")
	}
}

// TestImportPostgresLost: a connection lost mid-read aborts the run (exit 3)
// after the results of the rows read, and the error holds no password.
func TestImportPostgresLost(t *testing.T) {
	url, password := testserver.SharedPostgres(t)
	const n = 50_000
	testserver.MustExec(t, url, "CREATE TABLE users (id int PRIMARY KEY, bio text)",
		fmt.Sprintf("INSERT INTO users SELECT i, repeat('x', 300) FROM generate_series(1, %d) i", n))
	inner := segmenttest.NewHandler(segmenttest.Options{WriteKeys: []string{testWriteKey}})
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 3 { // the server ends the query's session
			testserver.MustExec(t, url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
		}
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--rate", "0", "--batch", "10", "--concurrency", "1", "--query", "SELECT id AS user_id, bio FROM users ORDER BY id", url)...)
	if r.code != exitAborted || !strings.Contains(r.stderr, "postgres://segloop@") || !strings.Contains(r.stderr, "read") {
		t.Fatalf("exit %d, want 3 naming the database\n%s", r.code, r.stderr)
	}
	noSecret(t, password, map[string]string{"stdout": r.stdout, "stderr": r.stderr})
	if lines := parseResults(t, r.stdout); len(lines) == 0 || len(lines) >= n || summaryItems(t, r.stderr) != len(lines) {
		t.Fatalf("%d results for %d rows read; want the run stopped early with a result per row read", len(lines), summaryItems(t, r.stderr))
	}
}

// TestImportPostgresInterrupted: an interrupt ends a run whose query is slow
// to start or slow to send its rows: exit 130, a result for every row read.
func TestImportPostgresInterrupted(t *testing.T) {
	url, _ := testserver.SharedPostgres(t)
	active := func(like string) bool {
		conn, err := pgconn.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		res := conn.ExecParams(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1",
			[][]byte{[]byte(like)}, nil, nil, nil).Read()
		return res.Err == nil && len(res.Rows) == 1 && string(res.Rows[0][0]) != "0"
	}
	t.Run("while the query starts", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		done := make(chan cliRun)
		go func() {
			done <- runCLI(t, ctx, nil, "import", "--dry-run", "--quiet", "--query", "SELECT 1 AS id FROM pg_sleep(60)", url)
		}()
		waitFor(t, "the query to run", func() bool { return active("%pg_sleep(60)%") })
		cancel(errInterrupted)
		if r := <-done; r.code != exitInterrupted || !strings.Contains(r.stderr, "interrupted") {
			t.Fatalf("exit %d, want 130\n%s", r.code, r.stderr)
		}
	})
	t.Run("while rows come slowly", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		srv := newServer(t, segmenttest.Options{})
		done := make(chan cliRun)
		go func() {
			// The server sends what fills its 8 KiB buffers, then waits on row 101.
			done <- runCLI(t, ctx, nil, importArgs(srv.URL, "--rate", "0", "--batch", "10", "--query",
				"SELECT i AS id, repeat('x', 1000) AS pad FROM generate_series(1, 1000) i WHERE i <= 100 OR pg_sleep(60) IS NOT NULL", url)...)
		}()
		waitFor(t, "the first rows", func() bool { return srv.Stats().Unique >= 50 })
		cancel(errInterrupted)
		r := <-done
		if r.code != exitInterrupted || !strings.Contains(r.stderr, "interrupted") {
			t.Fatalf("exit %d, want 130\n%s", r.code, r.stderr)
		}
		lines := parseResults(t, r.stdout)
		got := byStatus(lines)
		if len(lines) < 50 || len(lines) > 100 || got["ok"]+got["failed"] != len(lines) || summaryItems(t, r.stderr) != len(lines) {
			t.Fatalf("%d results %v; want one per row read (ok, or failed: not sent)", len(lines), got)
		}
		if got["ok"] != len(srv.Delivered()) {
			t.Fatalf("%d results ok, %d delivered", got["ok"], len(srv.Delivered()))
		}
	})
}
