package testserver

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RedisOptions configures a Redis server. The zero value is a server without
// a password.
type RedisOptions struct {
	Password string // requirepass; "" = none
}

// RedisServer is a redis-server child process on 127.0.0.1, without
// persistence. It is stopped when the test that started it ends.
type RedisServer struct {
	// Addr is host:port; URL is redis://[:password@]host:port/0.
	Addr, URL string

	opts RedisOptions
	port int
	dir  string
	proc child
}

// Redis starts a redis-server for t (skipped when redis-server is missing,
// failed under CI=true).
func Redis(t testing.TB, opts RedisOptions) *RedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		unavailable(t, "redis-server not found (Debian package redis-server)")
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	r := &RedisServer{opts: opts, port: port, dir: t.TempDir()}
	r.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	r.URL = "redis://" + r.Addr + "/0"
	if opts.Password != "" {
		r.URL = "redis://:" + opts.Password + "@" + r.Addr + "/0"
	}
	if err := r.start(); err != nil {
		t.Fatalf("testserver: starting redis-server: %v", err)
	}
	t.Cleanup(r.Stop)
	return r
}

func (r *RedisServer) start() error {
	args := []string{
		"--port", itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--daemonize", "no", "--protected-mode", "no",
	}
	if r.opts.Password != "" {
		args = append(args, "--requirepass", r.opts.Password)
	}
	if err := r.proc.start(filepath.Join(r.dir, "redis.log"), nil, "redis-server", args...); err != nil {
		return err
	}
	if err := waitFor(&r.proc, 10*time.Second, r.ping); err != nil {
		log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
		r.proc.stop(syscall.SIGKILL)
		return fmt.Errorf("%v; log: %s", err, log)
	}
	return nil
}

// ping sends PING (after AUTH, with a password) and expects +PONG.
func (r *RedisServer) ping() error {
	conn, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	br := bufio.NewReader(conn)
	if r.opts.Password != "" {
		fmt.Fprintf(conn, "AUTH %s\r\n", r.opts.Password)
		if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
			return fmt.Errorf("AUTH: %q %v", line, err)
		}
	}
	fmt.Fprint(conn, "PING\r\n")
	line, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// Stop stops the server (its data is lost: no persistence). Stopping a
// stopped server does nothing.
func (r *RedisServer) Stop() { r.proc.stop(syscall.SIGTERM) }

// Kill stops the server at once with SIGKILL.
func (r *RedisServer) Kill() { r.proc.stop(syscall.SIGKILL) }

// Restart starts a stopped server again on the same port, empty.
func (r *RedisServer) Restart(t testing.TB) {
	t.Helper()
	r.Stop()
	if err := r.start(); err != nil {
		t.Fatalf("testserver: restarting redis-server: %v", err)
	}
}
