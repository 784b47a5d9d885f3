package segloop_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/segment/segmenttest"
	"github.com/segloop/segloop/source"
)

// csvSource returns a source of the CSV text.
func csvSource(t *testing.T, text string) source.Reader {
	t.Helper()
	src, err := source.Open(strings.NewReader(text), source.CSV, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// runAll runs cfg and returns its results in index order.
func runAll(t *testing.T, cfg segloop.Config) ([]segloop.Result, segloop.Summary) {
	t.Helper()
	var results []segloop.Result
	cfg.OnResult = func(r segloop.Result) { results = append(results, r) }
	sum, err := segloop.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	slices.SortFunc(results, func(a, b segloop.Result) int { return int(a.Index - b.Index) })
	return results, sum
}

const rows = "id,email,plan\nu0,a@example.com,pro\nu1,b@example.com,pro\n,c@example.com,free\nu3,d@example.com,team\n"

func TestRunConfigErrors(t *testing.T) {
	src := csvSource(t, rows)
	for name, cfg := range map[string]segloop.Config{
		"no source":  {RunKey: "k", DryRun: true},
		"no run key": {Source: src, DryRun: true},
		"no client":  {Source: src, RunKey: "k"},
	} {
		if _, err := segloop.Run(context.Background(), cfg); !errors.Is(err, segloop.ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
}

func TestRunDoneItemsAreSkipped(t *testing.T) {
	srv := segmenttest.NewServer(segmenttest.Options{})
	defer srv.Close()
	client, err := segment.NewClient(segment.Config{WriteKey: "k", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	results, sum := runAll(t, segloop.Config{
		Source: csvSource(t, rows), RunKey: "run", Client: client,
		Done: func(i int64) bool { return i == 0 || i == 3 },
	})
	want := []loop.Status{loop.StatusSkipped, loop.StatusOK, loop.StatusInvalid, loop.StatusSkipped}
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	for i, r := range results {
		if r.Status != want[i] {
			t.Errorf("item %d: %s, want %s", i, r.Status, want[i])
		}
	}
	if results[0].MessageID != segment.MessageID("run", 0, "u0") {
		t.Errorf("a skipped item keeps its messageId: got %q", results[0].MessageID)
	}
	if sum.Skipped != 2 || sum.OK != 1 || sum.Invalid != 1 || srv.Stats().Unique != 1 {
		t.Errorf("summary %+v, server %d; want 2 skipped, 1 ok, 1 invalid, 1 delivered", sum, srv.Stats().Unique)
	}
}

func TestRunDryRunSendsNothing(t *testing.T) {
	results, sum := runAll(t, segloop.Config{Source: csvSource(t, rows), RunKey: "run", DryRun: true, KeepSource: true})
	if sum.OK != 3 || sum.Invalid != 1 || sum.Requests != 0 {
		t.Fatalf("summary %+v, want 3 ok, 1 invalid, 0 requests", sum)
	}
	for _, r := range results {
		if r.Attempts != 0 || r.Code != 0 {
			t.Errorf("dry-run result %+v claims a request", r)
		}
		if len(r.Cells) != 3 {
			t.Errorf("KeepSource: result %d has cells %q", r.Index, r.Cells)
		}
	}
}

func TestRunKeepsResentMessageID(t *testing.T) {
	results, _ := runAll(t, segloop.Config{
		Source: csvSource(t, "id,_messageId\nu0,sl-first-run-id\nu1,\n"), RunKey: "run", DryRun: true,
	})
	if results[0].MessageID != "sl-first-run-id" || results[1].MessageID != segment.MessageID("run", 1, "u1") {
		t.Fatalf("messageIds %q, %q", results[0].MessageID, results[1].MessageID)
	}
}
