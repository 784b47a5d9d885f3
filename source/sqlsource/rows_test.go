package sqlsource_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/source"
	"github.com/segloop/segloop/source/sqlsource"
)

// The same generated users, as a PostgreSQL table, an SQLite table, a
// Parquet file and a CSV file, for the memory checks and benchmarks: what
// each reader plus the default mapping costs per row.

// benchUser is one generated row.
type benchUser struct {
	ID      int64     `parquet:"id"`
	Email   string    `parquet:"email"`
	Name    string    `parquet:"name"`
	Plan    string    `parquet:"plan"`
	Seats   int32     `parquet:"seats"`
	Active  bool      `parquet:"active"`
	Created time.Time `parquet:"created,timestamp(millisecond)"`
}

func makeUser(i int) benchUser {
	return benchUser{
		ID: int64(i), Email: "u" + strconv.Itoa(i) + "@example.com", Name: "Love, lace", Plan: "pro",
		Seats: int32(i % 50), Active: i%2 == 0, Created: time.UnixMilli(1704067200000 + int64(i)*1000).UTC(),
	}
}

// pgUsers creates table users of n rows and returns the query reading it.
func pgUsers(t testing.TB, url string, n int) sqlsource.Query {
	t.Helper()
	testserver.MustExec(t, url, `CREATE TABLE users (id bigint PRIMARY KEY, email text, name text, plan text, seats int,
		active bool, created timestamptz)`,
		fmt.Sprintf(`INSERT INTO users SELECT i, 'u' || i || '@example.com', 'Love, lace', 'pro', i %% 50, i %% 2 = 0,
			to_timestamp(1704067200 + i) FROM generate_series(0, %d) i`, n-1))
	return sqlsource.Query{URL: url, Text: "SELECT * FROM users ORDER BY id"}
}

func sqliteUsers(t testing.TB, n int) sqlsource.Query {
	t.Helper()
	path := sqliteDB(t, `CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT, plan TEXT, seats INTEGER,
		active BOOLEAN, created DATETIME)`,
		fmt.Sprintf(`WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < %d)
		INSERT INTO users SELECT i, 'u' || i || '@example.com', 'Love, lace', 'pro', i %% 50, i %% 2 = 0,
			datetime(1704067200 + i, 'unixepoch') FROM s`, n-1))
	return sqlsource.Query{URL: "sqlite:" + path, Text: "SELECT * FROM users ORDER BY id"}
}

// parquetUsers writes n users in row groups of 100k rows.
func parquetUsers(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := parquet.NewGenericWriter[benchUser](f)
	batch := make([]benchUser, 0, 10_000)
	for i := range n {
		batch = append(batch, makeUser(i))
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := w.Write(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
		if (i+1)%100_000 == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func csvUsers(n int) []byte {
	var b bytes.Buffer
	b.WriteString("id,email,name,plan,seats,active,created\n")
	for i := range n {
		u := makeUser(i)
		fmt.Fprintf(&b, "%d,%s,\"%s\",%s,%d,%t,%s\n", u.ID, u.Email, u.Name, u.Plan, u.Seats, u.Active, u.Created.Format(time.RFC3339))
	}
	return b.Bytes()
}

// openInput opens one of the inputs above, named kind:where.
func openInput(ctx context.Context, kind, where string) (source.Reader, func(), error) {
	switch kind {
	case "postgres", "sqlite":
		q := sqlsource.Query{URL: where, Text: "SELECT * FROM users ORDER BY id"}
		r, err := sqlsource.Open(ctx, q, source.Options{})
		if err != nil {
			return nil, nil, err
		}
		return r, func() { r.Close() }, nil
	case "parquet", "csv":
		f, err := os.Open(where)
		if err != nil {
			return nil, nil, err
		}
		format := source.CSV
		if kind == "parquet" {
			format = source.Parquet
		}
		r, err := source.Open(f, format, source.Options{})
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		return r, func() { f.Close() }, nil
	}
	return nil, nil, fmt.Errorf("unknown input kind %q", kind)
}

// mapAll reads every record of r through the default mapping and returns
// how many there were.
func mapAll(r source.Reader) (int, error) {
	m := mapping.Default()
	n := 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if rec.Err != nil {
			return n, rec.Err
		}
		id, err := m.Apply(mapping.Env{Item: rec.Fields, Index: rec.Index})
		if err != nil {
			return n, err
		}
		if id.UserID != strconv.Itoa(n) {
			return n, fmt.Errorf("row %d: userId %q", n, id.UserID)
		}
		n++
	}
}
