package segloop_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/ledger"
	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/segment/segmenttest"
	"github.com/segloop/segloop/source"
)

func TestMain(m *testing.M) { testserver.Main(m) }

// diffEnv is a segmenttest server, a client of it and a ledger.
type diffEnv struct {
	srv    *segmenttest.Server
	client *segment.Client
	ledger *ledger.Ledger
}

func newDiffEnv(t *testing.T, location string) *diffEnv {
	t.Helper()
	srv := segmenttest.NewServer(segmenttest.Options{KeepEvents: true})
	t.Cleanup(srv.Close)
	client, err := segment.NewClient(segment.Config{WriteKey: "wk", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if location == "" {
		location = filepath.Join(t.TempDir(), "nightly.ledger")
	}
	l, err := ledger.Open(context.Background(), location, "test-destination")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &diffEnv{srv: srv, client: client, ledger: l}
}

// run sends the NDJSON text in diff mode; cfg's Source, Client and Ledger
// are filled in, and RunKey when empty.
func (e *diffEnv) run(t *testing.T, text string, cfg segloop.Config) ([]segloop.Result, segloop.Summary) {
	t.Helper()
	src, err := source.Open(strings.NewReader(text), source.NDJSON, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Source, cfg.Ledger = src, e.ledger
	if !cfg.DryRun {
		cfg.Client = e.client
	}
	if cfg.RunKey == "" {
		cfg.RunKey = "nightly"
	}
	results, sum := runAll(t, cfg)
	if int64(len(results)) != sum.Read || sum.Read != sum.OK+sum.Invalid+sum.Failed+sum.Skipped+sum.Unchanged {
		t.Fatalf("%d results, summary %+v: one result per item read", len(results), sum)
	}
	return results, sum
}

// users returns n NDJSON users; plan(i) gives user i's plan.
func users(n int, plan func(i int) string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"u%d","email":"u%d@example.com","plan":%q,"seats":%d}`+"\n", i, i, plan(i), i%7)
	}
	return b.String()
}

func byStatus(results []segloop.Result) map[loop.Status]int {
	m := map[loop.Status]int{}
	for _, r := range results {
		m[r.Status]++
	}
	return m
}

// TestDiffNightly is issue 15's acceptance on the library: 10,000 users, a
// first run sends all, a second none, a third exactly the 100 changed,
// under messageIds never used before; the server's last event per user is
// the input's.
func TestDiffNightly(t *testing.T) {
	e := newDiffEnv(t, "")
	const n = 10_000
	night1 := users(n, func(int) string { return "free" })
	res, sum := e.run(t, night1, segloop.Config{})
	if sum.OK != n || e.srv.Stats().Unique != n {
		t.Fatalf("run 1: %+v, server %d unique; want %d ok", byStatus(res), e.srv.Stats().Unique, n)
	}
	ids := map[string]bool{}
	for _, r := range res {
		ids[r.MessageID] = true
	}

	before := e.srv.Stats().Requests
	res, sum = e.run(t, night1, segloop.Config{})
	if sum.Unchanged != n || sum.Requests != 0 || e.srv.Stats().Requests != before {
		t.Fatalf("run 2: %+v, %d requests (server %d more); want %d unchanged, none sent", byStatus(res), sum.Requests, e.srv.Stats().Requests-before, n)
	}
	for _, r := range res {
		if !r.Success() || r.Attempts != 0 || r.MessageID != "" || r.Code != 0 {
			t.Fatalf("unchanged result %+v: want success, 0 attempts, no messageId", r)
		}
	}
	if line := string(res[0].AppendJSON(nil)); line != `{"index":0,"line":1,"userId":"u0","status":"unchanged","success":true,"attempts":0}`+"\n" {
		t.Fatalf("unchanged result line %s", line)
	}

	changed := func(i int) bool { return i%100 == 7 } // 100 users
	night3 := users(n, func(i int) string {
		if changed(i) {
			return "pro"
		}
		return "free"
	})
	events := len(e.srv.Events())
	res, sum = e.run(t, night3, segloop.Config{})
	if sum.OK != 100 || sum.Unchanged != n-100 {
		t.Fatalf("run 3: %+v; want 100 ok, %d unchanged", byStatus(res), n-100)
	}
	sent := e.srv.Events()[events:]
	if len(sent) != 100 {
		t.Fatalf("run 3: the server got %d events, want 100", len(sent))
	}
	for _, ev := range sent {
		var i int
		fmt.Sscanf(ev.UserID, "u%d", &i)
		if !changed(i) || ev.Traits["plan"] != "pro" {
			t.Fatalf("run 3 sent %s with plan %v", ev.UserID, ev.Traits["plan"])
		}
		if ids[ev.MessageID] {
			t.Fatalf("run 3 sent %s under run 1's messageId %s", ev.UserID, ev.MessageID)
		}
	}
	for _, r := range res {
		if r.Status == loop.StatusOK && r.MessageID == "" {
			t.Fatalf("sent item %d has no messageId", r.Index)
		}
	}
	final := map[string]any{}
	for _, ev := range e.srv.Events() {
		final[ev.UserID] = ev.Traits["plan"]
	}
	for i := range n {
		want := "free"
		if changed(i) {
			want = "pro"
		}
		if got := final[fmt.Sprint("u", i)]; got != want {
			t.Fatalf("u%d: the server's last plan is %v, want %s", i, got, want)
		}
	}
}

// TestDiffRefusedItemSentAgain: an item Segment refused (a scripted 400) is
// not committed, so the next run sends it again, under the same messageId
// (same content, nothing committed between); the others are unchanged.
func TestDiffRefusedItemSentAgain(t *testing.T) {
	e := newDiffEnv(t, "")
	input := users(10, func(int) string { return "free" })
	e.srv.Script(segmenttest.Response{Status: 400})
	res, sum := e.run(t, input, segloop.Config{BatchSize: 1, Concurrency: 1})
	if sum.Failed != 1 || sum.OK != 9 || res[0].Status != loop.StatusFailed {
		t.Fatalf("run 1: %+v, item 0 %s; want item 0 refused, 9 ok", byStatus(res), res[0].Status)
	}
	refusedID := res[0].MessageID
	res, sum = e.run(t, input, segloop.Config{BatchSize: 1})
	if sum.OK != 1 || sum.Unchanged != 9 || res[0].Status != loop.StatusOK {
		t.Fatalf("run 2: %+v; want the refused item sent, 9 unchanged", byStatus(res))
	}
	if res[0].MessageID != refusedID {
		t.Errorf("the refused content was sent again under %s, not its first id %s", res[0].MessageID, refusedID)
	}
}

// TestDiffMessageIDs: with one run key for every run, content that changes
// and comes back (A, B, A, B) is sent under four ids, none reused.
func TestDiffMessageIDs(t *testing.T) {
	e := newDiffEnv(t, "")
	var ids []string
	for _, plan := range []string{"a", "b", "a", "b"} {
		res, _ := e.run(t, `{"id":"u1","plan":"`+plan+`"}`+"\n", segloop.Config{RunKey: "fixed"})
		if res[0].Status != loop.StatusOK {
			t.Fatalf("plan %s: %s", plan, res[0].Status)
		}
		if slices.Contains(ids, res[0].MessageID) {
			t.Fatalf("plan %s sent under %s, an earlier version's id (%v)", plan, res[0].MessageID, ids)
		}
		ids = append(ids, res[0].MessageID)
	}
	if d := e.srv.Delivered(); len(d) != 4 {
		t.Fatalf("the server has %d distinct messageIds, want 4", len(d))
	}
}

// TestDiffRepeatedUsers: a later item of a user sent earlier in the same run
// is sent too, though the ledger holds its content: the ledger's entry is
// older than what this run sent before it.
func TestDiffRepeatedUsers(t *testing.T) {
	e := newDiffEnv(t, "")
	e.run(t, `{"id":"u1","plan":"b"}`+"\n"+`{"id":"u2","plan":"x"}`+"\n", segloop.Config{})
	// u1: a (changed, sent), then b (what the ledger holds: sent again, so
	// that b, not a, is the last). u2: x twice, unchanged both times.
	res, _ := e.run(t, `{"id":"u1","plan":"a"}`+"\n"+`{"id":"u2","plan":"x"}`+"\n"+`{"id":"u1","plan":"b"}`+"\n"+`{"id":"u2","plan":"x"}`+"\n", segloop.Config{})
	want := []loop.Status{loop.StatusOK, loop.StatusUnchanged, loop.StatusOK, loop.StatusUnchanged}
	for i, r := range res {
		if r.Status != want[i] {
			t.Fatalf("item %d (%s): %s, want %s", i, r.UserID, r.Status, want[i])
		}
	}
	evs := e.srv.Events()
	if last := evs[len(evs)-1]; last.UserID != "u1" || last.Traits["plan"] != "b" {
		t.Fatalf("the server's last event: %s %v, want u1 plan b", last.UserID, last.Traits["plan"])
	}
	res, _ = e.run(t, `{"id":"u1","plan":"b"}`+"\n", segloop.Config{})
	if res[0].Status != loop.StatusUnchanged {
		t.Fatalf("after the run: u1 plan b is %s, want unchanged", res[0].Status)
	}
}

// TestDiffDryRun reports what would be sent and commits nothing.
func TestDiffDryRun(t *testing.T) {
	e := newDiffEnv(t, "")
	e.run(t, users(5, func(int) string { return "free" }), segloop.Config{})
	input := users(8, func(i int) string { return map[bool]string{true: "pro", false: "free"}[i == 2] })
	for range 2 {
		res, sum := e.run(t, input, segloop.Config{DryRun: true})
		if sum.OK != 4 || sum.Unchanged != 4 || sum.Requests != 0 {
			t.Fatalf("dry run: %+v; want 4 ok (u2 and the 3 new), 4 unchanged", byStatus(res))
		}
		if res[2].Status != loop.StatusOK || res[2].MessageID == "" {
			t.Fatalf("dry run: changed u2: %+v", res[2])
		}
	}
	if n := e.srv.Stats().Requests; n != 1 {
		t.Fatalf("the server got %d requests, want run 1's one", n)
	}
}

// TestDiffSkippedAndInvalid: items a checkpoint marks done are skipped (no
// lookup, no messageId) and their users count as sent; invalid items are
// reported as always.
func TestDiffSkippedAndInvalid(t *testing.T) {
	e := newDiffEnv(t, "")
	e.run(t, `{"id":"u1","plan":"a"}`+"\n", segloop.Config{})
	res, sum := e.run(t, `{"id":"u1","plan":"b"}`+"\n"+`{"email":"nobody"}`+"\n"+`{"id":"u1","plan":"a"}`+"\n",
		segloop.Config{Done: func(i int64) bool { return i == 0 }})
	if sum.Skipped != 1 || sum.Invalid != 1 || sum.OK != 1 {
		t.Fatalf("%+v; want 1 skipped, 1 invalid, 1 ok (u1 a after the skipped b)", byStatus(res))
	}
	if res[0].MessageID != "" {
		t.Errorf("skipped item has messageId %q in diff mode", res[0].MessageID)
	}
}

// TestDiffSameValuesAnyInput: the ledger compares events, not inputs: a CSV
// run, then JSON of the same values with keys in another order, is
// unchanged; a number spelled otherwise under the int filter too.
func TestDiffSameValuesAnyInput(t *testing.T) {
	e := newDiffEnv(t, "")
	m := `{"userId":"{{item.id}}","traits":{"plan":"{{item.plan}}","seats":"{{item.seats | int}}"}}`
	mp := mustMapping(t, m)
	src, err := source.Open(strings.NewReader("id,plan,seats\nu1,pro,12\nu2,free,3\n"), source.CSV, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, sum := runAll(t, segloop.Config{Source: src, Ledger: e.ledger, Client: e.client, RunKey: "k", Mapping: mp}); sum.OK != 2 {
		t.Fatalf("CSV run: %+v", sum)
	}
	res, _ := e.run(t, `{"seats":"12","plan":"pro","id":"u1"}`+"\n"+`{"plan":"free","seats":3.0,"id":"u2"}`+"\n", segloop.Config{Mapping: mp})
	for _, r := range res {
		if r.Status != loop.StatusUnchanged {
			t.Errorf("%s: %s after the CSV run, want unchanged", r.UserID, r.Status)
		}
	}
}

// TestDiffPostgresShared: two runs share a PostgreSQL ledger, each sending
// one half of a file at once; a run of the whole file is then unchanged.
func TestDiffPostgresShared(t *testing.T) {
	u, _ := testserver.SharedPostgres(t)
	a, b := newDiffEnv(t, u), newDiffEnv(t, u)
	const n = 2000
	lines := strings.SplitAfter(users(n, func(int) string { return "team" }), "\n")
	half1, half2 := strings.Join(lines[:n/2], ""), strings.Join(lines[n/2:], "")
	var wg sync.WaitGroup
	var s1, s2 segloop.Summary
	wg.Go(func() { _, s1 = a.run(t, half1, segloop.Config{}) })
	wg.Go(func() { _, s2 = b.run(t, half2, segloop.Config{}) })
	wg.Wait()
	if s1.OK != n/2 || s2.OK != n/2 {
		t.Fatalf("halves: %d and %d ok, want %d each", s1.OK, s2.OK, n/2)
	}
	res, sum := a.run(t, strings.Join(lines, ""), segloop.Config{})
	if sum.Unchanged != n {
		t.Fatalf("whole file after the halves: %+v, want %d unchanged", byStatus(res), n)
	}
}

// failingLedger is a ledger whose commits fail.
type failingLedger struct{ *ledger.Ledger }

func (failingLedger) Commit(context.Context, []ledger.Entry) error { return fmt.Errorf("disk full") }

// TestDiffCommitFails: a ledger that cannot record what was accepted stops
// the run with ErrLedger; every item read still has its result.
func TestDiffCommitFails(t *testing.T) {
	e := newDiffEnv(t, "")
	src, err := source.Open(strings.NewReader(users(3000, func(int) string { return "x" })), source.NDJSON, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	sum, err := segloop.Run(context.Background(), segloop.Config{
		Source: src, RunKey: "k", Client: e.client, Ledger: failingLedger{e.ledger},
		OnResult: func(segloop.Result) { n++ },
	})
	if !errors.Is(err, segloop.ErrLedger) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Run: %v, want ErrLedger", err)
	}
	if int64(n) != sum.Read || sum.Read == 0 {
		t.Fatalf("%d results for %d items read", n, sum.Read)
	}
}

func mustMapping(t *testing.T, text string) *mapping.Mapping {
	t.Helper()
	m, err := mapping.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
