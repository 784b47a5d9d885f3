package serve_test

import (
	"context"
	"testing"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/runstore"
	"github.com/segloop/segloop/segment/segmenttest"
	"github.com/segloop/segloop/serve"
)

// TestDefaultParts: without Config.Parts, a run in the embedded store has
// DefaultLocalParts parts (one process works it) and a run in a shared
// store DefaultParts (replicas work it together); Parts set wins in both.
func TestDefaultParts(t *testing.T) {
	parts := func(t *testing.T, st *runstore.Store, id string) int {
		t.Helper()
		run, err := st.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return run.Parts
	}
	post := func(e *env) string {
		var created struct{ ID string }
		e.json("POST", "/v1/runs", map[string]any{"items": items(10)}, 202, &created)
		e.waitRun(created.ID)
		return created.ID
	}
	t.Run("embedded", func(t *testing.T) {
		for _, c := range []struct{ set, want int }{{0, serve.DefaultLocalParts}, {5, 5}} {
			e := start(t, segmenttest.Options{}, serve.Config{Token: testToken, WriteKey: testWriteKey, Parts: c.set})
			if got := parts(t, e.st, post(e)); got != c.want {
				t.Errorf("Parts %d: a run has %d parts, want %d", c.set, got, c.want)
			}
		}
	})
	t.Run("shared", func(t *testing.T) {
		url, _ := testserver.SharedPostgres(t)
		seg := segmenttest.NewServer(segmenttest.Options{})
		t.Cleanup(seg.Close)
		st, err := runstore.Open(context.Background(), url, runstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		for _, c := range []struct{ set, want int }{{0, serve.DefaultParts}, {3, 3}} {
			logs := &syncBuffer{}
			base, stop := replica(t, url, "replica", seg, logs, serve.Config{WriteKey: testWriteKey, Parts: c.set, Limit: ratelimit.Config{Rate: 0}})
			e := &env{t: t, seg: seg, url: base, logs: logs}
			if got := parts(t, st, post(e)); got != c.want {
				t.Errorf("Parts %d: a run has %d parts, want %d", c.set, got, c.want)
			}
			stop()
		}
	})
}
