package testserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// PostgresServer is a PostgreSQL server on 127.0.0.1: a child process with
// its own data directory (initdb), or the server named by
// $SEGLOOP_TEST_POSTGRES_URL. Its superuser "segloop" has a random password.
type PostgresServer struct {
	// URL is the superuser's connection URL for the "postgres" database,
	// password included: postgres://segloop:PASSWORD@127.0.0.1:PORT/postgres?sslmode=disable.
	URL string
	// Password is the superuser's password, for tests that check it never
	// reaches any output.
	Password string

	bin      string // directory of initdb, postgres, psql
	dir      string // data directory; "" for an external server
	port     int
	cred     *syscall.Credential // run as this user (postgres refuses root); nil = as is
	proc     child
	external bool
}

// Postgres starts a PostgreSQL server of t's own (skipped when the binaries
// are missing, failed under CI=true): one t may stop and restart. Starting
// one takes a second or two (initdb); tests that only need a database should
// use SharedPostgres.
func Postgres(t testing.TB) *PostgresServer {
	t.Helper()
	p, err := newPostgres()
	if err != nil {
		unavailable(t, "%v", err)
	}
	if err := p.init(); err != nil {
		p.cleanup()
		t.Fatalf("testserver: initdb: %v", err)
	}
	if err := p.start(); err != nil {
		p.cleanup()
		t.Fatalf("testserver: starting postgres: %v", err)
	}
	t.Cleanup(func() { p.Stop(); p.cleanup() })
	return p
}

var shared struct {
	once sync.Once
	srv  *PostgresServer
	err  error
	n    atomic.Int64
}

// SharedPostgres returns the URL of a new, empty database (dropped when t
// ends) on the test binary's shared server: the one named by
// $SEGLOOP_TEST_POSTGRES_URL (a superuser URL, as .ci/run exports), else one
// started on first use and stopped by Main. It also returns that server's
// superuser password, which tests check never reaches any output.
func SharedPostgres(t testing.TB) (url, password string) {
	t.Helper()
	shared.once.Do(func() {
		if u := os.Getenv("SEGLOOP_TEST_POSTGRES_URL"); u != "" {
			bin, _ := postgresBin()
			shared.srv = &PostgresServer{URL: u, bin: bin, external: true, Password: passwordOf(u)}
			return
		}
		p, err := newPostgres()
		if err == nil {
			if err = p.init(); err == nil {
				err = p.start()
			}
		}
		if err != nil {
			p.cleanup()
			shared.err = err
			return
		}
		shared.srv = p
	})
	if shared.err != nil {
		unavailable(t, "shared postgres: %v", shared.err)
	}
	p := shared.srv
	name := fmt.Sprintf("t%d_%d_%s", os.Getpid(), shared.n.Add(1), randomHex(4))
	if err := p.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("testserver: %v", err)
	}
	t.Cleanup(func() { _ = p.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	return p.Database(name), p.Password
}

func stopShared() {
	if p := shared.srv; p != nil && !p.external {
		p.Stop()
		p.cleanup()
	}
}

// Database returns the URL of database name on this server.
func (p *PostgresServer) Database(name string) string {
	base, _, _ := strings.Cut(p.URL, "?")
	i := strings.LastIndex(base, "/")
	u := base[:i+1] + name
	if _, q, ok := strings.Cut(p.URL, "?"); ok {
		u += "?" + q
	}
	return u
}

// Exec runs one SQL statement as the superuser with psql.
func (p *PostgresServer) Exec(sql string) error {
	psql := "psql"
	if p.bin != "" {
		psql = filepath.Join(p.bin, "psql")
	}
	out, err := exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", p.URL, "-c", sql).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql %q: %v: %s", sql, err, strings.ReplaceAll(string(out), p.Password, "[redacted]"))
	}
	return nil
}

// MustExec runs statements, in order, on the database at url (any server's,
// a SharedPostgres one included), failing t at the first error.
func MustExec(t testing.TB, url string, sql ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range sql {
		if _, err := conn.Exec(ctx, s).ReadAll(); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// Stop stops the server (fast shutdown); its data stays for Restart.
func (p *PostgresServer) Stop() { p.proc.stop(syscall.SIGINT) }

// Kill stops the server at once with SIGKILL, as a crash would.
func (p *PostgresServer) Kill() { p.proc.stop(syscall.SIGKILL) }

// Restart starts a stopped server again on the same port and data.
func (p *PostgresServer) Restart(t testing.TB) {
	t.Helper()
	p.Stop()
	if err := p.start(); err != nil {
		t.Fatalf("testserver: restarting postgres: %v", err)
	}
}

// newPostgres finds the binaries, a user to run them as and a free port.
func newPostgres() (*PostgresServer, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	p := &PostgresServer{bin: bin, Password: randomHex(12)}
	if os.Geteuid() == 0 {
		cred, uid, gid, err := unprivileged()
		if err != nil {
			return nil, err
		}
		p.cred = cred
		dir, err := os.MkdirTemp("", "segloop-pg-")
		if err != nil {
			return nil, err
		}
		p.dir = dir
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	} else {
		dir, err := os.MkdirTemp("", "segloop-pg-")
		if err != nil {
			return nil, err
		}
		p.dir = dir
	}
	if p.port, err = freePort(); err != nil {
		return nil, err
	}
	p.URL = fmt.Sprintf("postgres://segloop:%s@127.0.0.1:%d/postgres?sslmode=disable", p.Password, p.port)
	return p, nil
}

// init creates the data directory with initdb: superuser segloop, password
// authentication on loopback only.
func (p *PostgresServer) init() error {
	pwfile := filepath.Join(p.dir, "pw")
	if err := os.WriteFile(pwfile, []byte(p.Password+"\n"), 0o600); err != nil {
		return err
	}
	if p.cred != nil {
		_ = os.Chown(pwfile, int(p.cred.Uid), int(p.cred.Gid))
	}
	cmd := exec.Command(filepath.Join(p.bin, "initdb"), "-D", filepath.Join(p.dir, "data"),
		"-U", "segloop", "--pwfile", pwfile, "--auth", "scram-sha-256", "-E", "UTF8", "--no-sync", "--locale", "C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return os.Remove(pwfile)
}

func (p *PostgresServer) start() error {
	data := filepath.Join(p.dir, "data")
	err := p.proc.start(filepath.Join(p.dir, "postgres.log"), p.cred, filepath.Join(p.bin, "postgres"),
		"-D", data, "-p", itoa(p.port), "-k", p.dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	if err != nil {
		return err
	}
	ready := func() error {
		out, err := exec.Command(filepath.Join(p.bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", itoa(p.port)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("pg_isready: %v %s", err, out)
		}
		return nil
	}
	if err := waitFor(&p.proc, 30*time.Second, ready); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "postgres.log"))
		p.proc.stop(syscall.SIGKILL)
		return fmt.Errorf("%v; log: %s", err, log)
	}
	return nil
}

func (p *PostgresServer) cleanup() {
	if p != nil && p.dir != "" {
		_ = os.RemoveAll(p.dir)
	}
}

// postgresBin returns the directory of the newest installed PostgreSQL's
// binaries ($SEGLOOP_PG_BIN, else /usr/lib/postgresql/N/bin).
func postgresBin() (string, error) {
	if d := os.Getenv("SEGLOOP_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) < versionOf(dirs[j]) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or $SEGLOOP_PG_BIN")
}

func versionOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// unprivileged returns the credential of the user postgres runs as when the
// tests run as root: "postgres" if it exists, else "nobody".
func unprivileged() (*syscall.Credential, int, int, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, gid, nil
	}
	return nil, 0, 0, fmt.Errorf("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")
}

// passwordOf returns the password in a postgres:// URL, or "".
func passwordOf(u string) string {
	rest, ok := strings.CutPrefix(u, "postgres://")
	if !ok {
		rest, _ = strings.CutPrefix(u, "postgresql://")
	}
	creds, _, ok := strings.Cut(rest, "@")
	if !ok {
		return ""
	}
	_, pw, _ := strings.Cut(creds, ":")
	return pw
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
