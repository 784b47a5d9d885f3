package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// keySpan is where a key (as a JSON string, quotes included) was written.
type keySpan struct{ lo, hi int }

// splice writes the members of in.TraitsJSON that no earlier source of
// traits gives (see Identify), without decoding them: it checks the JSON and
// writes each value as AppendJSON would write it decoded (the canonical
// form, see scanner), so the event is the one the decoded map would give,
// but for the order of the keys. What the fast scan does not take (not an
// object, invalid JSON, a key given twice, nesting at maxDepth) is decoded and
// merged by spliceDecoded, which gives the decoded map's event or its error.
func (t *traitWriter) splice(e *encoder, in *Identify) error {
	mark, n0 := len(t.dst), t.n
	if t.spliceFast(e, in) {
		return nil
	}
	t.dst, t.n = t.dst[:mark], n0
	return t.spliceDecoded(e, in)
}

func (t *traitWriter) spliceFast(e *encoder, in *Identify) bool {
	p := scanner{s: in.TraitsJSON, spans: e.spans[:0]}
	defer func() { e.spans = p.spans[:0] }()
	p.space()
	if !p.eat('{') {
		return false
	}
	top := e.top[:0]
	defer func() { e.top = top[:0] }()
	p.space()
	if p.eat('}') {
		return p.end()
	}
	for {
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return false
		}
		mark, n := len(t.dst), t.n
		t.sep()
		lo := len(t.dst)
		var ok bool
		if t.dst, ok = p.str(t.dst); !ok {
			return false
		}
		hi := len(t.dst)
		skip := in.shadows(t.dst[lo:hi])
		p.space()
		if !p.eat(':') {
			return false
		}
		t.dst = append(t.dst, ':')
		if t.dst, ok = p.value(t.dst, 1); !ok {
			return false
		}
		if skip {
			t.dst, t.n = t.dst[:mark], n
		} else {
			top = append(top, keySpan{lo, hi})
		}
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return p.end() && distinct(t.dst, top)
		}
		return false
	}
}

// shadows reports whether an earlier source of traits gives the key of a
// TraitsJSON member, key being its canonical JSON string.
func (in *Identify) shadows(key []byte) bool {
	raw := key[1 : len(key)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		k := raw
		if (in.Email != "" && string(k) == "email") || (in.Name != "" && string(k) == "name") {
			return true
		}
		if in.Columns != nil && in.Columns.has(in.Row, key) {
			return true
		}
		_, ok := in.Traits[string(k)]
		return ok
	}
	var k string
	_ = json.Unmarshal(key, &k) // canonical: always a valid JSON string
	_, ok := in.Traits[k]
	return in.overridden(k, key) || ok
}

// spliceDecoded decodes in.TraitsJSON as the mapping of a JSON traits string
// always did, and writes its members in sorted order, but for those an
// earlier source gives.
func (t *traitWriter) spliceDecoded(e *encoder, in *Identify) error {
	m, err := decodeTraitsJSON(in.TraitsJSON)
	if err != nil {
		return err
	}
	for _, k := range e.sortedKeys(m, 0) {
		key := appendString(e.key[:0], k)
		e.key = key
		if _, ok := in.Traits[k]; ok || in.overridden(k, key) {
			continue
		}
		t.sep()
		t.dst = append(t.dst, key...)
		t.dst = append(t.dst, ':')
		if t.dst, err = e.appendValue(t.dst, m[k], 1); err != nil {
			return err
		}
	}
	return nil
}

// decodeTraitsJSON decodes a JSON object given as text, numbers as
// json.Number. Its errors read as the mapping's always have:
// `traits: "[1]" is not a JSON object`.
func decodeTraitsJSON(s string) (map[string]any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	if err == nil {
		if _, terr := d.Token(); terr != io.EOF {
			err = errors.New("data after the JSON value")
		}
	}
	if err != nil {
		return nil, &ValidationError{Field: "traits", Msg: quoteShort(s) + " is not a JSON object: " + err.Error()}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &ValidationError{Field: "traits", Msg: quoteShort(s) + " is not a JSON object"}
	}
	return m, nil
}

// quoteShort quotes s for a message, cut to about 40 bytes.
func quoteShort(s string) string {
	if n := 40; len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return strconv.Quote(s)
}

// distinct reports whether the keys at spans of b are all different.
func distinct(b []byte, spans []keySpan) bool {
	if len(spans) <= 16 {
		for i := 1; i < len(spans); i++ {
			ki := b[spans[i].lo:spans[i].hi]
			for _, s := range spans[:i] {
				if bytes.Equal(ki, b[s.lo:s.hi]) {
					return false
				}
			}
		}
		return true
	}
	slices.SortFunc(spans, func(x, y keySpan) int { return bytes.Compare(b[x.lo:x.hi], b[y.lo:y.hi]) })
	for i := 1; i < len(spans); i++ {
		if bytes.Equal(b[spans[i].lo:spans[i].hi], b[spans[i-1].lo:spans[i-1].hi]) {
			return false
		}
	}
	return true
}

// scanner checks JSON text and writes it in the canonical form: what
// appendValue writes for the value encoding/json decodes it to (with
// UseNumber), but with objects' keys in their own order. So: no white space;
// strings unescaped and escaped again as appendString does (invalid UTF-8
// and lone surrogates become U+FFFD, as decoding makes them); numbers and
// literals as written. Each method returns false where the text is not
// valid JSON, an object repeats a key, or nesting reaches maxDepth: cases
// the caller hands to the decoder.
type scanner struct {
	s     string
	i     int
	spans []keySpan // keys of the objects open, in the output
}

func (p *scanner) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *scanner) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether nothing but white space is left.
func (p *scanner) end() bool {
	p.space()
	return p.i == len(p.s)
}

// value writes the value at p.i, at nesting depth d (a trait's value is at
// depth 1, as appendValue counts).
func (p *scanner) value(dst []byte, d int) ([]byte, bool) {
	p.space()
	if p.i >= len(p.s) {
		return dst, false
	}
	switch c := p.s[p.i]; {
	case c == '"':
		return p.str(dst)
	case c == '{':
		if d >= maxDepth {
			return dst, false
		}
		return p.object(dst, d)
	case c == '[':
		if d >= maxDepth {
			return dst, false
		}
		return p.array(dst, d)
	case c == 't':
		return p.literal(dst, "true")
	case c == 'f':
		return p.literal(dst, "false")
	case c == 'n':
		return p.literal(dst, "null")
	case c == '-' || ('0' <= c && c <= '9'):
		return p.number(dst)
	}
	return dst, false
}

func (p *scanner) literal(dst []byte, lit string) ([]byte, bool) {
	if !strings.HasPrefix(p.s[p.i:], lit) {
		return dst, false
	}
	p.i += len(lit)
	return append(dst, lit...), true
}

func (p *scanner) number(dst []byte) ([]byte, bool) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.s) && '0' <= p.s[p.i] && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	p.eat('-')
	switch {
	case p.eat('0'):
	case digits() == 0:
		return dst, false
	}
	if p.eat('.') && digits() == 0 {
		return dst, false
	}
	if p.eat('e') || p.eat('E') {
		if !p.eat('+') {
			p.eat('-')
		}
		if digits() == 0 {
			return dst, false
		}
	}
	return append(dst, p.s[start:p.i]...), true
}

func (p *scanner) object(dst []byte, d int) ([]byte, bool) {
	p.i++ // '{'
	dst = append(dst, '{')
	base := len(p.spans)
	defer func() { p.spans = p.spans[:base] }()
	p.space()
	if p.eat('}') {
		return append(dst, '}'), true
	}
	for {
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return dst, false
		}
		lo := len(dst)
		var ok bool
		if dst, ok = p.str(dst); !ok {
			return dst, false
		}
		p.spans = append(p.spans, keySpan{lo, len(dst)})
		p.space()
		if !p.eat(':') {
			return dst, false
		}
		dst = append(dst, ':')
		if dst, ok = p.value(dst, d+1); !ok {
			return dst, false
		}
		p.space()
		if p.eat(',') {
			dst = append(dst, ',')
			continue
		}
		if p.eat('}') {
			return append(dst, '}'), distinct(dst, p.spans[base:])
		}
		return dst, false
	}
}

func (p *scanner) array(dst []byte, d int) ([]byte, bool) {
	p.i++ // '['
	dst = append(dst, '[')
	p.space()
	if p.eat(']') {
		return append(dst, ']'), true
	}
	for {
		var ok bool
		if dst, ok = p.value(dst, d+1); !ok {
			return dst, false
		}
		p.space()
		if p.eat(',') {
			dst = append(dst, ',')
			continue
		}
		if p.eat(']') {
			return append(dst, ']'), true
		}
		return dst, false
	}
}

// str writes the string at p.i (its opening quote) in the canonical form.
func (p *scanner) str(dst []byte) ([]byte, bool) {
	s := p.s
	i := p.i + 1
	dst = append(dst, '"')
	start := i
	for i < len(s) {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch {
			case b == '"':
				p.i = i + 1
				return append(dst, '"'), true
			case b == '\\':
				r, n := unescape(s[i:])
				if n == 0 {
					return dst, false
				}
				dst = appendRune(dst, r)
				i += n
			case b < 0x20: // raw control characters are not JSON
				return dst, false
			default: // < > &
				dst = appendRune(dst, rune(b))
				i++
			}
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = appendRune(dst, r) // invalid UTF-8: U+FFFD, as decoding makes it
			start = i + size
		}
		i += size
	}
	return dst, false
}

// unescape decodes the escape sequence at the start of s (a backslash and
// what follows), as encoding/json decodes it: a surrogate pair is one rune,
// a lone surrogate U+FFFD. n is the length taken, 0 for an invalid escape.
func unescape(s string) (r rune, n int) {
	if len(s) < 2 {
		return 0, 0
	}
	switch s[1] {
	case '"', '\\', '/':
		return rune(s[1]), 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		r := hex4(s[2:])
		if r < 0 {
			return 0, 0
		}
		if utf16.IsSurrogate(r) {
			if len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
				if r2 := hex4(s[8:]); r2 >= 0 {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						return dec, 12
					}
				}
			}
			return utf8.RuneError, 6
		}
		return r, 6
	}
	return 0, 0
}

// hex4 is the value of four hex digits at the start of s, or -1.
func hex4[T string | []byte](s T) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for i := range 4 {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendRune writes r as appendString writes it inside a string.
func appendRune(dst []byte, r rune) []byte {
	if r < utf8.RuneSelf {
		b := byte(r)
		switch {
		case b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&':
			return append(dst, b)
		case b == '\\' || b == '"':
			return append(dst, '\\', b)
		case b == '\b':
			return append(dst, '\\', 'b')
		case b == '\f':
			return append(dst, '\\', 'f')
		case b == '\n':
			return append(dst, '\\', 'n')
		case b == '\r':
			return append(dst, '\\', 'r')
		case b == '\t':
			return append(dst, '\\', 't')
		}
		return append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
	}
	if r == '\u2028' || r == '\u2029' {
		return append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
	}
	return utf8.AppendRune(dst, r)
}
