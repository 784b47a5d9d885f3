package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/segloop/segloop/segment/segmenttest"
)

// sqliteUsers creates an SQLite database of n users and returns its path.
func sqliteUsers(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{
		`CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, vip BOOLEAN, prefs JSON, seen DATETIME)`,
		fmt.Sprintf(`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d)
			INSERT INTO users SELECT i, 'u' || i || '@example.com', i %% 2, '{"lang":"fr","n":' || i || '}',
			datetime(1704067200 + i, 'unixepoch') FROM s`, n),
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return path
}

// TestImportSQLite: the rows of an SQLite query, typed; the database file is
// an input no output may be.
func TestImportSQLite(t *testing.T) {
	const n = 500
	path := sqliteUsers(t, n)
	srv := newServer(t, segmenttest.Options{})
	ck := filepath.Join(t.TempDir(), "run.ckpt")
	query := "SELECT id AS userId, email, vip, prefs, seen FROM users ORDER BY id"
	r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--checkpoint", ck, "--query", query, "sqlite:"+path)...)
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if lines := parseResults(t, r.stdout); len(lines) != n || byStatus(lines)["ok"] != n {
		t.Fatalf("%d results %v, want %d ok", len(lines), byStatus(lines), n)
	}
	u5 := traitsOf(t, srv)["5"]
	if u5["vip"] != true || u5["seen"] != "2024-01-01T00:00:05Z" || fmt.Sprint(u5["prefs"]) != "map[lang:fr n:5]" || u5["prefs"].(map[string]any)["n"] != json.Number("5") {
		t.Fatalf("row 5's traits lost their types: %#v", u5)
	}
	again := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--checkpoint", ck, "--query", query, "sqlite:"+path)...)
	if got := byStatus(parseResults(t, again.stdout)); again.code != exitOK || got["skipped"] != n {
		t.Fatalf("resumed: exit %d, %v; want %d skipped\n%s", again.code, got, n, again.stderr)
	}

	queryFile := writeFile(t, "users.sql", query+";\n")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"results", []string{"--results", path}},
		{"failed", []string{"--failed", path}},
		{"checkpoint", []string{"--checkpoint", path}},
		{"results over the query file", []string{"--results", queryFile}},
	} {
		t.Run("--"+tc.name+" is the database", func(t *testing.T) {
			args := append([]string{"import", "--dry-run", "--quiet", "--query", "@" + queryFile, "sqlite:" + path}, tc.args...)
			r := runCLI(t, context.Background(), nil, args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, "same file") {
				t.Fatalf("exit %d, want 2 (same file)\n%s", r.code, r.stderr)
			}
		})
	}
	if n2 := len(parseResults(t, runCLI(t, context.Background(), nil, "import", "--dry-run", "--quiet", "--query", "@"+queryFile, "sqlite:"+path).stdout)); n2 != n {
		t.Fatalf("the database after the refused runs reads %d rows, want %d", n2, n)
	}
}
