package segment_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/segloop/segloop/segment"
)

// Example sends one identify through the client and reads each answer with
// the classifier. The stand-in server rate-limits the first attempt.
func Example() {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Println("server: X-Retry-Count", r.Header.Get("X-Retry-Count"))
	}))
	defer srv.Close()

	client, err := segment.NewClient(segment.Config{WriteKey: "my-write-key", Endpoint: srv.URL})
	if err != nil {
		fmt.Println(err)
		return
	}
	in := segment.Identify{
		UserID:    "u-1001",
		Email:     "ada@example.com",
		Traits:    map[string]any{"plan": "pro"},
		MessageID: segment.MessageID("nightly", 0, "u-1001"),
	}
	event, err := in.AppendJSON(nil) // validates and serializes once
	if err != nil {
		fmt.Println("invalid:", err)
		return
	}
	fmt.Println(string(event))

	ctx := context.Background()
	for attempt := 0; attempt < 5; attempt++ {
		status, err := client.Identify(ctx, event, attempt)
		v := segment.Classify(err)
		fmt.Printf("attempt %d: status %d, verdict %+v\n", attempt, status, v)
		if err == nil || !v.Retry {
			break
		}
		// A real caller now waits v.RetryAfter (or its own backoff).
	}
	// Output:
	// {"type":"identify","messageId":"sl-ef609017545860061c27c63972080be2","userId":"u-1001","traits":{"plan":"pro","email":"ada@example.com"}}
	// attempt 0: status 429, verdict {Retry:true RetryAfter:2s Throttled:true Fatal:false Endpoint:false Immediate:false}
	// server: X-Retry-Count 1
	// attempt 1: status 200, verdict {Retry:false RetryAfter:0s Throttled:false Fatal:false Endpoint:false Immediate:false}
}

// ExamplePacker groups serialized events into batches under Segment's limits.
func ExamplePacker() {
	p := segment.NewPacker(2, 0) // at most 2 events per batch
	var batches [][][]byte
	for i := range 5 {
		ev, _ := (&segment.Identify{UserID: fmt.Sprint("u", i)}).AppendJSON(nil)
		if !p.Add(ev) {
			batches = append(batches, p.Take())
			p.Add(ev)
		}
	}
	if p.Len() > 0 {
		batches = append(batches, p.Take())
	}
	for _, b := range batches {
		fmt.Println(len(b), "events")
	}
	// Output:
	// 2 events
	// 2 events
	// 1 events
}

// ExampleValidationError shows the message of an invalid input.
func ExampleValidationError() {
	in := segment.Identify{UserID: "u1", Email: "x@"}
	fmt.Println(in.Validate())
	// Output:
	// email: "x@" is not a valid email address
}
