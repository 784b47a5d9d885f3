package segment_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/segloop/segloop/segment"
)

// refValidEmail is ValidEmail as it was before its ASCII fast path (a rune
// loop over every address), the oracle of FuzzValidEmail.
func refValidEmail(s string) bool {
	if len(s) > 254 || !utf8.ValidString(s) {
		return false
	}
	at := strings.IndexByte(s, '@')
	if at <= 0 || at > 64 || at != strings.LastIndexByte(s, '@') {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`()<>[]:;,\"`, r) {
			return false
		}
	}
	local, domain := s[:at], s[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	labels := 0
	for label := range strings.SplitSeq(domain, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if r < utf8.RuneSelf && r != '-' && !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
				return false
			}
		}
		labels++
	}
	return labels >= 2
}

func FuzzValidEmail(f *testing.F) {
	for _, s := range []string{
		"a@b.co", "first.last+tag@sub.example.org", "üser@exämple.de", "a@b@c.de", "a\u00a0b@c.de", "a\u0085@b.co",
		"a@b.c\xff", "a@-b.co", "a@b-.co", ".a@b.co", "a..b@c.de", "a@" + strings.Repeat("d", 64) + ".com", "\x7f@b.co", "a@b.co\u2028",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := segment.ValidEmail(s), refValidEmail(s); got != want {
			t.Fatalf("ValidEmail(%q) = %v, want %v", s, got, want)
		}
	})
}

func TestValidEmailAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { segment.ValidEmail("ada.lovelace1234@example.com") }); n != 0 {
		t.Fatalf("%v allocations, want 0", n)
	}
}

func BenchmarkValidEmail(b *testing.B) {
	for _, s := range []string{"ada.lovelace1234@example.com", "üser.ñame@exämple.de"} {
		b.Run(s, func(b *testing.B) {
			for b.Loop() {
				segment.ValidEmail(s)
			}
		})
	}
}
