package sqlsource

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestHasOrderBy(t *testing.T) {
	cases := []struct {
		text string
		want bool
	}{
		{"SELECT * FROM users ORDER BY id", true},
		{"select * from users order   by id desc;", true},
		{"SELECT * FROM users\nORDER\n-- a comment\nBY id", true},
		{"SELECT * FROM users /* ORDER BY id */", false},
		{"SELECT * FROM users -- ORDER BY id", false},
		{"SELECT 'ORDER BY' AS s FROM users", false},
		{`SELECT "ORDER BY" FROM users`, false},
		{"SELECT `order by` FROM users", false},
		{"SELECT [order by] FROM users", false},
		{"SELECT $$ ORDER BY $$ FROM users", false},
		{"SELECT $q$ it's ORDER BY $q$ FROM users", false},
		{"SELECT E'it\\'s ORDER BY' FROM users", false},
		{"SELECT 'it''s' FROM users ORDER BY id", true},
		{"SELECT * FROM (SELECT * FROM users ORDER BY id) u", false},
		{"SELECT row_number() OVER (ORDER BY id) FROM users", false},
		{"WITH u AS (SELECT * FROM users ORDER BY id) SELECT * FROM u", false},
		{"WITH u AS (SELECT * FROM users) SELECT * FROM u ORDER BY id", true},
		{"SELECT a FROM x UNION ALL SELECT a FROM y ORDER BY a", true},
		{"SELECT id AS order_by FROM users", false},
		{"SELECT id FROM users ORDER_BY", false},
		{"SELECT id FROM border by", false},
		{"SELECT $1 FROM users ORDER BY id", true},
		{"SELECT /* /* nested */ ORDER BY */ 1", false},
		{"SELECT ( ORDER BY", false},
		{"SELECT ) ORDER BY x", true}, // unbalanced: depth stays at 0
		{"SELECT 'unclosed ORDER BY", false},
	}
	for _, c := range cases {
		if got := HasOrderBy(c.text); got != c.want {
			t.Errorf("HasOrderBy(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}

func TestStatement(t *testing.T) {
	cases := []struct{ text, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT 1;", "SELECT 1"},
		{"SELECT 1 ; ;\n-- the end\n", "SELECT 1"},
		{"SELECT 1 -- trailing comment", "SELECT 1"},
		{"SELECT ';' /* x */ ;", "SELECT ';'"},
		{"  ;  ", ""},
	}
	for _, c := range cases {
		if got := statement(c.text); got != c.want {
			t.Errorf("statement(%q) = %q, want %q", c.text, got, c.want)
		}
	}
	got := orderedBy("SELECT * FROM t -- all\n;", `we"ird`)
	if want := "SELECT * FROM (\nSELECT * FROM t\n) AS segloop_query ORDER BY \"we\"\"ird\""; got != want {
		t.Errorf("orderedBy = %q, want %q", got, want)
	}
}

func TestRedact(t *testing.T) {
	cases := []struct{ url, want string }{
		{"postgres://u:secret@host:5432/db?sslmode=disable", "postgres://u@host:5432/db?sslmode=disable"},
		{"postgresql://u:p%40ss@host/db", "postgresql://u@host/db"},
		{"postgres://u@host/db?password=secret&sslmode=require", "postgres://u@host/db?sslmode=require"},
		{"postgres://u@host/db?PassWord=secret", "postgres://u@host/db"},
		{"postgres://host/db", "postgres://host/db"},
		{"postgres://u:secret@h1:5432,h2:5433/db", "postgres://u@h1:5432,h2:5433/db"},
		{"postgres://u:pa@ss@host/db", "postgres://u@host/db"},
	}
	for _, c := range cases {
		if got := redact(c.url); got != c.want {
			t.Errorf("redact(%q) = %q, want %q", c.url, got, c.want)
		}
		for _, s := range secretsOf(c.url) {
			if strings.Contains(redact(c.url), s) {
				t.Errorf("redact(%q) holds the secret %q", c.url, s)
			}
		}
	}
	if got := secretsOf("postgres://u:p%40ss@host/db?password=x%2By"); strings.Join(got, " ") != "p%40ss p@ss x%2By x+y" {
		t.Errorf("secretsOf = %q", got)
	}
}

func TestQueryFile(t *testing.T) {
	cases := []struct {
		url, file string
		ok        bool
	}{
		{"sqlite:app.db", "app.db", true},
		{"SQLite:///abs/app.db", "/abs/app.db", true},
		{"postgres://u:p@h/db", "", false},
	}
	for _, c := range cases {
		if file, ok := (Query{URL: c.url}).File(); file != c.file || ok != c.ok {
			t.Errorf("File(%q) = %q, %v; want %q, %v", c.url, file, ok, c.file, c.ok)
		}
	}
}

func FuzzHasOrderBy(f *testing.F) {
	for _, s := range []string{"SELECT 1 ORDER BY a", "SELECT '(' ORDER BY 1", "$a$ $a$", "/* /* */", "E'\\'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		HasOrderBy(text)
		if s := statement(text); len(s) > len(text) || text[:len(s)] != s {
			t.Fatalf("statement(%q) = %q, not a prefix", text, s)
		}
	})
}

func FuzzNumeric(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0, 2, 0x04, 0xd2})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := numericValue(b)
		if err != nil {
			return
		}
		if n, ok := v.(json.Number); ok && !json.Valid([]byte(n)) {
			t.Fatalf("numericValue(%x) = %q: not a JSON number", b, n)
		}
	})
}
