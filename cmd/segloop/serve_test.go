package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/segment/segmenttest"
)

func TestServeUsage(t *testing.T) {
	ctx := context.Background()
	t.Setenv("SEGLOOP_REDIS_URL", "redis://:pw-9d2f7c@redis.internal:6379/0")
	for _, args := range [][]string{{"serve", "-h"}, {"serve", "--help"}, {"help", "serve"}} {
		r := runCLI(t, ctx, nil, args...)
		if r.code != exitOK || r.stderr != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		for _, want := range []string{"usage: segloop serve", "Listening and access:", "Storage:", "Parts and replicas:", "Destination:",
			"Pace and retries:", "Diff mode:", "Logging:", "Examples:", "  --token-file FILE ", "  --concurrency auto|N ", "  --diff DIR|postgres://", "(default 127.0.0.1:8844)"} {
			if !strings.Contains(r.stdout, want) {
				t.Fatalf("%v: no %q in\n%s", args, want, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "Other flags") || strings.Contains(r.stdout, "pw-9d2f7c") {
			t.Fatalf("%v: a flag in no group, or the Redis password shown:\n%s", args, r.stdout)
		}
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		(&serveFlags{}).register(fs, func(string) string { return "" })
		fs.VisitAll(func(f *flag.Flag) {
			if n := len(regexp.MustCompile(`(?m)^  --`+regexp.QuoteMeta(f.Name)+`( |$)`).FindAllString(r.stdout, -1)); n != 1 {
				t.Errorf("--%s listed %d times", f.Name, n)
			}
			if !strings.HasPrefix(f.Usage, "`") && f.Name != "redis" && !isBoolFlag(f) {
				t.Errorf("--%s: its usage does not begin with its value's name", f.Name)
			}
		})
	}
	if r := runCLI(t, ctx, nil, "help"); !strings.Contains(r.stdout, "diff mode:            --diff") {
		t.Fatalf("segloop help: serve's groups not in\n%s", r.stdout)
	}
	t.Setenv("SEGLOOP_REDIS_URL", "") // the cases below name their own
	dir := t.TempDir()
	short := writeFile(t, "short.token", "abc\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"postgres unreachable", []string{"--db", "postgres://segloop:pw-9d2f7c@127.0.0.1:1/segloop"}, "--db postgres://segloop:xxxxx@127.0.0.1:1/segloop"},
		{"redis unreachable", []string{"--redis", "redis://:pw-9d2f7c@127.0.0.1:1/0"}, "--redis redis://:xxxxx@127.0.0.1:1/0"},
		{"beyond loopback without token", []string{"--addr", "0.0.0.0:0"}, "beyond loopback"},
		{"short token", []string{"--token-file", short}, "at least 16"},
		{"missing token file", []string{"--token-file", filepath.Join(dir, "none")}, "--token-file"},
		{"token file is the db", []string{"--token-file", short, "--db", short}, "same file"},
		{"sandbox and endpoint", []string{"--sandbox", "--endpoint", "http://127.0.0.1:1"}, "--sandbox"},
		{"bad concurrency", []string{"--concurrency", "lots"}, "concurrency"},
		{"concurrency too high", []string{"--concurrency", "5000"}, "--concurrency must be auto or between 1 and 1000"},
		{"bad batch", []string{"--batch", "0"}, "--batch"},
		{"argument", []string{"extra"}, "unexpected argument"},
		{"unknown flag", []string{"--bogus"}, "run 'segloop serve -h' for the flags"},
		{"foreign db", []string{"--db", short}, "not a segloop database"},
		{"diff postgres unreachable", []string{"--diff", "postgres://segloop:pw-9d2f7c@127.0.0.1:1/segloop"}, "--diff postgres://segloop:xxxxx@127.0.0.1:1/segloop"},
		{"diff a file", []string{"--diff", short}, "not a directory"},
		{"diff a directory under replicas", []string{"--db", "postgres://segloop@127.0.0.1:1/segloop", "--diff", t.TempDir()}, "give --diff a postgres:// URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A --db of the case's replaces this one (not ./segloop.db).
			r := runCLI(t, ctx, nil, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "runs.db")}, tc.args...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, "pw-9d2f7c") {
				t.Fatalf("code %d; want 2 naming %q:\n%s", r.code, tc.want, r.stderr)
			}
		})
	}
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// serveChild is a segloop serve child process and its URL.
type serveChild struct {
	*child
	url string
}

func startServe(t *testing.T, args ...string) *serveChild {
	t.Helper()
	c := startChild(t, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	var url string
	waitFor(t, "the server's URL", func() bool {
		line, _, ok := strings.Cut(c.stdout.String(), "\n")
		url = line
		return ok
	})
	return &serveChild{child: c, url: url}
}

func (s *serveChild) post(t *testing.T, path, ctype string, body io.Reader) map[string]any {
	t.Helper()
	res, err := http.Post(s.url+path, ctype, body)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil || res.StatusCode != 202 {
		t.Fatalf("POST %s = %d, %v %v", path, res.StatusCode, v, err)
	}
	return v
}

func (s *serveChild) run(t *testing.T, id string) (status string, done int64) {
	t.Helper()
	res, err := http.Get(s.url + "/v1/runs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v struct {
		Status string
		Counts map[string]int64
	}
	json.NewDecoder(res.Body).Decode(&v)
	for _, n := range v.Counts {
		done += n
	}
	return v.Status, done
}

func (s *serveChild) results(t *testing.T, id string) []resultLine {
	t.Helper()
	res, err := http.Get(s.url + "/v1/runs/" + id + "/results")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return parseResults(t, b.String())
}

func ndjsonUsers(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "{\"id\":\"u%05d\",\"plan\":\"p%d\"}\n", i, i%3)
	}
	return b.String()
}

// checkDelivery checks a finished run of n items: every item has exactly
// one result, ok, and segmenttest received exactly the results' messageIds,
// one per item (a resent item came under its first messageId).
func checkDelivery(t *testing.T, srv *segmenttest.Server, results []resultLine, n int) {
	t.Helper()
	if len(results) != n {
		t.Fatalf("%d results; want %d", len(results), n)
	}
	ids := map[string]bool{}
	for _, r := range results {
		if r.Status != "ok" || ids[r.MessageID] {
			t.Fatalf("result %+v: not ok, or a messageId seen twice", r)
		}
		ids[r.MessageID] = true
	}
	delivered := srv.Delivered()
	for id := range delivered {
		if !ids[id] {
			t.Fatalf("segmenttest received messageId %s, which is no item's", id)
		}
	}
	if st := srv.Stats(); len(delivered) != n || st.Unique != int64(n) {
		t.Fatalf("segmenttest saw %d messageIds (%d unique); want %d", len(delivered), st.Unique, n)
	}
}

// TestServeKilledAndRestarted SIGKILLs the server mid-run and starts it
// again on the same database: the run completes, each item with exactly one
// result, and no item went out under two messageIds.
func TestServeKilledAndRestarted(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	db := filepath.Join(t.TempDir(), "runs.db")
	args := []string{"--db", db, "--endpoint", srv.URL, "--rate", "300", "--batch", "10", "--concurrency", "4"}
	const n = 5000
	s := startServe(t, args...)
	run := s.post(t, "/v1/runs?runKey=crash-1", "application/x-ndjson", strings.NewReader(ndjsonUsers(n)))
	id := run["id"].(string)
	waitFor(t, "a part of the run delivered", func() bool { return srv.Stats().Events >= 1000 })
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.wait(t)
	if srv.Stats().Events >= n {
		t.Fatal("the run had finished before the kill")
	}
	if fi, err := os.Stat(db); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("database mode %v, %v; want 0600", fi.Mode(), err)
	}

	s = startServe(t, args...)
	waitFor(t, "the resumed run to finish", func() bool {
		st, _ := s.run(t, id)
		return st == "succeeded"
	})
	checkDelivery(t, srv, s.results(t, id), n)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM; want 0\n%s", code, s.stderr.String())
	}
}

// TestServeSIGTERMMidRun stops the server gracefully mid-run: it exits 0,
// with no item failed by the shutdown, and the next start completes the run.
func TestServeSIGTERMMidRun(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	db := filepath.Join(t.TempDir(), "runs.db")
	args := []string{"--db", db, "--endpoint", srv.URL, "--rate", "200", "--batch", "5"}
	const n = 2000
	s := startServe(t, args...)
	id := s.post(t, "/v1/runs", "application/x-ndjson", strings.NewReader(ndjsonUsers(n)))["id"].(string)
	waitFor(t, "a part of the run delivered", func() bool { return srv.Stats().Events >= 200 })
	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	if code := s.wait(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM; want 0\n%s", code, s.stderr.String())
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start))

	s = startServe(t, args...)
	_, done := s.run(t, id)
	if done >= n {
		t.Fatal("the run had finished before SIGTERM")
	}
	for _, r := range s.results(t, id) {
		if r.Status != "ok" {
			t.Fatalf("after a graceful stop, item %d is %s: %s", r.Index, r.Status, r.Error)
		}
	}
	waitFor(t, "the resumed run to finish", func() bool {
		st, _ := s.run(t, id)
		return st == "succeeded"
	})
	checkDelivery(t, srv, s.results(t, id), n)
}

func jsonDecode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

// TestServeSandbox: serve --sandbox answers an identify call and a run
// without any account or write key.
func TestServeSandbox(t *testing.T) {
	s := startServe(t, "--sandbox", "--db", filepath.Join(t.TempDir(), "runs.db"))
	res, err := http.Post(s.url+"/v1/identify", "application/json", strings.NewReader(`{"userId":"u1","traits":{"plan":"pro"}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `"success":true`) {
		t.Fatalf("identify = %d %s", res.StatusCode, b)
	}
	id := s.post(t, "/v1/runs", "application/x-ndjson", strings.NewReader(ndjsonUsers(20)))["id"].(string)
	waitFor(t, "the sandbox run", func() bool {
		st, _ := s.run(t, id)
		return st == "succeeded" || st == "completed_with_failures"
	})
	if got := len(s.results(t, id)); got != 20 {
		t.Fatalf("%d results; want 20", got)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if code := s.wait(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestServeDiffKilledAndRestarted: a diff run (serve --diff DIR) whose
// server is SIGKILLed mid-run completes after a restart, each item with one
// result, ok or (committed before the kill) unchanged, and each user
// delivered under one messageId. Every item stored ok is in the ledger:
// segloop import --diff, given the destination's ledger file, finds every
// item unchanged (the command and the service share one ledger).
func TestServeDiffKilledAndRestarted(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	dir := t.TempDir()
	ledgers := filepath.Join(dir, "ledgers")
	args := []string{"--db", filepath.Join(dir, "runs.db"), "--diff", ledgers, "--endpoint", srv.URL, "--rate", "150", "--batch", "10", "--concurrency", "4"}
	const n = 3000
	s := startServe(t, args...)
	id := s.post(t, "/v1/runs?diff=true", "application/x-ndjson", strings.NewReader(ndjsonUsers(n)))["id"].(string)
	waitFor(t, "a part of the run delivered", func() bool { return srv.Stats().Events >= 2000 })
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.wait(t)
	if srv.Stats().Events >= n {
		t.Fatal("the run had finished before the kill")
	}
	s = startServe(t, args...)
	waitFor(t, "the resumed run to finish", func() bool {
		st, _ := s.run(t, id)
		return st == "succeeded"
	})
	results := s.results(t, id)
	if len(results) != n {
		t.Fatalf("%d results; want %d", len(results), n)
	}
	delivered := srv.Delivered()
	statuses := map[string]int{}
	for _, r := range results {
		if r.Status != "ok" && r.Status != "unchanged" || r.Status == "ok" && delivered[r.MessageID] == 0 {
			t.Fatalf("result %+v: want ok (delivered) or unchanged", r)
		}
		statuses[r.Status]++
	}
	t.Logf("results after the restart: %v; %d events delivered", statuses, srv.Stats().Events)
	users := map[string]string{}
	for _, ev := range srv.Events() {
		if prev, ok := users[ev.UserID]; ok && prev != ev.MessageID {
			t.Fatalf("user %s delivered under messageIds %s and %s", ev.UserID, prev, ev.MessageID)
		}
		users[ev.UserID] = ev.MessageID
	}
	if st := srv.Stats(); len(users) != n || st.Unique != n {
		t.Fatalf("%d users delivered, %d messageIds; want %d each", len(users), st.Unique, n)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if code := s.wait(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}

	ledger := filepath.Join(ledgers, segloop.LedgerDestination(srv.URL, testWriteKey)+".ledger")
	if files, _ := filepath.Glob(filepath.Join(ledgers, "*")); len(files) != 1 || files[0] != ledger {
		t.Fatalf("ledgers %v; want %s", files, ledger)
	}
	t.Setenv("SEGMENT_WRITE_KEY", testWriteKey)
	requests := srv.Stats().Requests
	r := runCLI(t, context.Background(), nil, "import", "--quiet", "--endpoint", srv.URL, "--diff", ledger, writeFile(t, "users.ndjson", ndjsonUsers(n)))
	if r.code != exitOK {
		t.Fatalf("import --diff: exit %d\n%s", r.code, r.stderr)
	}
	for _, l := range parseResults(t, r.stdout) {
		if l.Status != "unchanged" {
			t.Fatalf("import --diff of the run's items: %+v; want unchanged", l)
		}
	}
	if got := srv.Stats().Requests; got != requests {
		t.Fatalf("import --diff sent %d requests; want 0", got-requests)
	}
}
