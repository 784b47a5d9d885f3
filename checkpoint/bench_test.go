package checkpoint_test

import (
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segloop/segloop/checkpoint"
)

// BenchmarkMark measures Mark for in-order marks, the nearly in-order marks
// of a worker pool and marks from parallel goroutines, with the writer idle
// (a long Interval), and in order with the writer busy every millisecond.
func BenchmarkMark(b *testing.B) {
	open := func(b *testing.B) *checkpoint.File {
		return openBench(b, time.Hour)
	}
	b.Run("in order", func(b *testing.B) {
		f := open(b)
		b.ReportAllocs()
		for i := range b.N {
			if err := f.Mark(int64(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jittered", func(b *testing.B) {
		f := open(b)
		order := jittered(1<<16, 64)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if err := f.Mark(int64(i>>16)<<16 + order[i&(1<<16-1)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("in order writing every ms", func(b *testing.B) {
		// The background writer runs while marking: Mark never waits on I/O.
		f := openBench(b, time.Millisecond)
		b.ReportAllocs()
		for i := range b.N {
			if err := f.Mark(int64(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		f := open(b)
		var next atomicCounter
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := f.Mark(next.inc()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func openBench(b *testing.B, interval time.Duration) *checkpoint.File {
	b.Helper()
	f, err := checkpoint.Open(filepath.Join(b.TempDir(), "c"), "fp", checkpoint.Options{Interval: interval})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	return f
}

// BenchmarkDone measures Done below the watermark and among gaps.
func BenchmarkDone(b *testing.B) {
	f, err := checkpoint.Open(filepath.Join(b.TempDir(), "c"), "fp", checkpoint.Options{Interval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const n = 1 << 20
	for i := int64(0); i < n; i++ {
		if i < n/2 || i%10 != 0 { // 52k gaps in the upper half
			_ = f.Mark(i)
		}
	}
	b.Run("below watermark", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			_ = f.Done(int64(i) & (n/2 - 1))
		}
	})
	b.Run("among gaps", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			_ = f.Done(n/2 + int64(i)&(n/2-1))
		}
	})
}

// BenchmarkFlush measures one durable write (temp file, fsync, rename,
// directory fsync) of a record with the given number of gaps.
func BenchmarkFlush(b *testing.B) {
	for _, gaps := range []int{0, 1000, 100000} {
		b.Run(strconv.Itoa(gaps)+" gaps", func(b *testing.B) {
			f, err := checkpoint.Open(filepath.Join(b.TempDir(), "c"), "fp", checkpoint.Options{Interval: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			for g := range gaps {
				_ = f.Mark(int64(2 * g))
			}
			b.ReportAllocs()
			i := int64(2 * gaps)
			for range b.N {
				_ = f.Mark(i) // make it dirty; extends the last range
				i++
				if err := f.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// atomicCounter hands out 0, 1, 2, ... to parallel benchmark goroutines.
type atomicCounter struct{ v atomic.Int64 }

func (c *atomicCounter) inc() int64 { return c.v.Add(1) - 1 }
