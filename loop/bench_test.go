package loop_test

import (
	"context"
	"io"
	"strconv"
	"testing"

	"github.com/segloop/segloop/loop"
)

// benchKeys are distinct keys, reused round robin: an item's key was last used 64Ki items
// before it, long finished, so keyed items are ordered but never held.
var benchKeys = func() []string {
	k := make([]string, 1<<16)
	for i := range k {
		k[i] = "user" + strconv.Itoa(i)
	}
	return k
}()

// countSource yields n items without allocating, keyed when keyed is set.
type countSource struct {
	i, n  int64
	keyed bool
}

func (s *countSource) Next(context.Context) (loop.Item[int], error) {
	if s.i == s.n {
		return loop.Item[int]{}, io.EOF
	}
	s.i++
	it := loop.Item[int]{Index: s.i - 1, Line: int(s.i), Value: int(s.i)}
	if s.keyed {
		it.Key = benchKeys[s.i&(1<<16-1)]
	}
	return it, nil
}

// BenchmarkRun measures the engine's own cost per item with a no-op action; ns/op and
// allocs/op are per item.
func BenchmarkRun(b *testing.B) {
	noop := loop.ActionFunc[int](func(context.Context, []loop.Item[int], int) (int, error) { return 200, nil })
	for _, bs := range []int{1, 100} {
		for _, conc := range []int{8, 0} {
			for _, keyed := range []bool{false, true} {
				name := "batch=" + strconv.Itoa(bs) + "/concurrency=" + strconv.Itoa(conc)
				if conc == 0 {
					name = "batch=" + strconv.Itoa(bs) + "/concurrency=auto"
				}
				if keyed {
					name += "/keys=distinct"
				} else {
					name += "/keys=none"
				}
				b.Run(name, func(b *testing.B) {
					b.ReportAllocs()
					var seen int64
					sum, err := loop.Run(b.Context(), &countSource{n: int64(b.N), keyed: keyed}, noop, loop.Options[int]{
						Concurrency: conc,
						BatchSize:   bs,
						OnResult:    func(r loop.Result[int]) { seen += r.Item.Index },
					})
					if err != nil || sum.OK != int64(b.N) {
						b.Fatalf("Run: %v, %+v", err, sum)
					}
				})
			}
		}
	}
}
