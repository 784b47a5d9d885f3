package sqlsource_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/segloop/segloop/source"
	"github.com/segloop/segloop/source/sqlsource"
)

// sqliteDB creates an SQLite file in t's temp dir and runs statements in it.
func sqliteDB(t testing.TB, stmts ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return path
}

func TestSQLiteTypes(t *testing.T) {
	const n = 2000
	path := sqliteDB(t,
		`CREATE TABLE users (id INTEGER PRIMARY KEY, score REAL, name TEXT, avatar BLOB, active BOOLEAN,
			profile JSON, created DATETIME, birthday DATE, note TEXT, loose)`,
		`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < `+strconv.Itoa(n)+`)
		 INSERT INTO users SELECT i, i / 4.0, 'user ' || i, x'00ff', i % 2, '{"n": ' || i || ', "big": 12345678901234567890}',
			'2024-05-01 12:30:15', '1990-12-31', CASE WHEN i % 3 = 0 THEN NULL ELSE 'n' || i END, i FROM s`)
	q := sqlsource.Query{URL: "sqlite:" + path, Text: "SELECT * FROM users ORDER BY id"}
	recs, err := readAll(t, open(t, q))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n {
		t.Fatalf("got %d rows, want %d", len(recs), n)
	}
	for k, rec := range recs {
		i := k + 1
		f, is := rec.Fields, strconv.Itoa(i)
		if rec.Err != nil {
			t.Fatalf("row %d: %v", i, rec.Err)
		}
		score, _ := json.Marshal(float64(i) / 4)
		if f["id"] != json.Number(is) || f["score"] != json.Number(score) || f["name"] != "user "+is ||
			f["avatar"] != "AP8=" || f["active"] != (i%2 == 1) || f["created"] != "2024-05-01T12:30:15Z" ||
			f["birthday"] != "1990-12-31" || f["loose"] != json.Number(is) {
			t.Fatalf("row %d: %#v", i, f)
		}
		if p, ok := f["profile"].(map[string]any); !ok || p["n"] != json.Number(is) || p["big"] != json.Number("12345678901234567890") {
			t.Fatalf("row %d: profile %#v", i, f["profile"])
		}
		if note, has := f["note"]; has != (i%3 != 0) || has && note != "n"+is {
			t.Fatalf("row %d: note %#v", i, note)
		}
	}
	if d := q.Description(); !strings.Contains(d, "sqlite:"+path) || !strings.Contains(d, q.Text) {
		t.Errorf("Description %q", d)
	}
}

func TestSQLiteKeyAndErrors(t *testing.T) {
	path := sqliteDB(t, `CREATE TABLE t (id INTEGER, v TEXT)`,
		`INSERT INTO t VALUES (3, 'c'), (1, 'a'), (2, 'b'), (4, CAST(x'ff' AS TEXT))`)
	recs, err := readAll(t, open(t, sqlsource.Query{URL: "sqlite://" + path, Text: "SELECT * FROM t;", Key: "id"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("got %d rows", len(recs))
	}
	for i, rec := range recs[:3] {
		if rec.Err != nil || rec.Fields["id"] != json.Number(strconv.Itoa(i+1)) {
			t.Errorf("row %d: %v %v", i, rec.Fields, rec.Err)
		}
	}
	if !errors.Is(recs[3].Err, source.ErrInvalidUTF8) || !strings.Contains(recs[3].Err.Error(), `line 4: column "v": invalid UTF-8`) {
		t.Errorf("row 4: %v", recs[3].Err)
	}

	cases := []struct {
		name string
		q    sqlsource.Query
		op   string
		msg  string
		is   error
	}{
		{"missing file", sqlsource.Query{URL: "sqlite:" + path + ".nope", Text: "SELECT 1"}, "connect", "no such file", os.ErrNotExist},
		{"syntax error", sqlsource.Query{URL: "sqlite:" + path, Text: "SELEC 1"}, "query", `near "SELEC": syntax error`, nil},
		{"write refused", sqlsource.Query{URL: "sqlite:" + path, Text: "INSERT INTO t VALUES (9, 'z') RETURNING id"}, "query", "readonly", nil},
		{"no key", sqlsource.Query{URL: "sqlite:" + path, Text: "SELECT * FROM t", Key: "nope"}, "query", `--key "nope": no such column`, sqlsource.ErrNoColumn},
		{"duplicate", sqlsource.Query{URL: "sqlite:" + path, Text: "SELECT id, id FROM t"}, "query", "duplicate column name", sqlsource.ErrDuplicateColumn},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := sqlsource.Open(context.Background(), c.q, source.Options{})
			if err == nil { // SQLite may report some faults at the first step
				defer r.Close()
				_, err = r.Next()
			}
			var se *sqlsource.Error
			if !errors.As(err, &se) || se.Op != c.op && !(c.op == "query" && se.Op == "read") || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v, want an *Error of op %q containing %q", err, c.op, c.msg)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("%v does not wrap %v", err, c.is)
			}
			t.Log(err)
		})
	}
	// The file was never written to.
	recs, err = readAll(t, open(t, sqlsource.Query{URL: "sqlite:" + path, Text: "SELECT count(*) AS n FROM t"}))
	if err != nil || len(recs) != 1 || recs[0].Fields["n"] != json.Number("4") {
		t.Errorf("after the refused write: %v %v", recs, err)
	}
}

func TestQueryHelpers(t *testing.T) {
	for arg, want := range map[string]bool{
		"postgres://u@h/db": true, "POSTGRESQL://h/db": true, "sqlite:users.db": true, "users.csv": false,
		"-": false, "postgres.csv": false, "sqlite.db": false,
	} {
		if got := sqlsource.IsURL(arg); got != want {
			t.Errorf("IsURL(%q) = %v", arg, got)
		}
	}
	file := filepath.Join(t.TempDir(), "q.sql")
	if err := os.WriteFile(file, []byte("SELECT 1 AS one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if text, err := sqlsource.LoadText("@" + file); err != nil || text != "SELECT 1 AS one\n" {
		t.Errorf("LoadText(@file) = %q, %v", text, err)
	}
	if text, err := sqlsource.LoadText("SELECT 2"); err != nil || text != "SELECT 2" {
		t.Errorf("LoadText(SQL) = %q, %v", text, err)
	}
	for _, bad := range []string{"", "  ;", "@" + file + ".missing"} {
		if _, err := sqlsource.LoadText(bad); err == nil {
			t.Errorf("LoadText(%q): no error", bad)
		}
	}
	q := sqlsource.Query{URL: "postgres://u:hunter22@h:5432/db?password=hunter22&sslmode=disable", Text: "SELECT 1", Key: "id"}
	if d := q.Description(); strings.Contains(d, "hunter22") || !strings.Contains(d, "postgres://u@h:5432/db?sslmode=disable") ||
		!strings.Contains(d, `key "id"`) || !strings.HasSuffix(d, "\nSELECT 1") {
		t.Errorf("Description = %q", d)
	}
	if !strings.Contains(sqlsource.ErrUnordered.Error(), "--key") {
		t.Errorf("ErrUnordered does not say how to fix it: %v", sqlsource.ErrUnordered)
	}
}
