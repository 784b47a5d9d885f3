package segloop_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/mapping"
)

// TestDuplicateMessageIDs: Segment silently drops an event whose messageId
// it has seen; within a run, the later items of a repeated messageId are
// invalid instead, naming the line of the first.
func TestDuplicateMessageIDs(t *testing.T) {
	t.Run("a mapping whose messageId is not unique", func(t *testing.T) {
		m, err := mapping.Parse([]byte(`{"userId":"{{item.id}}","messageId":"import-{{item.plan}}"}`))
		if err != nil {
			t.Fatal(err)
		}
		src := csvSource(t, "id,plan\nu0,pro\nu1,free\nu2,pro\nu3,team\nu4,pro\n")
		results, sum := runAll(t, segloop.Config{Source: src, Mapping: m, RunKey: "k", DryRun: true})
		if sum.OK != 3 || sum.Invalid != 2 {
			t.Fatalf("summary %+v, want 3 ok and 2 invalid", sum.Summary)
		}
		for _, i := range []int{2, 4} {
			r := results[i]
			var de *segloop.DuplicateMessageIDError
			if r.Status != loop.StatusInvalid || !errors.As(r.Err, &de) || !errors.Is(r.Err, segloop.ErrDuplicateMessageID) {
				t.Fatalf("item %d: %+v, want invalid with a *DuplicateMessageIDError", i, r)
			}
			if de.FirstLine != 2 || de.MessageID != "import-pro" || !strings.Contains(r.Err.Error(), "line 2") {
				t.Errorf("item %d: %v, want it to name line 2", i, r.Err)
			}
		}
	})
	t.Run("a failed-items file with a repeated _messageId", func(t *testing.T) {
		src := csvSource(t, "id,_messageId\nu0,m-1\nu1,m-2\nu2,m-1\n")
		results, sum := runAll(t, segloop.Config{Source: src, RunKey: "k", DryRun: true})
		if sum.OK != 2 || sum.Invalid != 1 || results[2].Status != loop.StatusInvalid || !strings.Contains(results[2].Err.Error(), "line 2") {
			t.Fatalf("summary %+v, item 2 %+v", sum.Summary, results[2])
		}
	})
	t.Run("generated messageIds", func(t *testing.T) {
		src := csvSource(t, "id\nu0\nu0\nu0\n") // one user three times: three items, three ids
		_, sum := runAll(t, segloop.Config{Source: src, RunKey: "k", DryRun: true})
		if sum.OK != 3 {
			t.Fatalf("summary %+v, want 3 ok", sum.Summary)
		}
	})
	t.Run("an item skipped by the checkpoint still holds its id", func(t *testing.T) {
		src := csvSource(t, "id,_messageId\nu0,m-1\nu1,m-1\n")
		results, _ := runAll(t, segloop.Config{Source: src, RunKey: "k", DryRun: true, Done: func(i int64) bool { return i == 0 }})
		if results[0].Status != loop.StatusSkipped || results[1].Status != loop.StatusInvalid {
			t.Fatalf("results %v, %v; want skipped, then invalid", results[0].Status, results[1].Status)
		}
	})
}
