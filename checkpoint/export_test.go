package checkpoint

import "time"

// RangeSet exposes the unexported range set to the external tests.
type RangeSet struct{ s rangeSet }

func (r *RangeSet) Add(i int64) bool     { return r.s.add(i) }
func (r *RangeSet) AddSpan(lo, hi int64) { r.s.addSpan(lo, hi) }
func (r *RangeSet) Has(i int64) bool     { return r.s.has(i) }
func (r *RangeSet) Len() int64           { return r.s.n }
func (r *RangeSet) Watermark() int64     { return r.s.watermark() }
func (r *RangeSet) Pairs() [][2]int64    { return r.s.appendPairs(nil) }
func (r *RangeSet) From(low int64) [][2]int64 {
	var out [][2]int64
	for _, s := range r.s.appendFrom(nil, low) {
		out = append(out, [2]int64{s.lo, s.hi})
	}
	return out
}

// Parse validates data as the content of a checkpoint file and returns its
// state (nil for an empty file) and the length of its valid part.
func Parse(data []byte) (*State, int64, error) {
	c, err := parseContent("fuzz", data)
	if err != nil {
		return nil, 0, err
	}
	return c.state, c.end, nil
}

// Snapshot returns the snapshot line of the given state.
func Snapshot(fingerprint, runKey string, ranges [][2]int64) []byte {
	spans := make([]span, len(ranges))
	for k, r := range ranges {
		spans[k] = span{r[0], r[1]}
	}
	return appendSnapshot(nil, fingerprint, runKey, spans, time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC))
}

// Marks returns the mark line of the indexes idx.
func Marks(idx ...int64) []byte {
	var r rangeSet
	for _, i := range idx {
		r.add(i)
	}
	return appendMarks(nil, r.spans)
}

// WithFault returns o with fault called before every I/O operation of the
// File's journal ("write", "sync", "truncate"); its error fails the operation.
func WithFault(o Options, fault func(op string) error) Options {
	o.fault = fault
	return o
}

// WithCompactAfter returns o with the journal compacted once its marks
// outgrow n bytes.
func WithCompactAfter(o Options, n int64) Options {
	o.compactAfter = n
	return o
}
