package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segloop/segloop/internal/testwait"
	"github.com/segloop/segloop/segment/segmenttest"
)

// These tests run the real binary as a child process, to send it real
// signals (SIGINT, SIGKILL) and check what it leaves behind.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// segloopBinary builds the command once per test process (with the race
// detector when the tests have it) and returns its path.
func segloopBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "segloop-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "segloop")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// child is a running segloop process.
type child struct {
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
}

// syncBuffer is a bytes.Buffer the child writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	return startChildWith(t, nil, args...)
}

// startChildWith is startChild with setup applied to the command before it
// starts (to give it another stdin or stdout).
func startChildWith(t *testing.T, setup func(*exec.Cmd), args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(segloopBinary(t), args...)}
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	c.cmd.Env = append(os.Environ(), "SEGMENT_WRITE_KEY="+testWriteKey)
	if setup != nil {
		setup(c.cmd)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	})
	return c
}

// wait waits for the child to exit and returns its exit code (-1 when a
// signal killed it).
func (c *child) wait(t *testing.T) int {
	t.Helper()
	err := c.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	for _, out := range []string{c.stdout.String(), c.stderr.String()} {
		if strings.Contains(out, testWriteKey) {
			t.Fatalf("the write key appears in the child's output:\n%s", out)
		}
	}
	return c.cmd.ProcessState.ExitCode()
}

// patience is how long a test waits for an event before it calls it lost
// (see testwait.Patience).
func patience(t *testing.T) time.Duration { return testwait.Patience(t) }

// waitFor polls cond until it holds, failing the test after patience(t).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience(t))
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// summaryItems reads the item count from the text summary on stderr.
func summaryItems(t *testing.T, stderr string) int {
	t.Helper()
	m := regexp.MustCompile(`segloop: (\d+) items in`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no summary in stderr:\n%s", stderr)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func readResults(t *testing.T, path string) []resultLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseResults(t, string(data))
}

func TestProcessSIGINT(t *testing.T) {
	srv := newServer(t, segmenttest.Options{Latency: 20 * time.Millisecond})
	file := writeFile(t, "users.csv", genCSV(20000))
	results := filepath.Join(t.TempDir(), "results.ndjson")
	c := startChild(t, "import", "--endpoint", srv.URL, "--batch", "10", "--concurrency", "4", "--results", results, file)
	waitFor(t, "requests", func() bool { return srv.Stats().Requests >= 8 })
	c.cmd.Process.Signal(syscall.SIGINT)
	if code := c.wait(t); code != exitInterrupted {
		t.Fatalf("exit code %d, want 130; stderr:\n%s", code, c.stderr.String())
	}
	lines := readResults(t, results)
	if read := summaryItems(t, c.stderr.String()); len(lines) != read || read == 0 || read == 20000 {
		t.Fatalf("%d result lines for %d items read (of 20000)", len(lines), read)
	}
	delivered := srv.Delivered()
	ok := 0
	for _, l := range lines {
		if l.Status == "ok" {
			ok++
			if delivered[l.MessageID] == 0 {
				t.Fatalf("result %+v says ok, the server never got it", l)
			}
		}
	}
	if ok != len(delivered) {
		t.Fatalf("%d results ok, %d messageIds delivered", ok, len(delivered))
	}
}

func TestProcessSecondSIGINTQuitsAtOnce(t *testing.T) {
	// The requests in flight are never answered, nor time out, within the
	// test's time: only the second SIGINT can end the process.
	srv := newServer(t, segmenttest.Options{Latency: time.Hour})
	file := writeFile(t, "users.csv", genCSV(100))
	ck := filepath.Join(t.TempDir(), "run.ckpt")
	c := startChild(t, "import", "--endpoint", srv.URL, "--batch", "10", "--timeout", "1h", "--checkpoint", ck, "--results", os.DevNull, file)
	waitFor(t, "a request in flight", func() bool { return srv.Stats().Requests > 0 })
	c.cmd.Process.Signal(syscall.SIGINT)
	waitFor(t, "the first signal's notice", func() bool { return strings.Contains(c.stderr.String(), "interrupt again") })
	code, took := interruptAndWait(t, c)
	if code != exitInterrupted {
		t.Fatalf("exit code %d, want 130; stderr:\n%s", code, c.stderr.String())
	}
	t.Logf("%v after the second SIGINT", took.Round(time.Millisecond))
	// The checkpoint on disk is consistent: the next run opens it.
	r := runCLI(t, context.Background(), nil, "import", "--dry-run", "--quiet", "--endpoint", srv.URL, "--checkpoint", ck, file)
	if r.code != exitOK {
		t.Fatalf("dry run on the checkpoint left behind: exit %d\n%s", r.code, r.stderr)
	}
}

// TestProcessKillAndResume kills the import with SIGKILL at random moments,
// resumes it from its checkpoint each time, and checks that in the end every
// row was delivered, none under two different messageIds, and that what was
// sent twice is no more than what can be in flight at a kill: concurrency ×
// batch items per kill.
func TestProcessKillAndResume(t *testing.T) {
	rows, kills, batch, concurrency := 6000, 3, 20, 4
	if os.Getenv("SEGLOOP_SOAK") != "" {
		rows, kills = 50000, 10
	}
	srv := newServer(t, segmenttest.Options{Latency: 3 * time.Millisecond})
	file := writeFile(t, "users.csv", genCSV(rows))
	dir := t.TempDir()
	ck := filepath.Join(dir, "run.ckpt")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	args := func(i int) []string {
		return []string{"import", "--endpoint", srv.URL, "--batch", strconv.Itoa(batch), "--concurrency", strconv.Itoa(concurrency),
			"--rate", "40", "--quiet", "--checkpoint", ck, "--results", filepath.Join(dir, fmt.Sprintf("results-%d.ndjson", i)), file}
	}
	perRun := int64(rows / batch / (kills + 2))
	for i := range kills {
		before := srv.Stats().Requests
		c := startChild(t, args(i)...)
		after := before + 1 + rng.Int64N(perRun)
		waitFor(t, "requests before the kill", func() bool { return srv.Stats().Requests >= after || c.cmd.ProcessState != nil })
		c.cmd.Process.Kill()
		c.wait(t)
		t.Logf("kill %d after %d requests (server has %d unique events, %d duplicates)",
			i+1, srv.Stats().Requests-before, srv.Stats().Unique, srv.Stats().Duplicates)
	}
	c := startChild(t, args(kills)...)
	if code := c.wait(t); code != exitOK {
		t.Fatalf("the final run exited %d:\n%s", code, c.stderr.String())
	}
	lines := readResults(t, filepath.Join(dir, fmt.Sprintf("results-%d.ndjson", kills)))
	if len(lines) != rows {
		t.Fatalf("the final run wrote %d results for %d rows", len(lines), rows)
	}
	st := byStatus(lines)
	if st["ok"]+st["skipped"] != rows || st["skipped"] == 0 {
		t.Fatalf("final results %v; want every row ok or skipped, some skipped", st)
	}

	// Count: every user delivered, each under exactly one messageId.
	ids := map[string]map[string]bool{}
	for _, e := range srv.Events() {
		if ids[e.UserID] == nil {
			ids[e.UserID] = map[string]bool{}
		}
		ids[e.UserID][e.MessageID] = true
	}
	for i := range rows {
		user := fmt.Sprintf("u%d", i)
		switch n := len(ids[user]); {
		case n == 0:
			t.Fatalf("%s was never delivered", user)
		case n > 1:
			t.Fatalf("%s was delivered under %d different messageIds", user, n)
		}
	}
	stats := srv.Stats()
	t.Logf("%d rows, %d kills: %d events delivered, %d unique, %d duplicates (same messageId), 0 under two messageIds",
		rows, kills, stats.Events, stats.Unique, stats.Duplicates)
	if limit := int64(kills * concurrency * batch); stats.Duplicates > limit {
		t.Fatalf("%d duplicate deliveries after %d kills; at most %d (kills × concurrency × batch) may be in flight", stats.Duplicates, kills, limit)
	}
}

func TestProcessFaults(t *testing.T) {
	rows := 2000
	if os.Getenv("SEGLOOP_SOAK") != "" {
		rows = 100000
	}
	srv := newServer(t, segmenttest.Options{FailRate: 0.10, ResetRate: 0.05, Rate: 200, Burst: 10, Seed: 42,
		Grace: 300 * time.Millisecond}) // see TestImportRateLimited
	file := writeFile(t, "users.csv", genCSV(rows))
	results := filepath.Join(t.TempDir(), "results.ndjson")
	c := startChild(t, "import", "--endpoint", srv.URL, "--batch", "10", "--concurrency", "8", "--rate", "1000",
		"--max-attempts", "10", "--results", results, file)
	if code := c.wait(t); code != exitOK {
		t.Fatalf("exit code %d:\n%s", code, c.stderr.String())
	}
	lines := readResults(t, results)
	if len(lines) != rows || byStatus(lines)["ok"] != rows {
		t.Fatalf("results %v for %d rows; want all ok", byStatus(lines), rows)
	}
	st := srv.Stats()
	if int(st.Unique) != rows {
		t.Fatalf("server recorded %d unique messageIds for %d rows", st.Unique, rows)
	}
	users := map[string]bool{}
	for _, e := range srv.Events() {
		users[e.UserID] = true
	}
	for i := range rows {
		if !users[fmt.Sprintf("u%d", i)] {
			t.Fatalf("u%d was never delivered", i)
		}
	}
	if st.Failed == 0 || st.Resets == 0 || st.Throttled == 0 {
		t.Fatalf("faults were not injected: %+v", st)
	}
	if st.EarlyRequests != 0 {
		t.Fatalf("%d requests inside a Retry-After window", st.EarlyRequests)
	}
	t.Logf("%d rows: %d requests, %d 503s, %d resets, %d 429s; delivered %d unique, %d duplicates",
		rows, st.Requests, st.Failed, st.Resets, st.Throttled, st.Unique, st.Duplicates)
	sc := bufio.NewScanner(strings.NewReader(c.stderr.String()))
	for sc.Scan() {
		t.Log(sc.Text())
	}
}

// TestProcessSIGINTWithStalledStdin: a pipe whose writer goes quiet must not
// hold up an interrupt (cron: psql ... | segloop import -).
func TestProcessSIGINTWithStalledStdin(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	cmd := exec.Command(segloopBinary(t), "import", "--endpoint", srv.URL, "--format", "csv", "--batch", "1", "-")
	cmd.Env = append(os.Environ(), "SEGMENT_WRITE_KEY="+testWriteKey)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	in.Write([]byte(genCSV(3))) // then the writer stalls, pipe open
	waitFor(t, "the rows delivered", func() bool { return srv.Stats().Unique == 3 })
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(patience(t)):
		cmd.Process.Kill()
		t.Fatalf("still running after SIGINT with stdin stalled; stderr:\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit code %d, want 130; stderr:\n%s", code, stderr.String())
	}
	if got := byStatus(parseResults(t, stdout.String())); got["ok"] != 3 {
		t.Fatalf("results %v, want the 3 rows ok", got)
	}
}
