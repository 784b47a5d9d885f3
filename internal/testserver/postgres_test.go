package testserver_test

import (
	"strings"
	"testing"

	"github.com/segloop/segloop/internal/testserver"
)

func TestMain(m *testing.M) { testserver.Main(m) }

func TestPostgresOwnInstanceRestart(t *testing.T) {
	p := testserver.Postgres(t)
	if err := p.Exec("CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	if err := p.Exec("SELECT 1"); err == nil {
		t.Fatal("a stopped server answered")
	}
	p.Restart(t)
	if err := p.Exec("SELECT n FROM kept"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if !strings.Contains(p.URL, p.Password) || p.Password == "" {
		t.Errorf("URL %q should carry the password", p.URL)
	}
}

func TestSharedPostgresDatabases(t *testing.T) {
	a, pw := testserver.SharedPostgres(t)
	b, _ := testserver.SharedPostgres(t)
	if a == b {
		t.Fatalf("two calls gave the same database %q", a)
	}
	if pw == "" {
		t.Error("no password")
	}
	if !strings.Contains(a, "sslmode=disable") {
		t.Errorf("database URL %q lost its query", a)
	}
}
