package loop_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/segloop/segloop/loop"
)

// words is a Source of the words of a text; an empty word is invalid.
type words struct {
	w []string
	i int
}

func (s *words) Next(ctx context.Context) (loop.Item[string], error) {
	if s.i == len(s.w) {
		return loop.Item[string]{}, io.EOF
	}
	it := loop.Item[string]{Index: int64(s.i), Line: s.i + 1, Value: s.w[s.i]}
	if it.Value == "" {
		it.Err = errors.New("empty word")
	}
	s.i++
	return it, nil
}

// Example sends words in batches of two (the invalid empty word does not take a place);
// the remote end refuses any batch holding "bad", so that batch is bisected and its good
// word still goes through.
func Example() {
	src := &words{w: strings.Split("alpha,beta,,gamma,bad,delta", ",")}
	send := loop.ActionFunc[string](func(ctx context.Context, batch []loop.Item[string], attempt int) (int, error) {
		for _, it := range batch {
			if it.Value == "bad" {
				return 400, errors.New("bad request")
			}
		}
		return 200, nil
	})
	results := map[int64]loop.Result[string]{}
	sum, err := loop.Run(context.Background(), src, send, loop.Options[string]{
		Concurrency: 1,
		BatchSize:   2,
		Classify: func(code int, err error) loop.Verdict {
			return loop.Verdict{Retry: code >= 500} // 4xx: permanent
		},
		OnResult: func(r loop.Result[string]) { results[r.Item.Index] = r },
	})
	for i := range int64(len(results)) {
		r := results[i]
		fmt.Printf("%d %-6s %-7s attempts=%d err=%v\n", r.Item.Index, r.Item.Value, r.Status, r.Attempts, r.Err)
	}
	fmt.Printf("ok=%d invalid=%d failed=%d requests=%d splits=%d err=%v\n",
		sum.OK, sum.Invalid, sum.Failed, sum.Requests, sum.Splits, err)
	// Output:
	// 0 alpha  ok      attempts=1 err=<nil>
	// 1 beta   ok      attempts=1 err=<nil>
	// 2        invalid attempts=0 err=empty word
	// 3 gamma  ok      attempts=2 err=<nil>
	// 4 bad    failed  attempts=2 err=bad request
	// 5 delta  ok      attempts=1 err=<nil>
	// ok=4 invalid=1 failed=1 requests=5 splits=1 err=<nil>
}
