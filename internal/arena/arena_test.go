package arena_test

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/segloop/segloop/internal/arena"
)

// TestValuesStay builds many values, some larger than a block, and checks
// that every one still holds what it was given after the arena moved on.
func TestValuesStay(t *testing.T) {
	var a arena.Arena
	var texts []string
	var blobs [][]byte
	var want []string
	for i := range 5000 {
		v := strings.Repeat(strconv.Itoa(i), 1+i%7)
		if i%997 == 0 {
			v = strings.Repeat("x", arena.BlockSize+i) // a value larger than a block
		}
		// Build it in pieces, with a dropped attempt before it.
		a.AppendString("garbage that Reset drops")
		a.Reset()
		a.Append([]byte(v[:len(v)/2]))
		for j := len(v) / 2; j < len(v); j++ {
			a.AppendByte(v[j])
		}
		if a.Len() != len(v) {
			t.Fatalf("value %d: Len %d, want %d", i, a.Len(), len(v))
		}
		if i%2 == 0 {
			texts = append(texts, a.Text())
		} else {
			b := a.Bytes()
			if cap(b) != len(b) {
				t.Fatalf("value %d: cap %d, len %d", i, cap(b), len(b))
			}
			blobs = append(blobs, b)
		}
		want = append(want, v)
		if i%1000 == 0 {
			runtime.GC()
		}
	}
	ti, bi := 0, 0
	for i, w := range want {
		if i%2 == 0 {
			if texts[ti] != w {
				t.Fatalf("text %d changed: %.20q, want %.20q", i, texts[ti], w)
			}
			ti++
		} else {
			if !bytes.Equal(blobs[bi], []byte(w)) {
				t.Fatalf("bytes %d changed", i)
			}
			bi++
		}
	}
}

func TestAppendToBytesCopies(t *testing.T) {
	var a arena.Arena
	a.AppendString("ab")
	first := a.Bytes()
	a.AppendString("cd")
	second := a.Text()
	_ = append(first, 'X') // must not write over "cd"
	if second != "cd" {
		t.Fatalf("second value %q, want cd", second)
	}
	if a.Text() != "" {
		t.Fatal("an empty value is not empty")
	}
}

func BenchmarkArena(b *testing.B) {
	var a arena.Arena
	row := []byte("u1234567,ada.lovelace@example.com,Ada,Lovelace,team,12")
	b.ReportAllocs()
	for b.Loop() {
		a.Append(row)
		_ = a.Text()
	}
}
