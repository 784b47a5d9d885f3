package runstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/runstore"
)

func TestMain(m *testing.M) { testserver.Main(m) }

// clock is a settable clock for leases.
type clock struct{ ms atomic.Int64 }

func (c *clock) now() time.Time      { return time.UnixMilli(c.ms.Load()) }
func (c *clock) add(d time.Duration) { c.ms.Add(d.Milliseconds()) }
func newClock() *clock               { c := &clock{}; c.ms.Store(time.Now().UnixMilli()); return c }

// kinds runs fn against a SQLite file and a PostgreSQL database.
func kinds(t *testing.T, fn func(t *testing.T, open func(runstore.Options) *runstore.Store)) {
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "runs.db")
		fn(t, func(o runstore.Options) *runstore.Store {
			st, err := runstore.Open(context.Background(), path, o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		})
	})
	t.Run("postgres", func(t *testing.T) {
		url, _ := testserver.SharedPostgres(t)
		fn(t, func(o runstore.Options) *runstore.Store {
			st, err := runstore.Open(context.Background(), url, o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		})
	})
}

// TestLeaseFencesResults: a part is held by one worker at a time; once its
// lease runs out and it is taken over (a new epoch), the old worker can
// write nothing more, and the new one resumes from what was stored.
func TestLeaseFencesResults(t *testing.T) {
	kinds(t, func(t *testing.T, open func(runstore.Options) *runstore.Store) {
		ctx := context.Background()
		clk := newClock()
		st := open(runstore.Options{Now: clk.now, ChunkItems: 100})
		run := commit(t, st, 1000, "wk-lease") // 250 items a part: 3 chunks each
		if run.Parts != 4 || run.Items != 1000 {
			t.Fatalf("run = %+v", run)
		}
		ref := runstore.PartRef{Run: run.Seq, Part: 1}
		a, err := st.Claim(ctx, ref, "replica-a", 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if a.Chunks != 3 || a.Next != 0 || a.Run.Status != runstore.Running {
			t.Fatalf("lease: %d chunks, next %d, run %s", a.Chunks, a.Next, a.Run.Status)
		}
		if _, err := st.Claim(ctx, ref, "replica-b", 10*time.Second); !errors.Is(err, runstore.ErrHeld) {
			t.Fatalf("second claim = %v; want ErrHeld", err)
		}
		items, total, err := a.Pending(ctx, 0)
		if err != nil || total != 100 || len(items) != 100 || items[0].Index != 1 || items[1].Index != 5 {
			t.Fatalf("pending: %d of %d, %v", len(items), total, err)
		}
		var rs []runstore.Result
		for _, it := range items[:40] {
			rs = append(rs, runstore.Result{Index: it.Index, Status: "ok", Line: fmt.Appendf(nil, "a%d\n", it.Index)})
		}
		if err := a.Record(ctx, 0, rs); err != nil {
			t.Fatal(err)
		}
		// a's replica dies: its lease runs out, and the part is taken over.
		clk.add(11 * time.Second)
		expired, err := st.ExpireLeases(ctx)
		if err != nil || len(expired) != 1 || expired[0] != (runstore.PartRef{Run: run.Seq, Part: 1, Epoch: 1}) {
			t.Fatalf("ExpireLeases = %v, %v", expired, err)
		}
		if _, err := st.Claim(ctx, ref, "replica-a", time.Second); !errors.Is(err, runstore.ErrStale) {
			t.Fatalf("claim at the old epoch = %v; want ErrStale", err)
		}
		b, err := st.Claim(ctx, expired[0], "replica-b", 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		late := []runstore.Result{{Index: items[50].Index, Status: "failed", Line: []byte("late\n")}}
		if err := a.Record(ctx, 0, late); !errors.Is(err, runstore.ErrLost) {
			t.Fatalf("the old worker's Record = %v; want ErrLost", err)
		}
		if _, _, err := a.Renew(ctx, time.Second); !errors.Is(err, runstore.ErrLost) {
			t.Fatalf("the old worker's Renew = %v; want ErrLost", err)
		}
		left, _, _ := b.Pending(ctx, 0)
		if len(left) != 60 || left[0].Index != items[40].Index {
			t.Fatalf("after takeover %d pending, first %d", len(left), left[0].Index)
		}
		got, _ := st.Get(ctx, run.ID)
		if got.Counts.OK != 40 || got.Counts.Failed != 0 {
			t.Fatalf("counts %+v", got.Counts)
		}
		// A stop request reaches the holder at its next renewal.
		if err := st.RequestStop(ctx, run.ID, runstore.Cancelled, "run cancelled"); err != nil {
			t.Fatal(err)
		}
		if stop, msg, err := b.Renew(ctx, time.Second); err != nil || stop != runstore.Cancelled || msg != "run cancelled" {
			t.Fatalf("Renew = %q %q %v", stop, msg, err)
		}
	})
}

// TestResultsMergeInIndexOrder: results recorded per part, in groups out
// of order, stream back in index order, with the status and after filters;
// the last part done finishes the run and deletes its write key; a retry
// keeps the failed items' indexes, lines and parts.
func TestResultsMergeInIndexOrder(t *testing.T) {
	kinds(t, func(t *testing.T, open func(runstore.Options) *runstore.Store) {
		ctx := context.Background()
		st := open(runstore.Options{ChunkItems: 64})
		const n = 1000
		run := commit(t, st, n, "wk-merge")
		for part := range run.Parts {
			l, err := st.Claim(ctx, runstore.PartRef{Run: run.Seq, Part: part}, fmt.Sprintf("r%d", part%2), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			for no := l.Chunks - 1; no >= 0; no-- { // chunks in reverse, groups in reverse
				items, _, _ := l.Pending(ctx, no)
				for len(items) > 0 {
					k := min(len(items), 7)
					var rs []runstore.Result
					for _, it := range items[len(items)-k:] {
						status := "ok"
						if it.Index%10 == 3 {
							status = "failed"
						}
						rs = append(rs, runstore.Result{Index: it.Index, Status: status, Line: fmt.Appendf(nil, "%d\n", it.Index)})
					}
					if err := l.Record(ctx, no, rs); err != nil {
						t.Fatal(err)
					}
					items = items[:len(items)-k]
				}
			}
			_, finished, err := l.Done(ctx)
			if err != nil || finished != (part == run.Parts-1) {
				t.Fatalf("Done part %d: finished %v, %v", part, finished, err)
			}
		}
		got, _ := st.Get(ctx, run.ID)
		if got.Status != runstore.CompletedWithFailures || got.Counts.Failed != n/10 || got.Counts.OK != n-n/10 {
			t.Fatalf("run %s %+v", got.Status, got.Counts)
		}
		if _, ok, _ := st.WriteKey(ctx, run.ID); ok {
			t.Fatal("the write key outlived the run")
		}
		check := func(status string, after int64, want []int64) {
			t.Helper()
			var idx []int64
			err := st.Results(ctx, run.ID, status, after, func(i int64, line []byte) error {
				if string(line) != fmt.Sprintf("%d\n", i) {
					t.Fatalf("line %q for index %d", line, i)
				}
				idx = append(idx, i)
				return nil
			})
			if err != nil || fmt.Sprint(idx) != fmt.Sprint(want) {
				t.Fatalf("Results(%q, %d) = %v, %v; want %v", status, after, idx[:min(len(idx), 20)], err, want[:min(len(want), 20)])
			}
		}
		var all, failed, after []int64
		for i := range int64(n) {
			all = append(all, i)
			if i%10 == 3 {
				failed = append(failed, i)
			}
			if i > 500 {
				after = append(after, i)
			}
		}
		check("", -1, all)
		check("failed", -1, failed)
		check("", 500, after)
		ws, err := st.Workers(ctx, run.ID)
		if err != nil || len(ws) != 2 || ws[0].Replica != "r0" || ws[0].Results+ws[1].Results != n {
			t.Fatalf("Workers = %+v, %v", ws, err)
		}
		retry, err := st.NewRetry(ctx, run.ID, runstore.New{RunKey: run.RunKey, Destination: run.Destination}, "")
		if err != nil || retry.Items != n/10 || retry.RetryOf != run.ID || retry.Status != runstore.Queued || retry.Parts != run.Parts {
			t.Fatalf("retry = %+v, %v", retry, err)
		}
		l, _ := st.Claim(ctx, runstore.PartRef{Run: retry.Seq, Part: 3}, "r", time.Minute)
		items, _, _ := l.Pending(ctx, 0)
		if len(items) != 50 || items[0].Index != 3 || items[0].Line != 5 || items[1].Index != 23 {
			t.Fatalf("retry part 3: %d items, first %+v", len(items), items[0])
		}
		if _, err := st.NewRetry(ctx, "nope", runstore.New{}, ""); !errors.Is(err, runstore.ErrNotFound) {
			t.Fatalf("retry of unknown run = %v", err)
		}
	})
}

// TestPostgresReplicasMigrateAtOnce: several processes opening one empty
// database at once all succeed (the schema is created once).
func TestPostgresReplicasMigrateAtOnce(t *testing.T) {
	url, password := testserver.SharedPostgres(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			st, err := runstore.Open(context.Background(), url, runstore.Options{})
			if err == nil {
				st.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// A refused password never shows in the error.
	bad := url[:len("postgres://segloop:")] + "wrong" + password + url[len("postgres://segloop:")+len(password):]
	_, err := runstore.Open(context.Background(), bad, runstore.Options{})
	if err == nil || contains(err.Error(), password) || contains(err.Error(), "wrong"+password) {
		t.Fatalf("Open with a wrong password = %v", err)
	}
}

func contains(s, sub string) bool {
	return sub != "" && len(s) >= len(sub) && (s == sub || index(s, sub) >= 0)
}

func index(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
