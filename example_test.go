package segloop_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/ledger"
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

// ExampleConfig_ledger is a nightly sync in diff mode: the second night
// sends only the user whose event changed.
func ExampleConfig_ledger() {
	srv := segmenttest.NewServer(segmenttest.Options{})
	defer srv.Close()
	client, err := segment.NewClient(segment.Config{WriteKey: "my-write-key", Endpoint: srv.URL})
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "segloop-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	l, err := ledger.Open(context.Background(), filepath.Join(dir, "users.ledger"), segloop.LedgerDestination(srv.URL, "my-write-key"))
	if err != nil {
		panic(err)
	}
	defer l.Close()

	for night, rows := range []string{
		"id,plan\nu1,pro\nu2,team\nu3,free\n",
		"id,plan\nu1,pro\nu2,business\nu3,free\n", // u2 changed
	} {
		src, err := source.Open(strings.NewReader(rows), source.CSV, source.Options{})
		if err != nil {
			panic(err)
		}
		sum, err := segloop.Run(context.Background(), segloop.Config{Source: src, RunKey: "nightly", Client: client, Ledger: l})
		if err != nil {
			panic(err)
		}
		fmt.Printf("night %d: %d ok, %d unchanged\n", night+1, sum.OK, sum.Unchanged)
	}
	fmt.Println("events at the server:", srv.Stats().Unique)
	// Output:
	// night 1: 3 ok, 0 unchanged
	// night 2: 1 ok, 2 unchanged
	// events at the server: 4
}
