package segloop_test

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/segment/segmenttest"
	"github.com/segloop/segloop/source"
)

// Example runs the Loop node as a workflow engine's step would: items in,
// one result per item out. Here the items are CSV rows and Segment is the
// local segmenttest server.
func Example() {
	srv := segmenttest.NewServer(segmenttest.Options{})
	defer srv.Close()

	client, err := segment.NewClient(segment.Config{WriteKey: "my-write-key", Endpoint: srv.URL})
	if err != nil {
		panic(err)
	}
	rows := "id,email,plan\nu1,ada@example.com,pro\nu2,grace@example.com,team\n,nobody@example.com,free\n"
	src, err := source.Open(strings.NewReader(rows), source.CSV, source.Options{})
	if err != nil {
		panic(err)
	}

	var results []segloop.Result
	sum, err := segloop.Run(context.Background(), segloop.Config{
		Source:   src,
		RunKey:   "example-run",
		Client:   client,
		Limiter:  ratelimit.New(ratelimit.Config{Rate: 100}),
		OnResult: func(r segloop.Result) { results = append(results, r) },
	})
	if err != nil {
		panic(err)
	}
	slices.SortFunc(results, func(a, b segloop.Result) int { return int(a.Index - b.Index) })
	for _, r := range results {
		fmt.Printf("line %d %q: %s", r.Line, r.UserID, r.Status)
		if r.Err != nil {
			fmt.Printf(" (%v)", r.Err)
		}
		fmt.Println()
	}
	fmt.Printf("%d ok, %d invalid; the server has %d events\n", sum.OK, sum.Invalid, srv.Stats().Unique)
	// Output:
	// line 2 "u1": ok
	// line 3 "u2": ok
	// line 4 "": invalid (userId: userId or anonymousId is required)
	// 2 ok, 1 invalid; the server has 2 events
}
