package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/segment/segmenttest"
)

// replicaArgs are the flags of a replica on the shared database db: short
// leases and slices, so a takeover takes seconds.
func replicaArgs(db, endpoint, name string, extra ...string) []string {
	return append([]string{"--db", db, "--endpoint", endpoint, "--replica", name,
		"--lease", "2s", "--slice", "1s", "--log-format", "json"}, extra...)
}

// runDetails is GET /v1/runs/{id} with its workers.
func (s *serveChild) details(t *testing.T, id string) (status string, workers map[string]int64) {
	t.Helper()
	res, err := http.Get(s.url + "/v1/runs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v struct {
		Status  string
		Workers []struct {
			Replica string
			Chunks  int64
		}
	}
	json.NewDecoder(res.Body).Decode(&v)
	workers = map[string]int64{}
	for _, w := range v.Workers {
		workers[w.Replica] = w.Chunks
	}
	return v.Status, workers
}

// usersInOrder is an NDJSON body of n items of n/per users, per items
// each, user i%users at item i with its position "n" in the input.
func usersInOrder(n, users int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "{\"id\":\"u%05d\",\"n\":%d}\n", i%users, i)
	}
	return b.String()
}

// checkUserOrder checks that every user's events reached segmenttest in
// input order (by the first delivery of each messageId).
func checkUserOrder(t *testing.T, srv *segmenttest.Server) {
	t.Helper()
	seen := map[string]bool{}
	last := map[string]float64{}
	for _, e := range srv.Events() {
		if seen[e.MessageID] {
			continue // a resend of an item delivered before
		}
		seen[e.MessageID] = true
		n, _ := e.Traits["n"].(float64)
		if prev, ok := last[e.UserID]; ok && n <= prev {
			t.Fatalf("user %s: item %v reached Segment after item %v", e.UserID, n, prev)
		}
		last[e.UserID] = n
	}
}

// TestServeThreeReplicas: three replicas on one PostgreSQL database and one
// Redis budget work one 30,000-item run against a Segment limited to 50
// requests/s; one is SIGKILLed mid-run. The run completes on the others:
// every item has exactly one result, no item went out under two
// messageIds, each user's items reached Segment in input order, and no
// request was sent inside a Retry-After window.
func TestServeThreeReplicas(t *testing.T) {
	db, password := testserver.SharedPostgres(t)
	rd := testserver.Redis(t, testserver.RedisOptions{})
	srv := newServer(t, segmenttest.Options{Rate: 50})
	const n, users = 30_000, 3_000
	// Two parts at a time per replica, eight parts: every replica is busy
	// from the start. One request at a time per part: the loop keeps order
	// within a part; across chunks and replicas is what this test checks.
	extra := []string{"--redis", rd.URL, "--rate", "50", "--batch", "100", "--max-runs", "1", "--concurrency", "1"}
	var reps []*serveChild
	for i := range 3 {
		reps = append(reps, startServe(t, replicaArgs(db, srv.URL, fmt.Sprintf("replica-%d", i+1), extra...)...))
	}
	start := time.Now()
	id := reps[0].post(t, "/v1/runs?runKey=replicas-1", "application/x-ndjson", strings.NewReader(usersInOrder(n, users)))["id"].(string)
	waitFor(t, "a third of the run delivered", func() bool { return srv.Stats().Events >= n/3 })
	if err := reps[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	reps[1].wait(t)
	if srv.Stats().Events >= n {
		t.Fatal("the run had finished before the kill")
	}
	waitFor(t, "the run to finish on the other replicas", func() bool {
		st, _ := reps[2].run(t, id)
		return st == "succeeded"
	})
	elapsed := time.Since(start)
	status, workers := reps[0].details(t, id)
	if status != "succeeded" || len(workers) != 3 {
		t.Fatalf("run %s, workers %v; want all three replicas", status, workers)
	}
	checkDelivery(t, srv, reps[2].results(t, id), n)
	checkUserOrder(t, srv)
	st := srv.Stats()
	t.Logf("%d requests in %v: %.1f requests/s combined (Segment's limit 50); %d answered 429; workers %v",
		st.Requests, elapsed.Round(time.Millisecond), float64(st.Requests)/elapsed.Seconds(), st.Throttled, workers)
	if st.EarlyRequests != 0 {
		t.Fatalf("%d requests inside a Retry-After window", st.EarlyRequests)
	}
	for _, r := range []*serveChild{reps[0], reps[2]} {
		r.cmd.Process.Signal(syscall.SIGTERM)
		if code := r.wait(t); code != 0 {
			t.Fatalf("exit %d after SIGTERM\n%s", code, r.stderr.String())
		}
		if strings.Contains(r.stderr.String(), password) {
			t.Fatal("the database password is in a replica's log")
		}
	}
}

// TestServeReplicasPostgresRestarted: PostgreSQL restarts mid-run under two
// replicas; they recover and the run completes, each item with one result
// under one messageId.
func TestServeReplicasPostgresRestarted(t *testing.T) {
	pg := testserver.Postgres(t)
	srv := newServer(t, segmenttest.Options{})
	const n = 6000
	extra := []string{"--rate", "100", "--batch", "20"}
	a := startServe(t, replicaArgs(pg.URL, srv.URL, "replica-a", extra...)...)
	b := startServe(t, replicaArgs(pg.URL, srv.URL, "replica-b", extra...)...)
	id := a.post(t, "/v1/runs", "application/x-ndjson", strings.NewReader(ndjsonUsers(n)))["id"].(string)
	waitFor(t, "a part of the run delivered", func() bool { return srv.Stats().Events >= n/4 })
	pg.Restart(t)
	if srv.Stats().Events >= n {
		t.Fatal("the run had finished before the restart")
	}
	waitFor(t, "the run to finish after the restart", func() bool {
		st, _ := b.run(t, id)
		return st == "succeeded"
	})
	checkDelivery(t, srv, a.results(t, id), n)
	for _, r := range []*serveChild{a, b} {
		r.cmd.Process.Signal(syscall.SIGTERM)
		if code := r.wait(t); code != 0 {
			t.Fatalf("exit %d after SIGTERM\n%s", code, r.stderr.String())
		}
	}
}
