package serve_test

import (
	"context"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/segment/segmenttest"
	"github.com/segloop/segloop/serve"
)

// openLedgers opens Ledgers at location, closed when t ends (after the
// servers started later, whose cleanups run first).
func openLedgers(t *testing.T, location string) *serve.Ledgers {
	t.Helper()
	ls, err := serve.OpenLedgers(context.Background(), location, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.Close() })
	return ls
}

// planItems are n users u0… with plan "a", except those in changed: "b".
func planItems(n int, changed ...int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"id": fmt.Sprintf("u%d", i), "plan": "a"}
	}
	for _, i := range changed {
		out[i] = map[string]any{"id": fmt.Sprintf("u%d", i), "plan": "b"}
	}
	return out
}

type waited struct {
	Run     runView
	Results []resultLine
}

// diffRounds runs the rounds of diff mode through first (and then
// second, another replica or the same server) against seg: n users all
// sent; the same again all unchanged with no request; 5 changed, exactly 5
// sent. Each round uses another body format.
func diffRounds(t *testing.T, first, second *env, seg *segmenttest.Server, n int) {
	t.Helper()
	var r1 waited
	first.json("POST", "/v1/runs?wait=true", map[string]any{"items": planItems(n), "diff": true}, 200, &r1)
	if r1.Run.Status != "succeeded" || r1.Run.Counts.OK != int64(n) || len(r1.Results) != n {
		t.Fatalf("run 1 %+v\n%s", r1.Run, first.logs)
	}
	before := seg.Stats()

	var nd strings.Builder
	for i := range n {
		fmt.Fprintf(&nd, "{\"id\":\"u%d\",\"plan\":\"a\"}\n", i)
	}
	var r2 waited
	code, b, _ := second.do("POST", "/v1/runs?wait=true&diff=true", "application/x-ndjson", strings.NewReader(nd.String()))
	if code != 200 || jsonUnmarshal(b, &r2) != nil {
		t.Fatalf("run 2 = %d %.300s", code, b)
	}
	if r2.Run.Status != "succeeded" || r2.Run.Counts.Unchanged != int64(n) || r2.Run.Done() != int64(n) {
		t.Fatalf("run 2 %+v", r2.Run)
	}
	for _, r := range r2.Results {
		if r.Status != "unchanged" || !r.Success || r.Attempts != 0 || r.MessageID != "" {
			t.Fatalf("run 2 result %+v; want unchanged, success, 0 attempts, no messageId", r)
		}
	}
	if st := seg.Stats(); st.Requests != before.Requests {
		t.Fatalf("run 2 made %d requests; want 0", st.Requests-before.Requests)
	}

	changed := []int{3, 7, n / 2, n - 2, n - 1}
	var csv strings.Builder
	csv.WriteString("id,plan\n")
	for i, it := range planItems(n, changed...) {
		fmt.Fprintf(&csv, "u%d,%s\n", i, it.(map[string]any)["plan"])
	}
	var r3 waited
	code, b, _ = first.do("POST", "/v1/runs?wait=true&diff=true", "text/csv", strings.NewReader(csv.String()))
	if code != 200 || jsonUnmarshal(b, &r3) != nil {
		t.Fatalf("run 3 = %d %.300s", code, b)
	}
	if r3.Run.Status != "succeeded" || r3.Run.Counts.OK != 5 || r3.Run.Counts.Unchanged != int64(n-5) {
		t.Fatalf("run 3 %+v", r3.Run)
	}
	after := seg.Stats()
	if sent := after.Events - before.Events; sent != 5 || after.Duplicates != 0 {
		t.Fatalf("run 3 sent %d events (%d duplicates); want exactly 5", sent, after.Duplicates)
	}
	for _, i := range changed {
		if r := r3.Results[i]; r.Status != "ok" || r.MessageID == "" || r.MessageID == r1.Results[i].MessageID {
			t.Fatalf("changed item %d: %+v (run 1's messageId %s)", i, r, r1.Results[i].MessageID)
		}
	}
}

func (r runView) Done() int64 {
	c := r.Counts
	return c.OK + c.Invalid + c.Failed + c.Skipped + c.Unchanged
}

// TestDiffRuns: runs with "diff": true on a server with a directory of
// ledgers send only what changed; a run without it sends everything; the
// ledger is the file of the destination, 0600; unchanged items are counted
// in /metrics.
func TestDiffRuns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ledgers")
	ls := openLedgers(t, dir)
	e := start(t, segmenttest.Options{}, serve.Config{Token: testToken, WriteKey: testWriteKey, Diff: ls})
	const n = 300
	diffRounds(t, e, e, e.seg, n)

	dest := segloop.LedgerDestination("segmenttest", testWriteKey)
	fi, err := os.Stat(filepath.Join(dir, dest+".ledger"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ledger file: %v, %v; want %s.ledger, 0600", fi, err, dest)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.ledger")); len(files) != 1 {
		t.Fatalf("ledger files %v; want one", files)
	}
	if got := ls.LedgerLocation(dest); got != filepath.Join(dir, dest+".ledger") {
		t.Fatalf("LedgerLocation = %s", got)
	}
	code, b, _ := e.do("GET", "/metrics", "", nil)
	if m := regexp.MustCompile(`(?m)^segloop_items_total\{status="unchanged"\} (\d+)$`).FindSubmatch(b); code != 200 || m == nil || string(m[1]) != fmt.Sprint(2*n-5) {
		t.Fatalf("metrics: unchanged items %q; want %d", m, 2*n-5)
	}

	// Without "diff", every item is sent, and the ledger is not consulted.
	before := e.seg.Stats().Events
	var plain waited
	e.json("POST", "/v1/runs?wait=true", map[string]any{"items": planItems(n)}, 200, &plain)
	if plain.Run.Counts.OK != n || e.seg.Stats().Events-before != n {
		t.Fatalf("run without diff %+v, %d sent", plain.Run, e.seg.Stats().Events-before)
	}
	// "diff": false is no diff mode either.
	e.json("POST", "/v1/runs?wait=true", map[string]any{"items": planItems(3), "diff": false}, 200, &plain)
	if plain.Run.Counts.OK != 3 {
		t.Fatalf("diff false %+v", plain.Run)
	}
}

// TestDiffRetry: the retry of a diff run's failed items sends them under
// their messageIds (nothing was committed for them), and an item committed
// since (by another run) comes back unchanged, sending nothing.
func TestDiffRetry(t *testing.T) {
	ls := openLedgers(t, t.TempDir())
	// One part, one request at a time, one item per request: the script's
	// answers go to the items in order.
	e := start(t, segmenttest.Options{}, serve.Config{Token: testToken, WriteKey: testWriteKey, Diff: ls,
		Batch: 1, MaxAttempts: 1, Workers: 1, Parts: 1})
	e.seg.Script(segmenttest.Response{Status: 400}, segmenttest.Response{Status: 400})
	var first waited
	e.json("POST", "/v1/runs?wait=true", map[string]any{"items": planItems(6), "diff": true}, 200, &first)
	if first.Run.Counts.Failed != 2 || first.Run.Counts.OK != 4 || first.Results[0].Status != "failed" || first.Results[1].Status != "failed" {
		t.Fatalf("first run %+v", first)
	}
	var retry waited
	e.json("POST", "/v1/runs/"+first.Run.ID+"/retry?wait=true", nil, 200, &retry)
	if retry.Run.Status != "succeeded" || retry.Run.Counts.OK != 2 || len(retry.Results) != 2 {
		t.Fatalf("retry %+v", retry)
	}
	for i, r := range retry.Results {
		if r.Index != int64(i) || r.MessageID != first.Results[i].MessageID {
			t.Fatalf("retried %+v; want item %d under messageId %s", r, i, first.Results[i].MessageID)
		}
	}
	var again waited
	e.json("POST", "/v1/runs?wait=true", map[string]any{"items": planItems(6), "diff": true}, 200, &again)
	if again.Run.Counts.Unchanged != 6 {
		t.Fatalf("after the retry, the run again %+v; want all unchanged", again.Run)
	}

	// u0 and u1 change and fail; another run then delivers (and commits)
	// them: the first run's retry finds them unchanged.
	e.seg.Script(segmenttest.Response{Status: 400}, segmenttest.Response{Status: 400})
	var failed, fixed waited
	e.json("POST", "/v1/runs?wait=true", map[string]any{"items": planItems(2, 0, 1), "diff": true}, 200, &failed)
	e.json("POST", "/v1/runs?wait=true", map[string]any{"items": planItems(2, 0, 1), "diff": true}, 200, &fixed)
	if failed.Run.Counts.Failed != 2 || fixed.Run.Counts.OK != 2 {
		t.Fatalf("runs %+v, %+v", failed.Run, fixed.Run)
	}
	requests := e.seg.Stats().Requests
	e.json("POST", "/v1/runs/"+failed.Run.ID+"/retry?wait=true", nil, 200, &retry)
	if retry.Run.Status != "succeeded" || retry.Run.Counts.Unchanged != 2 || e.seg.Stats().Requests != requests {
		t.Fatalf("retry of committed items %+v, %d requests", retry.Run, e.seg.Stats().Requests-requests)
	}

	// Started again without ledgers, the server refuses to retry a diff run.
	e.stop()
	e.serve(serve.Config{Token: testToken, WriteKey: testWriteKey})
	code, b, _ := e.do("POST", "/v1/runs/"+first.Run.ID+"/retry", "", nil)
	if c, msg := errorBody(t, b); code != 400 || c != "diff_unavailable" || !strings.Contains(msg, "--diff") {
		t.Fatalf("retry of a diff run without ledgers = %d %s", code, b)
	}
}

// TestDiffShutdownAndResume stops the server mid-run (a diff run) and starts
// it again: the run completes, each item with one result, none under two
// messageIds, and a run of the same items afterwards is all unchanged.
func TestDiffShutdownAndResume(t *testing.T) {
	ls := openLedgers(t, t.TempDir())
	cfg := serve.Config{Token: testToken, WriteKey: testWriteKey, Diff: ls, Batch: 1, Limit: ratelimit.Config{Rate: 300, Burst: 1}}
	e := start(t, segmenttest.Options{}, cfg)
	const n = 200
	var created struct{ ID string }
	e.json("POST", "/v1/runs", map[string]any{"items": planItems(n), "diff": true}, 202, &created)
	for len(e.results(created.ID, "")) < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	e.stop()
	e.serve(cfg)
	r := e.waitRun(created.ID)
	if r.Status != "succeeded" || r.Counts.OK+r.Counts.Unchanged != n {
		t.Fatalf("resumed run %+v", r)
	}
	ids := map[string]bool{}
	for _, l := range e.results(created.ID, "") {
		if l.Status == "ok" && ids[l.MessageID] {
			t.Fatalf("result %+v: messageId seen before", l)
		}
		ids[l.MessageID] = true
	}
	if st := e.seg.Stats(); st.Unique != n || st.Duplicates != 0 {
		t.Fatalf("segmenttest saw %d messageIds (%d duplicates); want %d, 0", st.Unique, st.Duplicates, n)
	}
	var again waited
	e.json("POST", "/v1/runs?wait=true", map[string]any{"items": planItems(n), "diff": true}, 200, &again)
	if again.Run.Counts.Unchanged != n {
		t.Fatalf("run again %+v; want all unchanged", again.Run)
	}
}

// TestDiffPostgres: two replicas on one PostgreSQL store, with their
// ledgers in the same database (each replica its own Ledgers, as two
// processes), share runs and ledgers: the rounds of TestDiffRuns across
// them. The ledger is in the destination's schema.
func TestDiffPostgres(t *testing.T) {
	url, password := testserver.SharedPostgres(t)
	seg := segmenttest.NewServer(segmenttest.Options{})
	t.Cleanup(seg.Close)
	logs := &syncBuffer{}
	la, lb := openLedgers(t, url), openLedgers(t, url)
	// Leases long enough that no part changes hands on a loaded machine: a
	// takeover may find items unchanged that the other replica committed
	// but could not store (correct, but not the rounds' exact counts).
	cfg := serve.Config{WriteKey: testWriteKey, Batch: 20, Limit: ratelimit.Config{Rate: 0},
		Timings: serve.Timings{Slice: 500 * time.Millisecond, Lease: 20 * time.Second, Reconcile: 200 * time.Millisecond}}
	cfg.Diff = la
	a, _ := replica(t, url, "replica-a", seg, logs, cfg)
	cfg.Diff = lb
	b, _ := replica(t, url, "replica-b", seg, logs, cfg)
	ea := &env{t: t, seg: seg, url: a, logs: logs}
	eb := &env{t: t, seg: seg, url: b, logs: logs}
	const n = 1000
	diffRounds(t, ea, eb, seg, n)

	dest := segloop.LedgerDestination("segmenttest", testWriteKey)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var users int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM `+serve.LedgerSchemaPrefix+dest+`.segloop_ledger`).Scan(&users); err != nil || users != n {
		t.Fatalf("users in the destination's schema: %d, %v; want %d", users, err, n)
	}
	if loc := la.LedgerLocation(dest); !strings.Contains(loc, "search_path="+serve.LedgerSchemaPrefix+dest) || strings.Contains(loc, password) {
		t.Fatalf("LedgerLocation = %s", loc)
	}
	if strings.Contains(logs.String(), password) {
		t.Fatal("the database password is in the logs")
	}
}

// TestDiffLedgerUnavailable: a PostgreSQL ledger that refuses connections
// mid-way leaves the run's items pending (never failed); once it is back,
// the run completes.
func TestDiffLedgerUnavailable(t *testing.T) {
	url, _ := testserver.SharedPostgres(t)
	ls := openLedgers(t, url)
	e := start(t, segmenttest.Options{}, serve.Config{Token: testToken, WriteKey: testWriteKey, Diff: ls,
		Timings: serve.Timings{Reconcile: 100 * time.Millisecond}})
	var r1 waited
	e.json("POST", "/v1/runs?wait=true", map[string]any{"items": planItems(50), "diff": true}, 200, &r1)

	ctx := context.Background()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	exec := func(sql string) {
		t.Helper()
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`ALTER DATABASE ` + pgx.Identifier{db}.Sanitize() + ` ALLOW_CONNECTIONS false`)
	exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + db + `'`)

	var created struct{ ID string }
	e.json("POST", "/v1/runs", map[string]any{"items": planItems(50, 1, 2), "diff": true}, 202, &created)
	deadline := time.Now().Add(patience(t))
	for !strings.Contains(e.logs.String(), "ledger: lookup") {
		if time.Now().After(deadline) {
			t.Fatalf("no slice stopped by the ledger\n%s", e.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var mid runView
	e.json("GET", "/v1/runs/"+created.ID, nil, 200, &mid)
	if mid.Counts.Failed != 0 || mid.Status != "running" && mid.Status != "queued" {
		t.Fatalf("with the ledger down: %+v; want unfinished, nothing failed", mid)
	}
	exec(`ALTER DATABASE ` + pgx.Identifier{db}.Sanitize() + ` ALLOW_CONNECTIONS true`)
	r := e.waitRun(created.ID)
	if r.Status != "succeeded" || r.Counts.OK != 2 || r.Counts.Unchanged != 48 {
		t.Fatalf("run after the ledger came back %+v\n%s", r, e.logs)
	}
}

// TestOpenLedgers: a --diff location that is a file, or a PostgreSQL that
// cannot be reached, is refused at once, without the password.
func TestOpenLedgers(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users.ledger")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := serve.OpenLedgers(context.Background(), file, nil); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("a file: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := serve.OpenLedgers(ctx, "postgres://segloop:pw-51c0ffee@127.0.0.1:1/segloop", nil)
	if err == nil || strings.Contains(err.Error(), "pw-51c0ffee") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("unreachable PostgreSQL: %v", err)
	}
	ls := openLedgers(t, filepath.Join(t.TempDir(), "new", "dir"))
	if fi, err := os.Stat(ls.Location()); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("created directory %v, %v", fi, err)
	}
	if _, err := ls.Ledger(context.Background(), "../escape"); err == nil {
		t.Fatal("a destination that is not 32 hex digits was accepted")
	}
	ls.Close()
	if _, err := ls.Ledger(context.Background(), segloop.LedgerDestination("x", "y")); err == nil {
		t.Fatal("Ledger after Close")
	}
}
