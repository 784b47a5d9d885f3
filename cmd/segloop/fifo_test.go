package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segloop/segloop/segment/segmenttest"
)

// mkfifo makes a named pipe in the test's temp dir.
func mkfifo(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// blockedIn reports whether one of the child's threads sleeps in the kernel
// in one of the functions named (/proc/PID/task/*/wchan), and in which: a
// deterministic sign that it is stuck where the test wants it, such as
// opening a FIFO that has no other end (wait_for_partner).
func blockedIn(c *child, funcs ...string) string {
	tasks, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(c.cmd.Process.Pid), "task", "*", "wchan"))
	for _, task := range tasks {
		w, _ := os.ReadFile(task)
		for _, f := range funcs {
			if string(w) == f {
				return f
			}
		}
	}
	return ""
}

// interruptAndWait sends SIGINT and waits, within patience(t), for the child
// to exit; it returns the exit code and how long it took (logged: the
// promise is two seconds, but a loaded CI machine must not fail the test).
func interruptAndWait(t *testing.T, c *child) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	c.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan int, 1)
	go func() { done <- c.wait(t) }()
	bound := patience(t)
	select {
	case code := <-done:
		return code, time.Since(start)
	case <-time.After(bound):
		c.cmd.Process.Kill()
		<-done
		t.Fatalf("still running %v after SIGINT; stderr:\n%s", bound.Round(time.Second), c.stderr.String())
	}
	return 0, 0
}

// TestProcessResultsToFIFO: results go to a FIFO its reader reads as they
// come, and the reader sees the end of them when the run ends.
func TestProcessResultsToFIFO(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	fifo := mkfifo(t, "results")
	got := make(chan []byte, 1)
	go func() {
		f, err := os.Open(fifo) // blocks until segloop opens its end
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		data, _ := io.ReadAll(f)
		got <- data
	}()
	c := startChild(t, "import", "--endpoint", srv.URL, "--quiet", "--results", fifo, writeFile(t, "users.csv", genCSV(3000)))
	if code := c.wait(t); code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", code, c.stderr.String())
	}
	data := <-got
	if lines := parseResults(t, string(data)); len(lines) != 3000 || byStatus(lines)["ok"] != 3000 {
		t.Fatalf("the FIFO's reader got %d results %v, want 3000 ok", len(lines), byStatus(lines))
	}
}

// TestProcessSIGINTWithResultsFIFOWithoutReader: a FIFO output nobody reads
// must not hold up the first interrupt.
func TestProcessSIGINTWithResultsFIFOWithoutReader(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	fifo := mkfifo(t, "results")
	c := startChild(t, "import", "--endpoint", srv.URL, "--quiet", "--results", fifo, writeFile(t, "users.csv", genCSV(3000)))
	// Opening a FIFO without a reader blocks; one opened read-write (as
	// segloop did) does not, but fills up once 800 results are written.
	where := ""
	waitFor(t, "the child stuck on its output", func() bool {
		where = blockedIn(c, "wait_for_partner")
		return where != "" || srv.Stats().Unique >= 800 || c.cmd.ProcessState != nil
	})
	code, took := interruptAndWait(t, c)
	if code != exitInterrupted {
		t.Fatalf("exit code %d, want 130; stderr:\n%s", code, c.stderr.String())
	}
	t.Logf("blocked in %s; ended %v after SIGINT", where, took.Round(time.Millisecond))
}

// TestProcessResultsToDevStdout: --results /dev/stdout writes where stdout
// goes, without truncating it: stdout opened for appending keeps what it had.
func TestProcessResultsToDevStdout(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	input := writeFile(t, "users.csv", genCSV(50))
	t.Run("a pipe", func(t *testing.T) {
		c := startChild(t, "import", "--endpoint", srv.URL, "--quiet", "--results", "/dev/stdout", input)
		if code := c.wait(t); code != exitOK {
			t.Fatalf("exit code %d; stderr:\n%s", code, c.stderr.String())
		}
		if lines := parseResults(t, c.stdout.String()); len(lines) != 50 {
			t.Fatalf("%d results on stdout, want 50", len(lines))
		}
	})
	t.Run("a file opened for appending", func(t *testing.T) {
		log := writeFile(t, "log", "earlier run\n")
		out, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		c := startChildWith(t, func(cmd *exec.Cmd) { cmd.Stdout = out }, "import", "--endpoint", srv.URL, "--quiet", "--results", "/dev/stdout", input)
		if code := c.wait(t); code != exitOK {
			t.Fatalf("exit code %d; stderr:\n%s", code, c.stderr.String())
		}
		data, _ := os.ReadFile(log)
		rest, ok := bytes.CutPrefix(data, []byte("earlier run\n"))
		if !ok {
			t.Fatalf("stdout's file lost what it held: %.200q", data)
		}
		if lines := parseResults(t, string(rest)); len(lines) != 50 {
			t.Fatalf("%d results appended, want 50", len(lines))
		}
	})
}

// TestProcessCheckpointInUseByAnotherName: while one run holds a checkpoint,
// a second run through a hard link or a symlink to it is refused, and the
// checkpoint is left as the first run writes it.
func TestProcessCheckpointInUseByAnotherName(t *testing.T) {
	srv := newServer(t, segmenttest.Options{Latency: time.Minute})
	file := writeFile(t, "users.csv", genCSV(50))
	ck := filepath.Join(t.TempDir(), "run.ckpt")
	c := startChild(t, "import", "--endpoint", srv.URL, "--quiet", "--results", os.DevNull, "--checkpoint", ck, file)
	waitFor(t, "a request in flight", func() bool { return srv.Stats().Requests > 0 || c.cmd.ProcessState != nil })
	dir := t.TempDir()
	hard, sym := filepath.Join(dir, "hard.ckpt"), filepath.Join(dir, "sym.ckpt")
	if err := os.Link(ck, hard); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(ck, sym); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{hard, sym} {
		r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--checkpoint", name, file)...)
		if r.code == exitOK || !strings.Contains(r.stderr, "in use by another run") {
			t.Errorf("--checkpoint %s while the child holds %s: exit %d\n%s", name, ck, r.code, r.stderr)
		}
	}
	c.cmd.Process.Kill()
	c.wait(t)
}
