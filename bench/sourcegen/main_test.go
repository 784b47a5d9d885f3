package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/source"
	"github.com/segloop/segloop/source/sqlsource"
)

func TestMain(m *testing.M) { testserver.Main(m) }

// usersCSV writes n rows in the generator's form (bench/input.go).
func usersCSV(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(header + "\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "u%07d,ada.lovelace%d@example.com,Ada,Lovelace,team,%d,2025-03-%02dT09:00:00Z\n", i, i, i%500+1, i%28+1)
	}
	p := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// items reads every record of r as a map of its values' text, failing on a
// bad record. signed_up is the instant in RFC 3339 without fractions: a
// typed timestamp keeps its column's precision (".000Z" from a Parquet
// millisecond timestamp, ".000000Z" from timestamptz).
func items(t *testing.T, r source.Reader) []map[string]string {
	t.Helper()
	var out []map[string]string
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil || rec.Err != nil {
			t.Fatalf("record %d: %v, %v", len(out), err, rec.Err)
		}
		m := make(map[string]string)
		for k, v := range rec.Map() {
			m[k] = fmt.Sprint(v)
			if k == "signed_up" {
				at, err := time.Parse(time.RFC3339Nano, m[k])
				if err != nil {
					t.Fatalf("record %d: signed_up: %v", len(out), err)
				}
				m[k] = at.UTC().Format(time.RFC3339)
			}
		}
		out = append(out, m)
	}
}

func openFile(t *testing.T, path string, f source.Format) []map[string]string {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	var in io.Reader = file // Parquet wants the file itself: it seeks
	if f != source.Parquet {
		if in, _, err = source.Decompress(file); err != nil {
			t.Fatal(err)
		}
	}
	r, err := source.Open(in, f, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return items(t, r)
}

func openQuery(t *testing.T, url, query string) []map[string]string {
	t.Helper()
	r, err := sqlsource.Open(context.Background(), sqlsource.Query{URL: url, Text: query}, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return items(t, r)
}

// TestKinds writes each kind from one CSV and reads it back through
// segloop's own readers: the same rows, every field's value the CSV's cell
// (seats a number and signed_up a timestamp where the kind has types).
func TestKinds(t *testing.T) {
	const n = 1234
	in := usersCSV(t, n)
	want := openFile(t, in, source.CSV)
	if len(want) != n {
		t.Fatalf("the CSV has %d rows, want %d", len(want), n)
	}
	dir := t.TempDir()
	const query = "SELECT id, email, first_name, last_name, plan, seats, signed_up FROM "
	cases := []struct {
		kind, out string
		read      func(t *testing.T, out string) []map[string]string
	}{
		{"csv.gz", "users.csv.gz", func(t *testing.T, out string) []map[string]string { return openFile(t, out, source.CSV) }},
		{"ndjson.zst", "users.ndjson.zst", func(t *testing.T, out string) []map[string]string { return openFile(t, out, source.NDJSON) }},
		{"parquet", "users.parquet", func(t *testing.T, out string) []map[string]string { return openFile(t, out, source.Parquet) }},
		{"sqlite", "users.db", func(t *testing.T, out string) []map[string]string { return openQuery(t, "sqlite:"+out, query+"users") }},
		{"postgres", "bench_users", func(t *testing.T, out string) []map[string]string {
			return openQuery(t, os.Getenv(postgresEnv), query+out+" ORDER BY id")
		}},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			out := filepath.Join(dir, c.out)
			if c.kind == "postgres" {
				url, _ := testserver.SharedPostgres(t)
				t.Setenv(postgresEnv, url)
				out = c.out
			}
			if err := run(context.Background(), []string{"-kind", c.kind, "-in", in, "-out", out}); err != nil {
				t.Fatal(err)
			}
			got := c.read(t, out)
			if len(got) != n {
				t.Fatalf("read %d rows, want %d", len(got), n)
			}
			for i := range want {
				if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
					t.Fatalf("row %d:\n got %v\nwant %v", i+1, got[i], want[i])
				}
			}
		})
	}
}

// TestBadInput: a CSV not in the generator's form is refused, naming the
// line, and leaves no file behind.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"header": "id,email\nu1,a@example.com\n",
		"cells":  header + "\nu1,a@example.com,Ada\n",
		"seats":  header + "\nu1,a@example.com,Ada,Lovelace,team,many,2025-01-01T00:00:00Z\n",
		"time":   header + "\nu1,a@example.com,Ada,Lovelace,team,3,yesterday\n",
	} {
		in := filepath.Join(dir, name+".csv")
		if err := os.WriteFile(in, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, kind := range []string{"parquet", "ndjson.zst", "sqlite"} {
			out := filepath.Join(dir, name+"."+kind)
			err := run(context.Background(), []string{"-kind", kind, "-in", in, "-out", out})
			if err == nil || !strings.Contains(err.Error(), "line ") {
				t.Errorf("%s as %s: %v, want an error naming the line", name, kind, err)
			}
			if _, serr := os.Stat(out); serr == nil {
				t.Errorf("%s as %s: %s left behind", name, kind, out)
			}
		}
	}
	if err := run(context.Background(), []string{"-kind", "xml", "-in", filepath.Join(dir, "seats.csv"), "-out", filepath.Join(dir, "x")}); err == nil {
		t.Error("-kind xml: no error")
	}
}
