package segment

import (
	"bytes"
	"slices"
	"strings"
	"unicode/utf8"
)

// Scrubbing: what a server answers, and what the transport quotes of it,
// may echo the write key, raw or encoded. A Scrubber removes every run of
// ScrubRun or more consecutive bytes of the key from a text, read raw or
// decoded from any of these encodings, at any alignment:
//
//   - raw;
//   - base64, standard or URL alphabet, padded or not: the Basic credential
//     (base64 of key+":") and the key alone;
//   - JSON string escapes: \uXXXX in either case, \/ and the other escapes;
//   - URL percent-encoding, %XX in either case (and + for a space);
//   - hex, upper or lower case;
//   - base64 and hex inside JSON- or URL-escaped text, and JSON inside
//     URL-escaped text and the other way round.
//
// A shorter run, down to ScrubEdge bytes, is removed too where it touches
// either end of the text: the text was cut there, and the rest of the key
// was cut off with it. Each removed stretch of the text becomes one
// Redacted mark.
const (
	ScrubRun  = 8
	ScrubEdge = 4
	Redacted  = "[redacted]"
)

// Scrubber removes one secret from texts; see ScrubRun. The zero value
// removes nothing. A Scrubber is safe for concurrent use.
type Scrubber struct {
	secret []byte
	run    int                 // min(ScrubRun, len(secret))
	edge   int                 // min(ScrubEdge, len(secret))
	grams  map[string]struct{} // every run of the secret of length run
	space  bool                // the secret holds a space: read '+' as one in URL text too
}

// NewScrubber returns a Scrubber of secret. A secret shorter than ScrubRun
// is removed wherever it appears whole.
func NewScrubber(secret string) *Scrubber {
	s := &Scrubber{secret: []byte(secret), run: min(ScrubRun, len(secret)), edge: min(ScrubEdge, len(secret))}
	if len(secret) == 0 {
		return s
	}
	s.grams = make(map[string]struct{}, len(secret))
	for i := 0; i+s.run <= len(secret); i++ {
		s.grams[secret[i:i+s.run]] = struct{}{}
	}
	s.space = strings.IndexByte(secret, ' ') >= 0
	return s
}

// Scrub returns text with the secret removed (see ScrubRun).
func (s *Scrubber) Scrub(text string) string {
	if s == nil || len(s.secret) == 0 || len(text) < s.edge {
		return text
	}
	spans := s.find([]byte(text))
	if len(spans) == 0 {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	at := 0
	for _, sp := range spans {
		b.WriteString(text[at:sp.lo])
		b.WriteString(Redacted)
		at = sp.hi
	}
	b.WriteString(text[at:])
	return b.String()
}

// Cut returns the first n bytes of text at most (cut back to the start of a
// character), with surrounding space trimmed, scrubbed, and as valid UTF-8:
// cut first, then scrubbed, so that the cut cannot save a part of the secret.
// Redacted marks may make it a little longer than n.
func (s *Scrubber) Cut(text []byte, n int) string {
	if len(text) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	return strings.ToValidUTF8(s.Scrub(string(bytes.TrimSpace(text))), "\uFFFD")
}

// Error returns err with its message scrubbed; errors.Is and errors.As still
// reach err and what it wraps. It returns nil for nil.
func (s *Scrubber) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := s.Scrub(msg); clean != msg {
		return &scrubbedError{msg: clean, err: err}
	}
	return err
}

// scrubbedError is an error whose message had the secret removed.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// textSpan is a stretch [lo, hi) of the text.
type textSpan struct{ lo, hi int }

// find returns the stretches of text to remove, sorted and merged.
func (s *Scrubber) find(text []byte) []textSpan {
	var found []textSpan
	raw := rawView(text)
	unJSON := raw.unescapeJSON()
	unURL := raw.unescapeURL(false)
	readings := []view{raw, unJSON, unURL, unJSON.unescapeURL(false), unURL.unescapeJSON()}
	if s.space {
		readings = append(readings, raw.unescapeURL(true))
	}
	for _, v := range readings {
		found = s.match(v, len(text), found)
		for _, d := range v.decodeHex() {
			found = s.match(d, len(text), found)
		}
		for _, d := range v.decodeBase64() {
			found = s.match(d, len(text), found)
		}
	}
	return merge(found)
}

// match appends the stretches of text behind the secret's runs in v: runs of
// s.run bytes anywhere, shorter ones of s.edge bytes or more at either end
// of the text.
func (s *Scrubber) match(v view, textLen int, found []textSpan) []textSpan {
	b := v.b
	for k := 0; k+s.run <= len(b); k++ {
		if _, ok := s.grams[string(b[k:k+s.run])]; ok {
			found = append(found, v.text(k, k+s.run))
		}
	}
	if len(b) == 0 {
		return found
	}
	if v.from[0] == 0 {
		for n := min(s.run-1, len(b)); n >= s.edge; n-- {
			if bytes.Contains(s.secret, b[:n]) {
				found = append(found, v.text(0, n))
				break
			}
		}
	}
	if v.to[len(b)-1] == textLen {
		for n := min(s.run-1, len(b)); n >= s.edge; n-- {
			if bytes.Contains(s.secret, b[len(b)-n:]) {
				found = append(found, v.text(len(b)-n, len(b)))
				break
			}
		}
	}
	return found
}

// merge sorts spans and joins those that overlap or touch.
func merge(spans []textSpan) []textSpan {
	if len(spans) == 0 {
		return nil
	}
	slices.SortFunc(spans, func(a, b textSpan) int { return a.lo - b.lo })
	out := spans[:1]
	for _, sp := range spans[1:] {
		if last := &out[len(out)-1]; sp.lo <= last.hi {
			last.hi = max(last.hi, sp.hi)
		} else {
			out = append(out, sp)
		}
	}
	return out
}
