package checkpoint_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/segloop/segloop/checkpoint"
)

// FuzzParse feeds arbitrary bytes to the checkpoint parser: it must never
// panic, must reject with ErrCorrupt, and whatever it accepts must be
// canonical, survive a rewrite as one snapshot unchanged, and read the same
// with a torn record appended (a crash while writing the next one).
func FuzzParse(f *testing.F) {
	snap := checkpoint.Snapshot("fp", "rk", [][2]int64{{0, 1200}, {1203, 1250}})
	for _, s := range [][]byte{
		[]byte(`{"version":1,"fingerprint":"fp","runKey":"rk","ranges":[[0,1200],[1203,1250]],"updated":"2026-01-02T15:04:05Z"}`),
		[]byte(`{"version":1,"fingerprint":"fp","runKey":"","ranges":[],"updated":"2026-01-02T15:04:05Z"}`),
		snap,
		append(append([]byte{}, snap...), checkpoint.Marks(1250, 1251, 1300)...),
		append(append(append([]byte{}, snap...), checkpoint.Marks(7)...), "+ 9 0000"...),
		append(append([]byte(`{"version":1,"fingerprint":"fp","runKey":"","ranges":[],"updated":"2026-01-02T15:04:05Z"}`+"\n"), snap...), checkpoint.Marks(5000)...),
		[]byte("segloop-checkpoint 3 {} 00000000\n"),
		{}, []byte(`{`), []byte(`null`), []byte(`[[0,1]]`), []byte("+ 1 2\n"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, end, err := checkpoint.Parse(data)
		if err != nil {
			if !errors.Is(err, checkpoint.ErrCorrupt) {
				t.Fatalf("rejected without ErrCorrupt: %v", err)
			}
			return
		}
		if end > int64(len(data)) || end < 0 {
			t.Fatalf("valid part %d of %d bytes", end, len(data))
		}
		if st == nil {
			return // an empty file, or a first write cut short: a new checkpoint
		}
		prev := int64(-1)
		for _, r := range st.Ranges {
			if r[0] < 0 || r[0] >= r[1] || r[0] <= prev {
				t.Fatalf("accepted non-canonical ranges %v", st.Ranges)
			}
			prev = r[1]
		}
		out := checkpoint.Snapshot(st.Fingerprint, st.RunKey, st.Ranges)
		again, _, err := checkpoint.Parse(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if again.Fingerprint != st.Fingerprint || again.RunKey != st.RunKey || !reflect.DeepEqual(again.Ranges, st.Ranges) {
			t.Fatalf("rewriting changed the state: %s", out)
		}
		if end > 0 && data[end-1] == '\n' {
			torn := append(bytes.Clone(data[:end]), "+ 12:1"...)
			if st2, _, err := checkpoint.Parse(torn); err != nil || !reflect.DeepEqual(st2.Ranges, st.Ranges) {
				t.Fatalf("a torn record after the valid part changed the reading: %v", err)
			}
		}
	})
}
