package checkpoint_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/segloop/segloop/checkpoint"
)

// FuzzParse feeds arbitrary bytes to the checkpoint parser: it must never
// panic, must reject with ErrCorrupt, and whatever it accepts must be
// canonical and survive a write and a re-read unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"fingerprint":"fp","runKey":"rk","ranges":[[0,1200],[1203,1250]],"updated":"2026-01-02T15:04:05Z"}`,
		`{"version":1,"fingerprint":"fp","runKey":"","ranges":[],"updated":"2026-01-02T15:04:05Z"}`,
		`{"version":1,"fingerprint":"fp","ranges":[[0,5],[5,8]],"updated":"2026-01-02T15:04:05Z"}`,
		`{"version":1,"fingerprint":"fp","ranges":[[9223372036854775806,9223372036854775807]],"updated":"2026-01-02T15:04:05Z"}`,
		`{"version":1,"fingerprint":"\u0000","ranges":null,"updated":"2026-01-02T15:04:05+01:00"}`,
		``, `{`, `null`, `[[0,1]]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fp, rk, ranges, err := checkpoint.Parse(data)
		if err != nil {
			if !errors.Is(err, checkpoint.ErrCorrupt) {
				t.Fatalf("rejected without ErrCorrupt: %v", err)
			}
			return
		}
		prev := int64(-1)
		for _, r := range ranges {
			if r[0] < 0 || r[0] >= r[1] || r[0] <= prev {
				t.Fatalf("accepted non-canonical ranges %v", ranges)
			}
			prev = r[1]
		}
		out, err := checkpoint.Encode(fp, rk, ranges)
		if err != nil {
			t.Fatal(err)
		}
		fp2, rk2, ranges2, err := checkpoint.Parse(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if fp2 != fp || rk2 != rk || !reflect.DeepEqual(ranges2, ranges) {
			t.Fatalf("round trip changed the record: %s", out)
		}
	})
}
