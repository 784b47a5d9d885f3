package checkpoint_test

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/segloop/segloop/checkpoint"
)

func TestRangeSetAdd(t *testing.T) {
	tests := []struct {
		name      string
		adds      []int64
		want      [][2]int64
		wantNew   int // how many adds report a new member
		watermark int64
	}{
		{"empty", nil, nil, 0, 0},
		{"in order", []int64{0, 1, 2, 3}, [][2]int64{{0, 4}}, 4, 4},
		{"reverse order", []int64{3, 2, 1, 0}, [][2]int64{{0, 4}}, 4, 4},
		{"out of order", []int64{2, 0, 3, 1}, [][2]int64{{0, 4}}, 4, 4},
		{"duplicates", []int64{0, 0, 1, 1, 0}, [][2]int64{{0, 2}}, 2, 2},
		{"duplicate inside a span", []int64{5, 6, 7, 6}, [][2]int64{{5, 8}}, 3, 0},
		{"one gap", []int64{0, 1, 3, 4}, [][2]int64{{0, 2}, {3, 5}}, 4, 2},
		{"filling a gap joins", []int64{0, 1, 3, 4, 2}, [][2]int64{{0, 5}}, 5, 5},
		{"extend a middle span up", []int64{0, 5, 10, 6}, [][2]int64{{0, 1}, {5, 7}, {10, 11}}, 4, 1},
		{"extend a middle span down", []int64{0, 5, 10, 4}, [][2]int64{{0, 1}, {4, 6}, {10, 11}}, 4, 1},
		{"insert before all", []int64{10, 11, 3}, [][2]int64{{3, 4}, {10, 12}}, 3, 0},
		{"insert between", []int64{0, 10, 5}, [][2]int64{{0, 1}, {5, 6}, {10, 11}}, 3, 1},
		{"join first two of three", []int64{0, 2, 4, 1}, [][2]int64{{0, 3}, {4, 5}}, 4, 3},
		{"not starting at zero", []int64{7, 8}, [][2]int64{{7, 9}}, 2, 0},
		{"failed item stays a gap", []int64{0, 1, 2, 4, 5, 6, 7}, [][2]int64{{0, 3}, {4, 8}}, 7, 3},
		{"jittered window", []int64{1, 0, 3, 2, 6, 4, 5, 8, 7}, [][2]int64{{0, 9}}, 9, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r checkpoint.RangeSet
			gotNew := 0
			for _, i := range tt.adds {
				if r.Add(i) {
					gotNew++
				}
			}
			if got := r.Pairs(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("pairs = %v, want %v", got, tt.want)
			}
			if gotNew != tt.wantNew {
				t.Errorf("new adds = %d, want %d", gotNew, tt.wantNew)
			}
			if r.Len() != int64(tt.wantNew) {
				t.Errorf("Len = %d, want %d", r.Len(), tt.wantNew)
			}
			if got := r.Watermark(); got != tt.watermark {
				t.Errorf("Watermark = %d, want %d", got, tt.watermark)
			}
			for _, i := range tt.adds {
				if !r.Has(i) {
					t.Errorf("Has(%d) = false after Add", i)
				}
			}
			if r.Has(-1) {
				t.Error("Has(-1) = true")
			}
		})
	}
}

// TestRangeSetModel checks the set against a map under random adds with
// several access patterns, and that its spans stay canonical.
func TestRangeSetModel(t *testing.T) {
	patterns := []struct {
		name string
		next func(r *rand.Rand, k int) int64
	}{
		{"uniform", func(r *rand.Rand, _ int) int64 { return r.Int64N(500) }},
		{"jittered in order", func(r *rand.Rand, k int) int64 { return int64(k) + r.Int64N(32) }},
		{"sparse", func(r *rand.Rand, _ int) int64 { return r.Int64N(1 << 40) }},
	}
	for _, p := range patterns {
		t.Run(p.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var r checkpoint.RangeSet
			model := map[int64]bool{}
			for k := range 3000 {
				i := p.next(rng, k)
				if got, want := r.Add(i), !model[i]; got != want {
					t.Fatalf("Add(%d) = %v, want %v", i, got, want)
				}
				model[i] = true
			}
			if r.Len() != int64(len(model)) {
				t.Fatalf("Len = %d, want %d", r.Len(), len(model))
			}
			prev := int64(-1)
			var total int64
			for _, s := range r.Pairs() {
				if s[0] <= prev || s[0] >= s[1] {
					t.Fatalf("spans not canonical: %v", r.Pairs())
				}
				for i := s[0]; i < s[1]; i++ {
					if !model[i] {
						t.Fatalf("span %v holds %d, which was never added", s, i)
					}
				}
				total += s[1] - s[0]
				prev = s[1]
			}
			if total != int64(len(model)) {
				t.Fatalf("spans hold %d members, want %d", total, len(model))
			}
			for i := range model {
				if !r.Has(i) || (!model[i+1] && r.Has(i+1)) {
					t.Fatalf("Has disagrees with the model around %d", i)
				}
			}
		})
	}
}

func BenchmarkRangeSetAdd(b *testing.B) {
	b.Run("in order", func(b *testing.B) {
		b.ReportAllocs()
		var r checkpoint.RangeSet
		for i := range b.N {
			r.Add(int64(i))
		}
	})
	b.Run("jittered", func(b *testing.B) {
		b.ReportAllocs()
		order := jittered(1<<16, 64)
		var r checkpoint.RangeSet
		for i := range b.N {
			// Successive rounds shift up so every add is new.
			base := int64(i>>16) << 16
			r.Add(base + order[i&(1<<16-1)])
		}
	})
}

// jittered returns 0..n-1 in nearly ascending order: each block of w is
// shuffled, the pattern a pool of about w workers produces.
func jittered(n, w int) []int64 {
	rng := rand.New(rand.NewPCG(7, 7))
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i)
	}
	for lo := 0; lo < n; lo += w {
		blk := out[lo:min(lo+w, n)]
		rng.Shuffle(len(blk), func(i, j int) { blk[i], blk[j] = blk[j], blk[i] })
	}
	return out
}

// TestRangeSetAddSpanAndFrom checks AddSpan and From (the spans from an
// index up) against a model, for random spans over a small range.
func TestRangeSetAddSpanAndFrom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var r checkpoint.RangeSet
	model := map[int64]bool{}
	for range 2000 {
		lo := rng.Int64N(3000)
		hi := lo + 1 + rng.Int64N(20)
		r.AddSpan(lo, hi)
		for i := lo; i < hi; i++ {
			model[i] = true
		}
		if r.Len() != int64(len(model)) {
			t.Fatalf("after AddSpan(%d, %d): Len %d, want %d", lo, hi, r.Len(), len(model))
		}
		low := rng.Int64N(3100)
		if !model[low] {
			continue // From is asked for marked indexes only
		}
		var from int64
		prev := low - 1
		for _, s := range r.From(low) {
			if s[0] <= prev || s[0] >= s[1] || s[0] < low {
				t.Fatalf("From(%d) not canonical: %v", low, r.From(low))
			}
			from += s[1] - s[0]
			prev = s[1]
		}
		want := int64(0)
		for i := range model {
			if i >= low {
				want++
			}
		}
		if from != want {
			t.Fatalf("From(%d) holds %d members, want %d", low, from, want)
		}
	}
}
