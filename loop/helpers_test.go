package loop_test

import (
	"context"
	"io"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/segloop/segloop/loop"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sliceSource yields n items with Value = index; the indexes in bad are invalid, those in
// settled come settled with that status, and keys gives item i the key keys[i] (when
// keys is long enough).
type sliceSource struct {
	n, size int
	bad     map[int64]bool
	settled map[int64]loop.Status
	keys    []string
	i       int64
}

func (s *sliceSource) Next(ctx context.Context) (loop.Item[int], error) {
	if err := ctx.Err(); err != nil {
		return loop.Item[int]{}, err
	}
	if s.i >= int64(s.n) {
		return loop.Item[int]{}, io.EOF
	}
	it := loop.Item[int]{Index: s.i, Line: int(s.i) + 2, Size: s.size, Value: int(s.i)}
	if s.bad[s.i] {
		it.Err = errInvalid
	}
	it.Settled = s.settled[s.i]
	if s.i < int64(len(s.keys)) {
		it.Key = s.keys[s.i]
	}
	s.i++
	return it, nil
}

// collector records every Result; OnResult is its method.
type collector struct {
	mu  sync.Mutex
	res []loop.Result[int]
}

func (c *collector) add(r loop.Result[int]) {
	c.mu.Lock()
	c.res = append(c.res, r)
	c.mu.Unlock()
}

// byIndex checks that every index in [0, n) has exactly one result and returns them in
// index order.
func (c *collector) byIndex(t *testing.T, n int) []loop.Result[int] {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.res) != n {
		t.Fatalf("got %d results, want %d", len(c.res), n)
	}
	out := make([]loop.Result[int], n)
	seen := make([]bool, n)
	for _, r := range c.res {
		i := r.Item.Index
		if i < 0 || i >= int64(n) || seen[i] {
			t.Fatalf("index %d out of range or seen twice", i)
		}
		seen[i] = true
		out[i] = r
	}
	return out
}

type testError string

func (e testError) Error() string { return string(e) }

const (
	errInvalid   = testError("invalid item")
	errTransient = testError("503 unavailable")
	errBad       = testError("400 bad request")
	errAuth      = testError("401 unauthorized")
	errThrottle  = testError("429 too many requests")
	errSystemic  = testError("404 not found")
)
