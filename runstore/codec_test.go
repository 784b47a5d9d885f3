package runstore

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// TestPack: a large blob is stored packed and reads back the same; a small
// one, or one that does not compress, is stored as it is; a packed blob
// that is damaged is an errCorrupt, never a panic.
func TestPack(t *testing.T) {
	var g Group
	for i := range 200 {
		g.Add(int64(i), "ok", fmt.Appendf(nil, `{"index":%d,"status":"ok","success":true,"attempts":1}`+"\n", i))
	}
	stored := pack(nil, g.blob)
	if stored[0] != packedFormat || len(stored) >= len(g.blob)/2 {
		t.Fatalf("packed %d bytes into %d, format %d", len(g.blob), len(stored), stored[0])
	}
	var back []Result
	if err := decodeResults(stored, func(r Result) error {
		r.Line = bytes.Clone(r.Line)
		back = append(back, r)
		return nil
	}); err != nil || len(back) != 200 {
		t.Fatalf("decodeResults: %d results, %v", len(back), err)
	}
	for i, r := range back {
		if want := fmt.Sprintf(`{"index":%d,"status":"ok","success":true,"attempts":1}`+"\n", i); r.Index != int64(i) || r.Status != "ok" || string(r.Line) != want {
			t.Fatalf("result %d: %+v", i, r)
		}
	}

	small := appendResult([]byte{blobFormat}, Result{Index: 1, Status: "failed", Line: []byte("{}\n")})
	if got := pack(nil, small); !bytes.Equal(got, small) {
		t.Fatalf("a small blob was packed: %v", got)
	}
	noise := []byte{blobFormat}
	for x := uint32(1); len(noise) < 2*packMin; x = x*1664525 + 1013904223 {
		noise = append(noise, byte(x>>24))
	}
	if got := pack(nil, noise); !bytes.Equal(got, noise) {
		t.Fatal("a blob that does not compress was packed")
	}

	// Unpacked onto memory already in use, as a reader reuses it: the
	// bytes before stay, and the blob is a copy, packed or not.
	for _, b := range [][]byte{stored, small} {
		mem, err := appendUnpacked([]byte("before"), b)
		want := g.blob
		if b[0] == blobFormat {
			want = small
		}
		if err != nil || string(mem[:6]) != "before" || !bytes.Equal(mem[6:], want) {
			t.Fatalf("appendUnpacked(format %d) = %.20q…, %v", b[0], mem, err)
		}
		format := b[0]
		mem[6] ^= 0xff
		if b[0] != format {
			t.Fatal("appendUnpacked aliases its input")
		}
	}

	damaged := bytes.Clone(stored)
	damaged[len(damaged)/2] ^= 0xff
	damaged = damaged[:len(damaged)-7]
	if err := decodeResults(damaged, func(Result) error { return nil }); !errors.Is(err, errCorrupt) {
		t.Fatalf("a damaged packed blob: %v; want errCorrupt", err)
	}
	if mem, err := appendUnpacked([]byte("x"), damaged); !errors.Is(err, errCorrupt) || string(mem) != "x" {
		t.Fatalf("appendUnpacked of a damaged blob = %q, %v; want errCorrupt and the memory as it was", mem, err)
	}
}
