package segloop

import (
	"strconv"
	"testing"
)

// TestUserSet checks the one promise diff mode relies on, that every user
// added is held, at the sizes where layers are added, and that users never
// added are rarely held.
func TestUserSet(t *testing.T) {
	var s userSet
	if s.has("u0") {
		t.Fatal("empty set holds u0")
	}
	const n = maxExactUsers + 200_000 // exact, then several layers
	for i := range n {
		s.add("u" + strconv.Itoa(i))
		if i == maxExactUsers-1 { // exact so far: no user never added is held
			for j := range 100_000 {
				if s.has("other" + strconv.Itoa(j)) {
					t.Fatalf("with %d users, other%d is held", i+1, j)
				}
			}
		}
	}
	for i := range n {
		if !s.has("u" + strconv.Itoa(i)) {
			t.Fatalf("u%d was added and is not held", i)
		}
	}
	if len(s.layers) < 3 {
		t.Fatalf("%d users in %d layers, want at least 3", n, len(s.layers))
	}
	held := 0
	for i := range n {
		if s.has("other" + strconv.Itoa(i)) {
			held++
		}
	}
	// Each layer adds its share; 1% is five times what the filter gives.
	if held > n/100 {
		t.Errorf("%d of %d users never added are held", held, n)
	}
	t.Logf("%d layers, %d words, %.3f%% false positives", len(s.layers), s.words, 100*float64(held)/n)
}

// TestUserSetBounded fills the set far beyond its last layer: memory stops
// growing at maxSetWords and every user added is still held.
func TestUserSetBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 16 MiB")
	}
	var s userSet
	n := maxSetWords * usersPerWord * 5 / 4
	for i := range n {
		s.add(strconv.Itoa(i))
	}
	if s.words > maxSetWords {
		t.Fatalf("%d words, bound %d", s.words, maxSetWords)
	}
	for i := 0; i < n; i += 97 {
		if !s.has(strconv.Itoa(i)) {
			t.Fatalf("user %d was added and is not held", i)
		}
	}
}
