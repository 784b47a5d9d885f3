package ledger_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/ledger"
)

func TestPostgresRoundTrip(t *testing.T) {
	u, _ := testserver.SharedPostgres(t)
	testRoundTrip(t, u)
}

// TestPostgresShared has two Ledgers (two pools, as two processes or two
// machines would) on one database see each other's commits.
func TestPostgresShared(t *testing.T) {
	u, _ := testserver.SharedPostgres(t)
	a, b := open(t, u), open(t, u)
	first, second := entries("a", 100, 1), entries("b", 100, 1)
	commit(t, a, first)
	if n := count(unchanged(t, b, first)); n != 100 {
		t.Fatalf("b sees %d of a's 100 commits", n)
	}
	commit(t, b, second)
	if n := count(unchanged(t, a, append(first, second...))); n != 200 {
		t.Fatalf("a sees %d of 200 commits", n)
	}
	testConcurrent(t, []*ledger.Ledger{a, b})
}

// TestPostgresConcurrentCreate opens one new database from many pools at
// once: the schema is created once, and every Open succeeds.
func TestPostgresConcurrentCreate(t *testing.T) {
	u, _ := testserver.SharedPostgres(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			l, err := ledger.Open(context.Background(), u, dest)
			if err != nil {
				errs <- err
				return
			}
			errs <- l.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	_, err := ledger.Open(context.Background(), u, "eu.segment.io/wk-other")
	if !errors.Is(err, ledger.ErrDestination) {
		t.Fatalf("Open for another destination: %v, want ErrDestination", err)
	}
	if !strings.Contains(err.Error(), dest) {
		t.Errorf("error %q does not name the ledger's destination", err)
	}
}

// TestPostgresPasswordNeverInErrors provokes errors with URLs that carry a
// password and checks that none shows it.
func TestPostgresPasswordNeverInErrors(t *testing.T) {
	u, password := testserver.SharedPostgres(t)
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(*url.URL)) string {
		c := *parsed
		f(&c)
		return c.String()
	}
	wrongDB := with(func(c *url.URL) { c.Path = "/no_such_database" })
	wrongPassword := with(func(c *url.URL) { c.User = url.UserPassword("segloop", "s3cret-wrong:p@ss") })
	queryPassword := with(func(c *url.URL) {
		c.User = url.User("segloop")
		c.Path = "/no_such_database"
		c.RawQuery += "&password=" + url.QueryEscape(password)
	})
	badPort := strings.Replace(u, "@127.0.0.1:", "@127.0.0.1:notaport", 1)
	tests := []struct{ name, location, secret string }{
		{"wrong database", wrongDB, password},
		{"wrong password", wrongPassword, "s3cret-wrong:p@ss"},
		{"password in the query", queryPassword, password},
		{"unparsable URL", badPort, password},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ledger.Open(context.Background(), tt.location, dest)
			if err == nil {
				t.Fatal("Open: no error")
			}
			for _, s := range []string{tt.secret, url.QueryEscape(tt.secret), url.PathEscape(tt.secret)} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error shows the password: %v", err)
				}
			}
			if !strings.Contains(err.Error(), "postgres") {
				t.Errorf("error does not say which ledger: %v", err)
			}
			t.Logf("%v", err)
		})
	}
	t.Run("after open", func(t *testing.T) {
		l := open(t, u)
		if got := l.Location(); strings.Contains(got, password) || !strings.Contains(got, "127.0.0.1") {
			t.Errorf("Location() = %q", got)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := l.Lookup(ctx, entries("u", 3, 1), make([]bool, 3))
		if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), password) {
			t.Errorf("Lookup with a cancelled context: %v, want context.Canceled", err)
		}
		err = l.Commit(ctx, entries("u", 3, 1))
		if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), password) {
			t.Errorf("Commit with a cancelled context: %v, want context.Canceled", err)
		}
	})
}
