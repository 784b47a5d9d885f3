package segment

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxIDBytes bounds userId and anonymousId. Segment documents no limit of its
// own, but ids beyond a kilobyte are always a mapping mistake (a whole row or
// document mapped onto the id) and would eat most of the 32,000-byte event
// budget, so they are rejected early with a clear message.
const MaxIDBytes = 1024

// MaxMessageIDLen is the longest messageId Segment accepts: under 100 characters.
const MaxMessageIDLen = 99

// Validate checks the inputs the way Segment would treat them and returns
// the first fault as a *ValidationError (errors.Is(err, ErrInvalid) holds):
// a missing userId/anonymousId, an id over MaxIDBytes or not valid UTF-8, a
// malformed email, a messageId of 100 characters or more, a timestamp
// outside years 0-9999, a traits/context/integrations value JSON cannot
// encode, a TraitsJSON that is not a JSON object, or a serialized event over
// MaxEventBytes. Validate serializes the
// event to measure it; callers that send the event anyway should call
// AppendJSON, which runs the same checks while serializing once.
func (in *Identify) Validate() error {
	bp := getBuf()
	b, err := in.AppendJSON((*bp)[:0])
	*bp = b[:0]
	putBuf(bp)
	return err
}

// validateFields runs every check except the size of the serialized event.
func (in *Identify) validateFields() error {
	if strings.TrimSpace(in.UserID) == "" && strings.TrimSpace(in.AnonymousID) == "" {
		return &ValidationError{Field: "userId", Msg: "userId or anonymousId is required"}
	}
	if err := checkID("userId", in.UserID); err != nil {
		return err
	}
	if err := checkID("anonymousId", in.AnonymousID); err != nil {
		return err
	}
	if in.Email != "" && !ValidEmail(in.Email) {
		return &ValidationError{Field: "email", Msg: strconv.Quote(in.Email) + " is not a valid email address"}
	}
	if n := utf8.RuneCountInString(in.MessageID); n > MaxMessageIDLen {
		return &ValidationError{Field: "messageId",
			Msg: "is " + strconv.Itoa(n) + " characters, Segment allows fewer than 100"}
	}
	if !in.Timestamp.IsZero() {
		if y := in.Timestamp.UTC().Year(); y < 0 || y > 9999 {
			return &ValidationError{Field: "timestamp", Msg: "year " + strconv.Itoa(y) + " is outside 0-9999"}
		}
	}
	return nil
}

func checkID(field, id string) error {
	if len(id) > MaxIDBytes {
		return &ValidationError{Field: field,
			Msg: "is " + commaInt(len(id)) + " bytes, over the " + commaInt(MaxIDBytes) + "-byte limit"}
	}
	if !utf8.ValidString(id) {
		return &ValidationError{Field: field, Msg: "is not valid UTF-8"}
	}
	return nil
}

// ValidEmail reports whether s looks like a deliverable address: exactly one
// '@', a local part of 1-64 bytes without leading, trailing or doubled dots,
// a domain of two or more dot-separated labels (letters, digits, hyphens or
// non-ASCII, no label starting or ending with '-'), no spaces, control
// characters or the specials ()<>[]:;,\" anywhere, and 254 bytes at most.
// It is deliberately simple: it rejects typos and mapping mistakes, not
// every address RFC 5322 would reject. An ASCII address is checked in one
// pass over its bytes; only one with other characters is decoded rune by
// rune.
func ValidEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	at, ascii := -1, true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf:
			ascii = false
		case emailBad[c]:
			return false
		case c == '@':
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	if !ascii && !validEmailRunes(s) {
		return false
	}
	if at <= 0 || at > 64 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	labels, start := 0, 0
	for i := 0; i <= len(domain); i++ {
		if i < len(domain) && domain[i] != '.' {
			if c := domain[i]; c < utf8.RuneSelf && c != '-' && !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				return false
			}
			continue
		}
		if label := domain[start:i]; label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		labels++
		start = i + 1
	}
	return labels >= 2
}

// emailBad marks the ASCII bytes no address may hold: space, control
// characters and the specials ()<>[]:;,\".
var emailBad = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		t[c] = c <= ' ' || c == 0x7f || strings.ContainsRune(`()<>[]:;,\"`, rune(c))
	}
	return t
}()

// validEmailRunes checks the non-ASCII part of an address: valid UTF-8, no
// Unicode space or control character.
func validEmailRunes(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r >= utf8.RuneSelf && (unicode.IsSpace(r) || unicode.IsControl(r)) {
			return false
		}
	}
	return true
}

// TraitsFromJSON decodes raw, a JSON object, into traits for Identify.Traits
// (numbers are kept as json.Number, so large integers survive exactly).
// Empty input and "null" give nil traits. Anything other than an object
// gives a *ValidationError with Field "traits": "must be a JSON object".
func TraitsFromJSON(raw []byte) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, &ValidationError{Field: "traits", Msg: "must be a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, &ValidationError{Field: "traits", Msg: "is not valid JSON: " + err.Error()}
	}
	if dec.More() {
		return nil, &ValidationError{Field: "traits", Msg: "is not valid JSON: data after the object"}
	}
	return m, nil
}

// commaInt formats n with thousands separators: 32517 -> "32,517".
func commaInt(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
