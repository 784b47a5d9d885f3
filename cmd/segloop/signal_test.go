package main

import (
	"fmt"
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
	"golang.org/x/sys/unix"
)

// bytesRead is how many bytes the child has read, from /proc/PID/io.
func bytesRead(c *child) int64 {
	data, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(c.cmd.Process.Pid), "io"))
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// TestProcessSIGINTReadingDevZero: an input that never ends and never blocks
// (a character device) must not hold up the first interrupt.
func TestProcessSIGINTReadingDevZero(t *testing.T) {
	for _, tt := range []struct{ name, format string }{{"file", "csv"}, {"file", "ndjson"}, {"stdin", "csv"}} {
		t.Run(tt.name+" "+tt.format, func(t *testing.T) {
			args := []string{"import", "--dry-run", "--quiet", "--format", tt.format}
			setup := func(*exec.Cmd) {}
			if tt.name == "file" {
				args = append(args, "/dev/zero")
			} else {
				zero, err := os.Open("/dev/zero")
				if err != nil {
					t.Fatal(err)
				}
				defer zero.Close()
				args = append(args, "-")
				setup = func(cmd *exec.Cmd) { cmd.Stdin = zero }
			}
			c := startChildWith(t, setup, args...)
			waitFor(t, "the child reading", func() bool { return bytesRead(c) > 50<<20 || c.cmd.ProcessState != nil })
			code, took := interruptAndWait(t, c)
			if code != exitInterrupted && code != exitAborted {
				t.Fatalf("exit code %d, want 130 (or 3: the input is no CSV); stderr:\n%s", code, c.stderr.String())
			}
			t.Logf("exit %d, %v after SIGINT", code, took.Round(time.Millisecond))
		})
	}
}

// openPTY returns a pseudo-terminal: its controller side, which plays the
// person typing, and the terminal side, which the child reads as its stdin.
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	go io.Copy(io.Discard, ptmx) // the terminal's echo
	return ptmx, tty
}

// TestProcessSIGINTWithTerminalStdin: someone typing rows into a terminal,
// then pausing, must be able to interrupt; the rows typed have their results.
func TestProcessSIGINTWithTerminalStdin(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	ptmx, tty := openPTY(t)
	c := startChildWith(t, func(cmd *exec.Cmd) { cmd.Stdin = tty },
		"import", "--endpoint", srv.URL, "--format", "csv", "--batch", "1", "--quiet", "-")
	if _, err := io.WriteString(ptmx, genCSV(3)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the typed rows delivered", func() bool { return srv.Stats().Unique == 3 || c.cmd.ProcessState != nil })
	code, took := interruptAndWait(t, c)
	if code != exitInterrupted {
		t.Fatalf("exit code %d, want 130; stderr:\n%s", code, c.stderr.String())
	}
	if got := byStatus(parseResults(t, c.stdout.String())); got["ok"] != 3 {
		t.Fatalf("results %v, want the 3 rows ok", got)
	}
	t.Logf("%v after SIGINT", took.Round(time.Millisecond))
	// The terminal is left as it was found: blocking, so the shell can read it.
	if fl, err := unix.FcntlInt(tty.Fd(), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK != 0 {
		t.Fatalf("the terminal was left non-blocking (flags %#x, %v)", fl, err)
	}
}

// TestProcessSIGINTWithFIFOInput: a FIFO input that nobody writes yet, or
// whose writer stalls, must not hold up the first interrupt.
func TestProcessSIGINTWithFIFOInput(t *testing.T) {
	t.Run("no writer", func(t *testing.T) {
		fifo := mkfifo(t, "in.csv")
		c := startChild(t, "import", "--dry-run", "--quiet", fifo)
		waitFor(t, "the child opening its input", func() bool { return blockedIn(c, "wait_for_partner") != "" || c.cmd.ProcessState != nil })
		code, took := interruptAndWait(t, c)
		if code != exitInterrupted {
			t.Fatalf("exit code %d, want 130; stderr:\n%s", code, c.stderr.String())
		}
		t.Logf("%v after SIGINT", took.Round(time.Millisecond))
	})
	t.Run("stalled writer", func(t *testing.T) {
		srv := newServer(t, segmenttest.Options{})
		fifo := mkfifo(t, "in.csv")
		c := startChild(t, "import", "--endpoint", srv.URL, "--batch", "1", "--quiet", fifo)
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // meets the child's open
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		io.WriteString(w, genCSV(3))
		waitFor(t, "the rows delivered", func() bool { return srv.Stats().Unique == 3 || c.cmd.ProcessState != nil })
		code, took := interruptAndWait(t, c)
		if code != exitInterrupted {
			t.Fatalf("exit code %d, want 130; stderr:\n%s", code, c.stderr.String())
		}
		if got := byStatus(parseResults(t, c.stdout.String())); got["ok"] != 3 {
			t.Fatalf("results %v, want the 3 rows ok", got)
		}
		t.Logf("%v after SIGINT", took.Round(time.Millisecond))
	})
}

// TestProcessSecondSIGINTWritesFinishedResults: the second interrupt quits at
// once, but first writes the results of the items that had finished (and
// makes the checkpoint hold them), so nothing finished is lost or re-sent.
func TestProcessSecondSIGINTWritesFinishedResults(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	// The fourth request is never answered, nor times out, within the test's
	// time: only the second SIGINT can end the process.
	srv.Script(segmenttest.Response{}, segmenttest.Response{}, segmenttest.Response{}, segmenttest.Response{Delay: time.Hour})
	dir := t.TempDir()
	results, ck := filepath.Join(dir, "results.ndjson"), filepath.Join(dir, "run.ckpt")
	file := writeFile(t, "users.csv", genCSV(100))
	c := startChild(t, "import", "--endpoint", srv.URL, "--batch", "10", "--concurrency", "1", "--timeout", "1h",
		"--results", results, "--checkpoint", ck, file)
	waitFor(t, "the fourth request in flight", func() bool { return srv.Stats().Requests >= 4 || c.cmd.ProcessState != nil })
	c.cmd.Process.Signal(syscall.SIGINT)
	waitFor(t, "the first signal's notice", func() bool {
		return strings.Contains(c.stderr.String(), "interrupt again") || c.cmd.ProcessState != nil
	})
	code, took := interruptAndWait(t, c)
	if code != exitInterrupted {
		t.Fatalf("exit code %d, want 130; stderr:\n%s", code, c.stderr.String())
	}
	lines := readResults(t, results)
	if got := byStatus(lines); got["ok"] != 30 || len(lines) != 30 {
		t.Fatalf("results %v, want the 30 items of the three answered requests ok; stderr:\n%s", got, c.stderr.String())
	}
	t.Logf("%v after the second SIGINT; stderr:\n%s", took.Round(time.Millisecond), c.stderr.String())

	// The checkpoint holds them too: the next run skips exactly those 30.
	r := startChild(t, "import", "--endpoint", srv.URL, "--quiet", "--checkpoint", ck, file)
	if code := r.wait(t); code != exitOK {
		t.Fatalf("resume: exit %d\n%s", code, r.stderr.String())
	}
	if got := byStatus(parseResults(t, r.stdout.String())); got["skipped"] != 30 || got["ok"] != 70 {
		t.Fatalf("resume: %v, want 30 skipped and 70 ok", got)
	}
}
