package segloop_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/segment/segmenttest"
)

// finalTraits replays the events a server accepted, in the order it accepted them, the
// way Segment applies them: a messageId seen before is dropped, and a later identify of
// a user overwrites the traits it carries. It returns each user's last accepted traits.
//
// segmenttest appends a request's events to its log before it writes the answer, so an
// event the client sent only after another one's answer is always logged after it: the
// log's order is an order in which the server accepted them.
func finalTraits(events []segmenttest.Event) map[string]map[string]any {
	seen := map[string]bool{}
	final := map[string]map[string]any{}
	for _, ev := range events {
		if seen[ev.MessageID] {
			continue
		}
		seen[ev.MessageID] = true
		final[ev.UserID] = ev.Traits
	}
	return final
}

// TestRunKeepsOrderPerUser is issue 10's acceptance test for defect 2: 200 users each on
// 5 rows with changing traits (a user's rows 200 rows apart, so in different batches
// that run in parallel), batches of 100, 8 requests in flight, a server answering 10% of
// requests 503 and resetting 5%: Segment must end with every user's last row.
func TestRunKeepsOrderPerUser(t *testing.T) {
	const users, versions = 200, 5
	var sb strings.Builder
	sb.WriteString("id,plan,version\n")
	for v := range versions {
		for u := range users {
			fmt.Fprintf(&sb, "u%03d,plan-%d,%d\n", u, v, v)
		}
	}
	input := sb.String()
	for seed := range int64(20) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			srv := segmenttest.NewServer(segmenttest.Options{FailRate: 0.10, ResetRate: 0.05, Seed: seed, KeepEvents: true})
			defer srv.Close()
			client, err := segment.NewClient(segment.Config{WriteKey: "k", Endpoint: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			var failed int
			sum, err := segloop.Run(context.Background(), segloop.Config{
				Source: csvSource(t, input), RunKey: "order", Client: client,
				BatchSize: 100, Concurrency: 8,
				MaxAttempts: 12, // 0.15^12: no request gives up, so every last row is delivered
				OnResult: func(r segloop.Result) {
					if r.Status != "ok" {
						failed++
					}
				},
			})
			if err != nil || sum.OK != users*versions || failed != 0 {
				t.Fatalf("Run: %v, summary %+v", err, sum)
			}
			final := finalTraits(srv.Events())
			wrong := 0
			for u := range users {
				id := fmt.Sprintf("u%03d", u)
				if got := final[id]["plan"]; got != fmt.Sprint("plan-", versions-1) {
					if wrong < 5 {
						t.Errorf("user %s ends with plan %v, want plan-%d (its last row)", id, got, versions-1)
					}
					wrong++
				}
			}
			if wrong > 0 {
				t.Errorf("%d of %d users end with an older row; server saw %+v", wrong, users, srv.Stats())
			}
		})
	}
}
