package loop

import (
	"context"
	"strconv"
	"testing"
)

// BenchmarkOrder measures the order per key's cost per item when no key repeats while
// it is out: one admit, and one release per batch of 100.
func BenchmarkOrder(b *testing.B) {
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = "u" + strconv.Itoa(1000000+i)
	}
	o := newOrder[int](DefaultMaxHeld)
	batch := make([]Item[int], 0, 100)
	ctx := context.Background()
	b.ReportAllocs()
	for i := range b.N {
		it := Item[int]{Index: int64(i), Key: keys[i&(1<<16-1)]}
		if !o.admit(ctx, it) {
			b.Fatal("held")
		}
		batch = append(batch, it)
		if len(batch) == cap(batch) {
			o.release(batch)
			batch = batch[:0]
		}
	}
}
