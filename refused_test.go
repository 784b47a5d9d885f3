package segloop_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/segment/segmenttest"
)

// TestRunRefusals: a 400 on a batch is about its items, so the batch is bisected and the
// good items still go through; a 404 is about the endpoint, so batches are not split and
// the run aborts after a few.
func TestRunRefusals(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("id,email\n,no-id@example.com\n") // an invalid row, then 39 valid ones
	for i := range 39 {
		fmt.Fprintf(&sb, "u%d,u%d@example.com\n", i, i)
	}
	tests := []struct {
		name      string
		path      string // appended to the server's URL
		script    []segmenttest.Response
		wantAbort bool
	}{
		{name: "400 on one batch", script: []segmenttest.Response{{Status: 400}}},
		{name: "404 on every request", path: "/typo", wantAbort: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := segmenttest.NewServer(segmenttest.Options{})
			defer srv.Close()
			srv.Script(tt.script...)
			client, err := segment.NewClient(segment.Config{WriteKey: "k", Endpoint: srv.URL + tt.path})
			if err != nil {
				t.Fatal(err)
			}
			var results []segloop.Result
			sum, err := segloop.Run(context.Background(), segloop.Config{
				Source: csvSource(t, sb.String()), RunKey: "r", Client: client, Concurrency: 1, BatchSize: 4,
				OnResult: func(r segloop.Result) { results = append(results, r) },
			})
			var re *loop.RefusedError
			if tt.wantAbort != errors.As(err, &re) {
				t.Fatalf("Run = %v, want an abort: %v", err, tt.wantAbort)
			}
			if int64(len(results)) != sum.Read || sum.Read == 0 {
				t.Fatalf("%d results for %d items read, want one each", len(results), sum.Read)
			}
			switch {
			case tt.wantAbort && (sum.Splits != 0 || sum.Requests > loop.MaxSystemic):
				t.Errorf("summary %+v: want no split and at most %d requests", sum, loop.MaxSystemic)
			case !tt.wantAbort && (sum.Splits == 0 || sum.OK != 39 || srv.Stats().Unique != 39):
				t.Errorf("summary %+v, server %+v: want the batch split and every valid item delivered", sum, srv.Stats())
			}
		})
	}
}
