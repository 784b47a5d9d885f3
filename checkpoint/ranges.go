package checkpoint

// span is the half-open range of indexes [lo, hi).
type span struct{ lo, hi int64 }

// rangeSet is a set of non-negative indexes kept as sorted, disjoint,
// non-adjacent half-open spans, so its size is the number of gaps, not the
// number of members. The zero value is an empty set. It is not safe for
// concurrent use; File guards it with a mutex.
type rangeSet struct {
	spans []span
	n     int64 // number of members
}

// add inserts i (i >= 0) and reports whether it was new. Appending at or just
// past the end (the common case for nearly in-order marks) is O(1); anything
// else is a binary search plus, when a span is inserted or two are joined, a
// copy of the spans after it. It allocates only when the span slice grows.
func (r *rangeSet) add(i int64) bool {
	s := r.spans
	k := len(s)
	if k > 0 {
		last := &s[k-1]
		switch {
		case i == last.hi:
			last.hi++
			r.n++
			return true
		case i > last.hi:
			r.spans = append(s, span{i, i + 1})
			r.n++
			return true
		case i >= last.lo:
			return false
		}
	}
	j := r.after(i)
	if j > 0 && i < s[j-1].hi {
		return false
	}
	joinPrev := j > 0 && s[j-1].hi == i
	joinNext := j < k && s[j].lo == i+1
	switch {
	case joinPrev && joinNext:
		s[j-1].hi = s[j].hi
		r.spans = append(s[:j], s[j+1:]...)
	case joinPrev:
		s[j-1].hi++
	case joinNext:
		s[j].lo--
	default:
		s = append(s, span{})
		copy(s[j+1:], s[j:])
		s[j] = span{i, i + 1}
		r.spans = s
	}
	r.n++
	return true
}

// addSpan inserts every index of [lo, hi) (0 <= lo < hi). Appending at or
// past the end is O(1); otherwise it merges the spans it touches.
func (r *rangeSet) addSpan(lo, hi int64) {
	s := r.spans
	if k := len(s); k == 0 || lo > s[k-1].hi {
		r.spans = append(s, span{lo, hi})
		r.n += hi - lo
		return
	}
	i := r.touching(lo) // the first span that ends at or after lo
	j := r.after(hi)    // the first span that starts after hi
	if i == j {         // touches none: insert
		s = append(s, span{})
		copy(s[i+1:], s[i:])
		s[i] = span{lo, hi}
		r.spans = s
		r.n += hi - lo
		return
	}
	merged := span{min(lo, s[i].lo), max(hi, s[j-1].hi)}
	for _, t := range s[i:j] {
		r.n -= t.hi - t.lo
	}
	r.n += merged.hi - merged.lo
	s[i] = merged
	r.spans = append(s[:i+1], s[j:]...)
}

// touching returns the index of the first span whose hi is at least i, or
// len(spans) if there is none.
func (r *rangeSet) touching(i int64) int {
	s := r.spans
	lo, hi := 0, len(s)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s[m].hi >= i {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// has reports whether i is a member.
func (r *rangeSet) has(i int64) bool {
	s := r.spans
	if len(s) == 0 || i < 0 {
		return false
	}
	if i < s[0].hi {
		return i >= s[0].lo
	}
	j := r.after(i)
	return j > 0 && i < s[j-1].hi
}

// after returns the index of the first span whose lo is greater than i, or
// len(spans) if there is none.
func (r *rangeSet) after(i int64) int {
	s := r.spans
	lo, hi := 0, len(s)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s[m].lo > i {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// appendFrom appends to dst the spans of the members from low up, the first
// one cut to start at low, and returns it.
func (r *rangeSet) appendFrom(dst []span, low int64) []span {
	for _, s := range r.spans[r.touching(low+1):] {
		s.lo = max(s.lo, low)
		dst = append(dst, s)
	}
	return dst
}

// watermark returns the first index not in the set: every index below it is
// a member.
func (r *rangeSet) watermark() int64 {
	if len(r.spans) == 0 || r.spans[0].lo != 0 {
		return 0
	}
	return r.spans[0].hi
}

// appendPairs appends the spans as [lo, hi] pairs to dst and returns it.
func (r *rangeSet) appendPairs(dst [][2]int64) [][2]int64 {
	for _, s := range r.spans {
		dst = append(dst, [2]int64{s.lo, s.hi})
	}
	return dst
}

// setPairs replaces the set with the given pairs, which must be sorted,
// disjoint, non-adjacent and non-empty with lo >= 0 (see validPairs).
func (r *rangeSet) setPairs(pairs [][2]int64) {
	r.spans = make([]span, len(pairs), len(pairs)+16)
	r.n = 0
	for k, p := range pairs {
		r.spans[k] = span{p[0], p[1]}
		r.n += p[1] - p[0]
	}
}

// validPairs reports why pairs are not a canonical set of spans, or "" if
// they are: each lo >= 0 and lo < hi, and each lo greater than the previous
// hi (sorted, disjoint and not adjacent).
func validPairs(pairs [][2]int64) string {
	prev := int64(-1)
	for _, p := range pairs {
		switch {
		case p[0] < 0:
			return "negative index in ranges"
		case p[0] >= p[1]:
			return "empty or reversed range"
		case p[0] <= prev:
			return "ranges out of order, overlapping or adjacent"
		}
		prev = p[1]
	}
	return ""
}
