// Package testserver starts real Redis and PostgreSQL servers on loopback for
// the project's tests: redis-server and postgres child processes listening on
// 127.0.0.1 and a free port, in a temporary directory, stopped when the test
// (or, for shared instances, the test binary) ends.
//
// A test that needs a server calls Redis or Postgres (its own instance, which
// it may stop and restart) or SharedPostgres (one instance per test binary, or
// the one named by $SEGLOOP_TEST_POSTGRES_URL, with a fresh database per
// call). When the server's binaries cannot be found the test is skipped, except
// under CI=true, where it fails: CI must never skip silently.
//
// Packages that use SharedPostgres call Main from their TestMain, so the
// shared instance is stopped when the tests end:
//
//	func TestMain(m *testing.M) { testserver.Main(m) }
//
// Every child process also gets SIGKILL if the test binary dies (Linux
// Pdeathsig), so a crashed test leaves no server behind.
package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Main runs the tests of m and then stops the servers shared by them; it
// does not return.
func Main(m *testing.M) {
	code := m.Run()
	stopShared()
	os.Exit(code)
}

// unavailable skips t, or fails it under CI=true, because a server cannot run.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("testserver: %s (CI=true: .ci/run must install it)", msg)
	}
	t.Skipf("testserver: %s", msg)
}

// child is a server process started by this package.
type child struct {
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
	log  *os.File
}

// start runs name with args, its output appended to logPath. cred, if not
// nil, runs it as another user (postgres refuses to run as root).
func (c *child) start(logPath string, cred *syscall.Credential, name string, args ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := cmd.Start(); err != nil {
		log.Close()
		return err
	}
	c.cmd, c.log, c.done = cmd, log, make(chan struct{})
	go func(done chan struct{}) { // owned: stop waits for done
		_ = cmd.Wait()
		close(done)
	}(c.done)
	return nil
}

// stop sends sig and waits for the process to exit (SIGKILL after 10s).
func (c *child) stop(sig syscall.Signal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	c.log.Close()
	c.cmd = nil
}

// exited reports whether the process has exited on its own.
func (c *child) exited() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return true
	}
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// waitFor polls ready every 20ms until it returns nil, the child exits or
// timeout passes.
func waitFor(c *child, timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if c.exited() {
			return fmt.Errorf("server exited: %v", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
