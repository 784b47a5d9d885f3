package serve_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/runstore"
	"github.com/segloop/segloop/segment/segmenttest"
	"github.com/segloop/segloop/serve"
)

func TestMain(m *testing.M) { testserver.Main(m) }

// shortTimings make takeovers quick in tests.
var shortTimings = serve.Timings{Slice: 500 * time.Millisecond, Lease: 2 * time.Second, Reconcile: 200 * time.Millisecond}

// replica starts a server named name on the PostgreSQL store at url,
// against seg, with cfg's Timings or else shortTimings; stop it with the
// returned func (also at cleanup).
func replica(t *testing.T, url, name string, seg *segmenttest.Server, logs *syncBuffer, cfg serve.Config) (base string, stop func()) {
	t.Helper()
	st, err := runstore.Open(context.Background(), url, runstore.Options{ChunkItems: 200})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Endpoint, cfg.EndpointName, cfg.Replica, cfg.Token = st, seg.URL, "segmenttest", name, testToken
	if cfg.Timings == (serve.Timings{}) {
		cfg.Timings = shortTimings
	}
	cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})).With("replica", name)
	srv, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve %s: %v", name, err)
		}
		st.Close()
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}

// TestSharedStoreTwoReplicas: two servers on one PostgreSQL database share
// a run: both work parts of it, either answers for it, every item has one
// result under one messageId.
func TestSharedStoreTwoReplicas(t *testing.T) {
	url, password := testserver.SharedPostgres(t)
	seg := segmenttest.NewServer(segmenttest.Options{Latency: 2 * time.Millisecond})
	t.Cleanup(seg.Close)
	logs := &syncBuffer{}
	cfg := serve.Config{WriteKey: testWriteKey, Batch: 20, MaxRuns: 2, Limit: ratelimit.Config{Rate: 0}}
	a, _ := replica(t, url, "replica-a", seg, logs, cfg)
	b, _ := replica(t, url, "replica-b", seg, logs, cfg)
	ea := &env{t: t, seg: seg, url: a, logs: logs}
	eb := &env{t: t, seg: seg, url: b, logs: logs}
	const n = 4000
	var created struct{ ID string }
	ea.json("POST", "/v1/runs", map[string]any{"items": items(n)}, 202, &created)
	r := eb.waitRun(created.ID)
	if r.Status != "succeeded" || r.Counts.OK != n {
		t.Fatalf("run %+v\n%s", r, logs)
	}
	replicas := map[string]bool{}
	var sum int64
	for _, w := range r.Workers {
		replicas[w.Replica] = true
		sum += w.Results
	}
	if !replicas["replica-a"] || !replicas["replica-b"] || sum != n {
		t.Fatalf("workers %+v; want both replicas, %d results", r.Workers, n)
	}
	res := eb.results(created.ID, "")
	seen := map[string]bool{}
	for i, l := range res {
		if l.Index != int64(i) || seen[l.MessageID] {
			t.Fatalf("result %d: index %d, messageId %s seen before", i, l.Index, l.MessageID)
		}
		seen[l.MessageID] = true
	}
	if len(res) != n || len(seg.Delivered()) != n {
		t.Fatalf("%d results, %d delivered; want %d", len(res), len(seg.Delivered()), n)
	}
	if strings.Contains(logs.String(), password) {
		t.Fatal("the database password is in the logs")
	}
}

// TestSharedStoreReplicasStartAtOnce: replicas starting at once on an empty
// database all migrate it (runstore's schema and River's) without error.
func TestSharedStoreReplicasStartAtOnce(t *testing.T) {
	url, _ := testserver.SharedPostgres(t)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			st, err := runstore.Open(context.Background(), url, runstore.Options{})
			if err != nil {
				errs <- err
				return
			}
			defer st.Close()
			_, err = serve.New(serve.Config{Store: st, WriteKey: testWriteKey})
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
