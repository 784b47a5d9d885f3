package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/segment/segmenttest"
)

// The PostgreSQL tests here use testserver.SharedPostgres; the package's
// TestMain (testserver.Main, in replicas_test.go on main) stops the shared
// server. Without it the server still dies with the test binary (Pdeathsig).

// plansCSV returns n users; plan(i) is user i's plan.
func plansCSV(n int, plan func(i int) string) string {
	var b strings.Builder
	b.WriteString("id,email,plan\n")
	for i := range n {
		fmt.Fprintf(&b, "u%d,user%d@example.com,%s\n", i, i, plan(i))
	}
	return b.String()
}

func samePlan(p string) func(int) string { return func(int) string { return p } }

// lastPlans returns each user's plan in the last event the server got.
func lastPlans(srv *segmenttest.Server) map[string]any {
	m := map[string]any{}
	for _, e := range srv.Events() {
		m[e.UserID] = e.Traits["plan"]
	}
	return m
}

// TestImportDiff is issue 15's acceptance through the command: 10,000
// users, run 2 sends nothing and exits 0, 100 changed rows are exactly
// what run 3 sends, under new messageIds.
func TestImportDiff(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	dir := t.TempDir()
	led := filepath.Join(dir, "nightly.ledger")
	const n = 10_000
	night := writeFile(t, "users.csv", plansCSV(n, samePlan("free")))
	failed := filepath.Join(dir, "failed.csv")
	r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--diff", led, night)...)
	if r.code != exitOK || byStatus(parseResults(t, r.stdout))["ok"] != n {
		t.Fatalf("run 1: exit %d, %v; stderr:\n%s", r.code, byStatus(parseResults(t, r.stdout)), r.stderr)
	}
	if fi, err := os.Stat(led); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ledger file: %v, %v; want mode 0600", fi, err)
	}
	first := map[string]bool{}
	for _, l := range parseResults(t, r.stdout) {
		first[l.MessageID] = true
	}

	requests := srv.Stats().Requests
	r = runCLI(t, context.Background(), nil, "import", "--endpoint", srv.URL, "--write-key", testWriteKey, "--diff", led, "--failed", failed, "--log-format", "json", night)
	lines := parseResults(t, r.stdout)
	if r.code != exitOK || byStatus(lines)["unchanged"] != n || srv.Stats().Requests != requests {
		t.Fatalf("run 2: exit %d, %v, %d requests; stderr:\n%s", r.code, byStatus(lines), srv.Stats().Requests-requests, r.stderr)
	}
	for _, l := range lines {
		if !l.Success || l.Attempts != 0 || l.MessageID != "" {
			t.Fatalf("run 2: %+v; want success, 0 attempts, no messageId", l)
		}
	}
	if !strings.Contains(r.stderr, `"unchanged":10000`) {
		t.Errorf("run 2: the JSON summary does not count the unchanged items:\n%s", r.stderr)
	}
	if data, _ := os.ReadFile(failed); strings.Count(string(data), "\n") > 1 {
		t.Errorf("run 2: unchanged items in the failed file:\n%s", data)
	}

	changed := func(i int) bool { return i%100 == 42 }
	plan := func(i int) string {
		if changed(i) {
			return "pro"
		}
		return "free"
	}
	events := len(srv.Events())
	r = runCLI(t, context.Background(), nil, importArgs(srv.URL, "--diff", led, writeFile(t, "users.csv", plansCSV(n, plan)))...)
	lines = parseResults(t, r.stdout)
	if r.code != exitOK || byStatus(lines)["ok"] != 100 || byStatus(lines)["unchanged"] != n-100 {
		t.Fatalf("run 3: exit %d, %v; want 100 ok", r.code, byStatus(lines))
	}
	sent := srv.Events()[events:]
	if len(sent) != 100 {
		t.Fatalf("run 3: the server got %d events, want 100", len(sent))
	}
	for _, e := range sent {
		if e.Traits["plan"] != "pro" || first[e.MessageID] {
			t.Fatalf("run 3 sent %s (plan %v) under messageId %s (used by run 1: %v)", e.UserID, e.Traits["plan"], e.MessageID, first[e.MessageID])
		}
	}
	final := lastPlans(srv)
	for i := range n {
		if final[fmt.Sprint("u", i)] != plan(i) {
			t.Fatalf("u%d: the server's plan is %v, want %s", i, final[fmt.Sprint("u", i)], plan(i))
		}
	}
}

// TestImportDiffSummary: the text summary and dry run.
func TestImportDiffSummary(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	led := filepath.Join(t.TempDir(), "l.ledger")
	file := writeFile(t, "users.csv", plansCSV(20, samePlan("free")))
	args := []string{"import", "--endpoint", srv.URL, "--write-key", testWriteKey, "--diff", led}
	if r := runCLI(t, context.Background(), nil, append(args, file)...); r.code != exitOK {
		t.Fatalf("run 1: exit %d\n%s", r.code, r.stderr)
	}
	changed := writeFile(t, "users.csv", plansCSV(25, samePlan("free")))
	r := runCLI(t, context.Background(), nil, append(args, "--dry-run", changed)...)
	lines := parseResults(t, r.stdout)
	if r.code != exitOK || byStatus(lines)["ok"] != 5 || byStatus(lines)["unchanged"] != 20 {
		t.Fatalf("dry run: exit %d, %v; want 5 ok (would be sent), 20 unchanged\n%s", r.code, byStatus(lines), r.stderr)
	}
	if !strings.Contains(r.stderr, "5 ok, 0 invalid, 0 failed, 20 unchanged (Segment has them)") {
		t.Errorf("dry run summary:\n%s", r.stderr)
	}
	// The dry run wrote nothing: the real run sends the 5.
	r = runCLI(t, context.Background(), nil, append(args, changed)...)
	if byStatus(parseResults(t, r.stdout))["ok"] != 5 {
		t.Fatalf("after the dry run: %v, want 5 ok", byStatus(parseResults(t, r.stdout)))
	}
	// A dry run with a ledger that does not exist sends everything and creates nothing.
	missing := filepath.Join(t.TempDir(), "none.ledger")
	r = runCLI(t, context.Background(), nil, "import", "--dry-run", "--write-key", "k", "--quiet", "--diff", missing, file)
	if r.code != exitOK || byStatus(parseResults(t, r.stdout))["ok"] != 20 {
		t.Fatalf("dry run, no ledger: exit %d %v\n%s", r.code, byStatus(parseResults(t, r.stdout)), r.stderr)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("a dry run created the ledger: %v", err)
	}
}

// TestImportDiffRefused: exit 2 for a ledger of another destination, a file
// that is not a ledger (left untouched), the input or an output as the
// ledger, and a dry run without the write key.
func TestImportDiffRefused(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	dir := t.TempDir()
	led := filepath.Join(dir, "l.ledger")
	file := writeFile(t, "users.csv", plansCSV(5, samePlan("free")))
	if r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--diff", led, file)...); r.code != exitOK {
		t.Fatalf("run 1: exit %d\n%s", r.code, r.stderr)
	}
	other := writeFile(t, "other.csv", "id\nu1\n")
	before, _ := os.ReadFile(other)
	results := filepath.Join(dir, "results.ndjson")
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"another write key": {[]string{"import", "--endpoint", srv.URL, "--write-key", "another-key", "--quiet", "--diff", led, file}, "another endpoint or write key"},
		"another endpoint":  {[]string{"import", "--region", "eu", "--write-key", testWriteKey, "--quiet", "--diff", led, file}, "another endpoint or write key"},
		"the sandbox":       {[]string{"import", "--sandbox", "--quiet", "--diff", led, file}, "another endpoint or write key"},
		"not a ledger":      {importArgs(srv.URL, "--diff", other, file), "not a segloop ledger"},
		"the input":         {importArgs(srv.URL, "--diff", file, file), "the input"},
		"the results":       {importArgs(srv.URL, "--diff", results, "--results", results, file), "--results"},
		"dry run, no key":   {[]string{"import", "--dry-run", "--quiet", "--diff", led, file}, "needs the write key"},
	} {
		t.Run(name, func(t *testing.T) {
			requests := srv.Stats().Requests
			r := runCLI(t, context.Background(), nil, c.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, c.want) || srv.Stats().Requests != requests {
				t.Fatalf("exit %d, %d requests, want 2 naming %q; stderr:\n%s", r.code, srv.Stats().Requests-requests, c.want, r.stderr)
			}
		})
	}
	if after, _ := os.ReadFile(other); string(after) != string(before) {
		t.Errorf("the file that is not a ledger changed: %q", after)
	}
	if entries, _ := os.ReadDir(filepath.Dir(other)); len(entries) != 1 {
		t.Errorf("files beside the refused non-ledger: %v", entries)
	}
}

// TestImportDiffMaxFailures: unchanged items do not dilute --max-failures'
// share: 150 unchanged and 150 sent, of which 40 refused, is 27% of what
// was sent, beyond 20%.
func TestImportDiffMaxFailures(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	led := filepath.Join(t.TempDir(), "l.ledger")
	args := importArgs(srv.URL, "--diff", led, "--batch", "1", "--concurrency", "1")
	if r := runCLI(t, context.Background(), nil, append(args, writeFile(t, "a.csv", plansCSV(150, samePlan("free"))))...); r.code != exitOK {
		t.Fatalf("run 1: exit %d\n%s", r.code, r.stderr)
	}
	for range 40 {
		srv.Script(segmenttest.Response{Status: 400})
	}
	file := writeFile(t, "b.csv", plansCSV(300, samePlan("free")))
	r := runCLI(t, context.Background(), nil, append(args, "--max-failures", "20%", file)...)
	if r.code != exitAborted || !strings.Contains(r.stderr, "--max-failures") {
		t.Fatalf("exit %d, want 3 (40 of 150 sent failed); stderr:\n%s", r.code, r.stderr)
	}
}

// TestImportDiffPostgresPassword: a PostgreSQL ledger works, and its
// password shows in no output, neither when it works nor when it is wrong.
func TestImportDiffPostgresPassword(t *testing.T) {
	u, password := testserver.SharedPostgres(t)
	if password == "" {
		t.Fatal("the shared PostgreSQL has no password to check for")
	}
	srv := newServer(t, segmenttest.Options{})
	file := writeFile(t, "users.csv", plansCSV(50, samePlan("free")))
	for i, want := range []string{"ok", "unchanged"} {
		r := runCLI(t, context.Background(), nil, "import", "--endpoint", srv.URL, "--write-key", testWriteKey, "--diff", u, file)
		if r.code != exitOK || byStatus(parseResults(t, r.stdout))[want] != 50 {
			t.Fatalf("run %d: exit %d %v; stderr:\n%s", i+1, r.code, byStatus(parseResults(t, r.stdout)), r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, password) {
			t.Fatalf("run %d: the password appears in the output", i+1)
		}
	}
	wrong := strings.Replace(u, password, "Wr0ngPassw0rd", 1)
	r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--diff", wrong, file)...)
	if r.code != exitUsage || strings.Contains(r.stdout+r.stderr, "Wr0ngPassw0rd") || strings.Contains(r.stdout+r.stderr, password) {
		t.Fatalf("wrong password: exit %d (want 2), stderr:\n%s", r.code, r.stderr)
	}
}

// TestProcessDiffKilled kills a diff run with SIGKILL mid-way, then runs it
// again: the rerun misses nothing (every user's last event at the server is
// the input's) and reports unchanged only what the server had got.
func TestProcessDiffKilled(t *testing.T) {
	srv := newServer(t, segmenttest.Options{Latency: 5 * time.Millisecond})
	dir := t.TempDir()
	led := filepath.Join(dir, "l.ledger")
	const n = 3000
	args := func(file string) []string {
		return []string{"import", "--endpoint", srv.URL, "--quiet", "--batch", "10", "--concurrency", "2", "--diff", led, "--results", filepath.Join(dir, "results.ndjson"), file}
	}
	if code := startChild(t, args(writeFile(t, "v1.csv", plansCSV(n, samePlan("free"))))...).wait(t); code != exitOK {
		t.Fatalf("run 1: exit %d", code)
	}
	v2 := writeFile(t, "v2.csv", plansCSV(n, samePlan("pro")))
	c := startChild(t, args(v2)...)
	waitFor(t, "part of run 2", func() bool { return srv.Stats().Events >= n+n/3 })
	c.cmd.Process.Kill()
	c.wait(t)
	had := lastPlans(srv) // what the server had when the rerun started
	sentBefore := 0
	for _, p := range had {
		if p == "pro" {
			sentBefore++
		}
	}
	if sentBefore == 0 || sentBefore == n {
		t.Fatalf("the kill came at %d of %d users sent; want mid-way", sentBefore, n)
	}
	if code := startChild(t, args(v2)...).wait(t); code != exitOK {
		t.Fatalf("rerun: exit %d", code)
	}
	lines := readResults(t, filepath.Join(dir, "results.ndjson"))
	if len(lines) != n {
		t.Fatalf("rerun: %d results, want %d", len(lines), n)
	}
	for _, l := range lines {
		if l.Status == "unchanged" && had[l.UserID] != "pro" {
			t.Fatalf("rerun: %s unchanged, but the server had plan %v", l.UserID, had[l.UserID])
		}
		if !l.Success {
			t.Fatalf("rerun: %+v", l)
		}
	}
	for user, p := range lastPlans(srv) {
		if p != "pro" {
			t.Fatalf("%s: the server's last plan is %v, want pro", user, p)
		}
	}
	if final := lastPlans(srv); len(final) != n {
		t.Fatalf("the server knows %d users, want %d", len(final), n)
	}
	t.Logf("killed after %d of %d users; rerun: %v", sentBefore, n, byStatus(lines))
}

// TestProcessDiffPostgresHalves: two processes share a PostgreSQL ledger,
// each sending one half of a file at once; the whole file is then
// unchanged.
func TestProcessDiffPostgresHalves(t *testing.T) {
	u, password := testserver.SharedPostgres(t)
	srv := newServer(t, segmenttest.Options{})
	const n = 4000
	all := plansCSV(n, samePlan("team"))
	rows := strings.SplitAfter(strings.TrimPrefix(all, "id,email,plan\n"), "\n")
	half := func(name string, part []string) string {
		return writeFile(t, name, "id,email,plan\n"+strings.Join(part, ""))
	}
	args := func(file string) []string {
		return []string{"import", "--endpoint", srv.URL, "--quiet", "--batch", "50", "--diff", u, file}
	}
	a, b := startChild(t, args(half("a.csv", rows[:n/2]))...), startChild(t, args(half("b.csv", rows[n/2:]))...)
	for _, c := range []*child{a, b} {
		if code := c.wait(t); code != exitOK {
			t.Fatalf("half: exit %d\n%s", code, c.stderr.String())
		}
		if strings.Contains(c.stdout.String()+c.stderr.String(), password) {
			t.Fatal("the password appears in a child's output")
		}
	}
	if st := srv.Stats(); st.Unique != n {
		t.Fatalf("the server got %d users, want %d", st.Unique, n)
	}
	whole := startChild(t, args(writeFile(t, "all.csv", all))...)
	if code := whole.wait(t); code != exitOK {
		t.Fatalf("whole file: exit %d\n%s", code, whole.stderr.String())
	}
	if got := byStatus(parseResults(t, whole.stdout.String())); got["unchanged"] != n {
		t.Fatalf("whole file after the halves: %v, want %d unchanged", got, n)
	}
}
