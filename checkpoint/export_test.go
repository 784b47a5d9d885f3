package checkpoint

// RangeSet exposes the unexported range set to the external tests.
type RangeSet struct{ s rangeSet }

func (r *RangeSet) Add(i int64) bool  { return r.s.add(i) }
func (r *RangeSet) Has(i int64) bool  { return r.s.has(i) }
func (r *RangeSet) Len() int64        { return r.s.n }
func (r *RangeSet) Watermark() int64  { return r.s.watermark() }
func (r *RangeSet) Pairs() [][2]int64 { return r.s.appendPairs(nil) }

// TempSuffix is the scratch file suffix used by writes.
const TempSuffix = tempSuffix
