package segment_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/segloop/segloop/segment"
)

const scrubKey = "wk_2Xq9vLmN0pRsTuVwXyZaBcDeFgHiJkLmNoPqRsTuVwXy/+Ab"

func TestScrubEveryEncoding(t *testing.T) {
	s := segment.NewScrubber(scrubKey)
	for name, echo := range encodings(scrubKey) {
		for _, tt := range []struct{ where, text string }{
			{"alone", echo},
			{"in a JSON body", `{"error":"bad key","key":"` + echo + `","code":400}`},
			{"in a header line", "Authorization: " + echo + "\r\nX-Other: 1"},
			{"twice, glued", echo + echo},
			{"in a URL", "https://api.example.com/v1?k=" + echo + "&x=1"},
		} {
			if l := leak(s.Scrub(tt.text), scrubKey); l != "" {
				t.Errorf("%s %s: %s", name, tt.where, l)
			}
		}
	}
}

// TestScrubCut cuts an echoing body at every point through the echo: cut
// first, then scrubbed, no run of the key survives, and a partial key at
// the cut of ScrubEdge bytes or more is removed too.
func TestScrubCut(t *testing.T) {
	s := segment.NewScrubber(scrubKey)
	for name, echo := range encodings(scrubKey) {
		body := []byte("error: key " + echo + " refused")
		first, last := len("error: key"), len(body)-len(" refused")
		for n := first; n <= last; n++ {
			if n > first+12 && n < last-12 && n%5 != 0 {
				continue // the middle of the echo, sampled (FuzzScrub cuts everywhere)
			}
			got := s.Cut(body, n)
			if l := leak(got, scrubKey); l != "" {
				t.Fatalf("%s cut at %d: %s", name, n, l)
			}
			if len(got) > n+len(segment.Redacted) {
				t.Fatalf("%s cut at %d: %d bytes", name, n, len(got))
			}
		}
	}
	// The raw key cut after k characters: from ScrubEdge on, nothing of it stays.
	for k := 1; k < len(scrubKey); k++ {
		got := s.Cut([]byte("key="+scrubKey), len("key=")+k)
		switch {
		case k < segment.ScrubEdge && got != "key="+scrubKey[:k]:
			t.Errorf("cut after %d key characters: %q, want them kept (fewer than ScrubEdge)", k, got)
		case k >= segment.ScrubEdge && got != "key="+segment.Redacted:
			t.Errorf("cut after %d key characters: %q, want the partial key removed", k, got)
		}
	}
}

// TestScrubLeavesOtherText: text without the key is returned as it is,
// whatever its encoding-like runs.
func TestScrubLeavesOtherText(t *testing.T) {
	s := segment.NewScrubber(scrubKey)
	for _, text := range []string{
		"", "Bad Request", `{"success":false,"message":"invalid write key"}`,
		"deadbeefcafebabe0123456789abcdef", "SGVsbG8sIHdvcmxkIQ==", `\u0041\u0042\/%41%42+`,
		"seven wk_2Xq9 characters in the middle are not a leak", strings.Repeat("x", 2000),
	} {
		if got := s.Scrub(text); got != text {
			t.Errorf("Scrub(%q) = %q", text, got)
		}
	}
	var zero *segment.Scrubber
	if zero.Scrub(scrubKey) != scrubKey || segment.NewScrubber("").Scrub("abc") != "abc" {
		t.Error("an empty scrubber changed its text")
	}
}

func TestScrubShortKey(t *testing.T) {
	s := segment.NewScrubber("k3y")
	if got := s.Scrub("the k3y is k3y"); got != "the "+segment.Redacted+" is "+segment.Redacted {
		t.Fatalf("got %q", got)
	}
}

func TestScrubError(t *testing.T) {
	s := segment.NewScrubber(scrubKey)
	inner := fmt.Errorf("dial %s: %w", scrubKey, context.DeadlineExceeded)
	err := s.Error(inner)
	if strings.Contains(err.Error(), scrubKey[:8]) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, inner) {
		t.Fatalf("Error(%v) = %v: want scrubbed and still wrapping", inner, err)
	}
	clean := errors.New("connection refused")
	if s.Error(clean) != clean || s.Error(nil) != nil {
		t.Fatal("an error without the key was wrapped")
	}
}

// FuzzScrub: random keys, bodies, echoes in random encodings at random
// places, cut at a random point: no run of ScrubRun bytes of the key
// survives anywhere, in any reading of the text.
func FuzzScrub(f *testing.F) {
	f.Add(uint64(1), uint64(2), "error body", 40, 512)
	f.Add(uint64(3), uint64(4), `{"message":"`, 52, 100)
	f.Add(uint64(5), uint64(6), "", 8, 30)
	f.Fuzz(func(t *testing.T, keySeed, echoSeed uint64, prefix string, keyLen, cut int) {
		rng := rand.New(rand.NewPCG(keySeed, echoSeed))
		keyLen = 8 + abs(keyLen)%57
		const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+/=:%\\\" .~"
		kb := make([]byte, keyLen)
		for i := range kb {
			if rng.IntN(4) == 0 { // now and then a character that encodings escape
				kb[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				kb[i] = alphabet[rng.IntN(62)]
			}
		}
		key := string(kb)
		forms := encodings(key)
		names := make([]string, 0, len(forms))
		for n := range forms {
			names = append(names, n)
		}
		sort.Strings(names)
		var body strings.Builder
		body.WriteString(prefix)
		for range 1 + rng.IntN(3) {
			echo := forms[names[rng.IntN(len(names))]]
			if rng.IntN(3) == 0 { // a part of it only
				lo := rng.IntN(len(echo))
				echo = echo[lo : lo+rng.IntN(len(echo)-lo)+1]
			}
			body.WriteString(echo)
			filler := []string{" ", "\"", "=", "&k=", "\\n", "x", "", "AAAA", "00"}
			body.WriteString(filler[rng.IntN(len(filler))])
		}
		text := []byte(body.String())
		n := abs(cut) % (len(text) + 1)
		got := segment.NewScrubber(key).Cut(text, n)
		if l := leak(got, key); l != "" {
			t.Fatalf("key %q, text %q cut at %d: %s", key, text, n, l)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -(n + 1)
	}
	return n
}
