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

// Parse validates data as the content of a checkpoint file and returns its
// fingerprint, run key and ranges.
func Parse(data []byte) (fingerprint, runKey string, ranges [][2]int64, err error) {
	rec, err := parseRecord("fuzz", data)
	if err != nil {
		return "", "", nil, err
	}
	return rec.Fingerprint, rec.RunKey, rec.Ranges, nil
}

// Encode returns the file content for the given fields.
func Encode(fingerprint, runKey string, ranges [][2]int64) ([]byte, error) {
	rec := record{Version: version, Fingerprint: fingerprint, RunKey: runKey, Ranges: ranges, Updated: "2026-01-02T15:04:05Z"}
	return rec.encode()
}
