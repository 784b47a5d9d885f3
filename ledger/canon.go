package ledger

import (
	"bytes"
	"math/big"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of arrays and objects, as encoding/json does.
const maxDepth = 10000

// volatile lists the top-level event fields left out of the canonical form:
// they change from one send of the same content to the next (or, for type,
// never change), so they say nothing about what Segment holds.
var volatile = [...]string{`"type"`, `"messageId"`, `"timestamp"`, `"originalTimestamp"`, `"sentAt"`, `"receivedAt"`}

// SyntaxError reports an event that is not a JSON object.
type SyntaxError struct {
	Offset int    // byte offset in the event where the problem was found
	Msg    string // what is wrong, e.g. "invalid character 'x' in number"
}

func (e *SyntaxError) Error() string {
	return "ledger: event is not valid JSON: " + e.Msg + " at byte " + strconv.Itoa(e.Offset)
}

// member locates one object member (key, colon, value) in canonicalizer.out.
type member struct{ start, keyEnd, end int }

// canonicalizer writes the canonical form of one JSON text. Its buffers are
// reused from one event to the next; it is not safe for concurrent use.
type canonicalizer struct {
	src     []byte
	pos     int
	out     []byte
	tmp     []byte   // scratch for reordering members
	digits  []byte   // scratch for a number's coefficient
	members []member // stack of the members of the open objects
}

// appendEvent appends the canonical form of the event in src to dst.
func (c *canonicalizer) appendEvent(dst, src []byte) ([]byte, error) {
	c.src, c.pos, c.out = src, 0, dst
	defer func() { c.src = nil }()
	c.space()
	if c.pos >= len(c.src) || c.src[c.pos] != '{' {
		return dst, c.fail("event is not a JSON object")
	}
	if err := c.object(1, true); err != nil {
		return dst, err
	}
	c.space()
	if c.pos != len(c.src) {
		return dst, c.fail("invalid character " + quoteChar(c.src[c.pos]) + " after the event object")
	}
	return c.out, nil
}

func (c *canonicalizer) fail(msg string) error { return &SyntaxError{Offset: c.pos, Msg: msg} }

func (c *canonicalizer) space() {
	for c.pos < len(c.src) {
		switch c.src[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

func (c *canonicalizer) value(depth int) error {
	c.space()
	if c.pos >= len(c.src) {
		return c.fail("unexpected end of JSON input")
	}
	switch b := c.src[c.pos]; {
	case b == '{':
		return c.object(depth+1, false)
	case b == '[':
		return c.array(depth + 1)
	case b == '"':
		return c.string()
	case b == '-' || '0' <= b && b <= '9':
		return c.number()
	case b == 't':
		return c.literal("true")
	case b == 'f':
		return c.literal("false")
	case b == 'n':
		return c.literal("null")
	default:
		return c.fail("invalid character " + quoteChar(b) + " looking for beginning of value")
	}
}

func (c *canonicalizer) literal(lit string) error {
	if !bytes.HasPrefix(c.src[c.pos:], []byte(lit)) {
		return c.fail("invalid literal, want " + lit)
	}
	c.pos += len(lit)
	c.out = append(c.out, lit...)
	return nil
}

func (c *canonicalizer) array(depth int) error {
	if depth > maxDepth {
		return c.fail("nested deeper than " + strconv.Itoa(maxDepth) + " levels")
	}
	c.pos++ // [
	c.out = append(c.out, '[')
	c.space()
	if c.pos < len(c.src) && c.src[c.pos] == ']' {
		c.pos++
		c.out = append(c.out, ']')
		return nil
	}
	for {
		if err := c.value(depth); err != nil {
			return err
		}
		c.space()
		if c.pos >= len(c.src) {
			return c.fail("unexpected end of JSON input in array")
		}
		switch c.src[c.pos] {
		case ',':
			c.pos++
			c.out = append(c.out, ',')
		case ']':
			c.pos++
			c.out = append(c.out, ']')
			return nil
		default:
			return c.fail("invalid character " + quoteChar(c.src[c.pos]) + " after array element")
		}
	}
}

// object writes an object with its members in canonical order: sorted by
// their canonical key text, bytewise; of several members with one key, the
// last one is kept (as encoding/json decodes them). At the top level the
// volatile fields are dropped.
func (c *canonicalizer) object(depth int, top bool) error {
	if depth > maxDepth {
		return c.fail("nested deeper than " + strconv.Itoa(maxDepth) + " levels")
	}
	c.pos++ // {
	open := len(c.out)
	c.out = append(c.out, '{')
	base := len(c.members)
	sorted := true
	c.space()
	if c.pos < len(c.src) && c.src[c.pos] == '}' {
		c.pos++
		c.out = append(c.out, '}')
		return nil
	}
	for {
		c.space()
		if c.pos >= len(c.src) || c.src[c.pos] != '"' {
			return c.fail("want a string for an object key")
		}
		n := len(c.members) - base
		comma := len(c.out)
		if n > 0 {
			c.out = append(c.out, ',')
		}
		start := len(c.out)
		if err := c.string(); err != nil {
			return err
		}
		keyEnd := len(c.out)
		c.space()
		if c.pos >= len(c.src) || c.src[c.pos] != ':' {
			return c.fail("want ':' after object key")
		}
		c.pos++
		c.out = append(c.out, ':')
		if err := c.value(depth); err != nil {
			return err
		}
		if top && isVolatile(c.out[start:keyEnd]) {
			c.out = c.out[:comma]
		} else {
			m := member{start, keyEnd, len(c.out)}
			if n > 0 && sorted {
				prev := c.members[len(c.members)-1]
				sorted = bytes.Compare(c.out[prev.start:prev.keyEnd], c.out[m.start:m.keyEnd]) < 0
			}
			c.members = append(c.members, m)
		}
		c.space()
		if c.pos >= len(c.src) {
			return c.fail("unexpected end of JSON input in object")
		}
		if c.src[c.pos] == '}' {
			c.pos++
			break
		}
		if c.src[c.pos] != ',' {
			return c.fail("invalid character " + quoteChar(c.src[c.pos]) + " after object member")
		}
		c.pos++
	}
	if !sorted {
		c.reorder(open, c.members[base:])
	}
	c.out = append(c.out, '}')
	c.members = c.members[:base]
	return nil
}

// reorder rewrites the members after the '{' at out[open] in canonical
// order, with commas between them.
func (c *canonicalizer) reorder(open int, ms []member) {
	region := open + 1
	c.tmp = append(c.tmp[:0], c.out[region:]...)
	key := func(m member) []byte { return c.tmp[m.start-region : m.keyEnd-region] }
	slices.SortStableFunc(ms, func(a, b member) int { return bytes.Compare(key(a), key(b)) })
	c.out = c.out[:region]
	first := true
	for i, m := range ms {
		if i+1 < len(ms) && bytes.Equal(key(m), key(ms[i+1])) {
			continue // a later member has the same key: the last one wins
		}
		if !first {
			c.out = append(c.out, ',')
		}
		first = false
		c.out = append(c.out, c.tmp[m.start-region:m.end-region]...)
	}
}

func isVolatile(key []byte) bool {
	for _, v := range volatile {
		if string(key) == v {
			return true
		}
	}
	return false
}

// string writes the JSON string at c.pos in canonical form: decoded, then
// quoted again with only '"', '\\' and the control characters escaped
// (as \b \f \n \r \t, else \u00XX). Invalid UTF-8 and lone surrogates become
// U+FFFD, as encoding/json decodes them.
func (c *canonicalizer) string() error {
	c.pos++ // "
	c.out = append(c.out, '"')
	src := c.src
	i := c.pos
	for {
		// Copy the run of bytes that need no change.
		j := i
		for j < len(src) {
			b := src[j]
			if b == '"' || b == '\\' || b < 0x20 {
				break
			}
			if b >= utf8.RuneSelf {
				r, size := utf8.DecodeRune(src[j:])
				if r == utf8.RuneError && size == 1 {
					break
				}
				j += size
				continue
			}
			j++
		}
		c.out = append(c.out, src[i:j]...)
		i = j
		if i >= len(src) {
			c.pos = i
			return c.fail("unexpected end of JSON input in string")
		}
		switch b := src[i]; {
		case b == '"':
			c.pos = i + 1
			c.out = append(c.out, '"')
			return nil
		case b < 0x20:
			c.pos = i
			return c.fail("invalid control character in string")
		case b == '\\':
			n, err := c.escape(i)
			if err != nil {
				return err
			}
			i = n
		default: // invalid UTF-8
			c.out = append(c.out, "\uFFFD"...)
			i++
		}
	}
}

// escape decodes the escape sequence at src[i] and returns the offset after it.
func (c *canonicalizer) escape(i int) (int, error) {
	src := c.src
	if i+1 >= len(src) {
		c.pos = i
		return 0, c.fail("unexpected end of JSON input in string escape")
	}
	switch src[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		c.appendRune(rune(unescapeChar(src[i+1])))
		return i + 2, nil
	case 'u':
		r, ok := hex4(src, i+2)
		if !ok {
			c.pos = i
			return 0, c.fail(`invalid \u escape in string`)
		}
		i += 6
		if utf16.IsSurrogate(r) {
			if r2, ok := hex4(src, i+2); ok && i+1 < len(src) && src[i] == '\\' && src[i+1] == 'u' {
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					c.appendRune(dec)
					return i + 6, nil
				}
			}
			r = utf8.RuneError
		}
		c.appendRune(r)
		return i, nil
	default:
		c.pos = i
		return 0, c.fail("invalid escape " + quoteChar(src[i+1]) + " in string")
	}
}

func unescapeChar(b byte) byte {
	switch b {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return b // " \ /
}

// hex4 decodes the four hex digits at src[i:].
func hex4(src []byte, i int) (rune, bool) {
	if i+4 > len(src) {
		return 0, false
	}
	var r rune
	for _, b := range src[i : i+4] {
		switch {
		case '0' <= b && b <= '9':
			b -= '0'
		case 'a' <= b && b <= 'f':
			b = b - 'a' + 10
		case 'A' <= b && b <= 'F':
			b = b - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(b)
	}
	return r, true
}

const hexDigits = "0123456789abcdef"

// appendRune writes r as the canonical form writes it inside a string.
func (c *canonicalizer) appendRune(r rune) {
	switch {
	case r == '"' || r == '\\':
		c.out = append(c.out, '\\', byte(r))
	case r == '\b':
		c.out = append(c.out, '\\', 'b')
	case r == '\f':
		c.out = append(c.out, '\\', 'f')
	case r == '\n':
		c.out = append(c.out, '\\', 'n')
	case r == '\r':
		c.out = append(c.out, '\\', 'r')
	case r == '\t':
		c.out = append(c.out, '\\', 't')
	case r < 0x20:
		c.out = append(c.out, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xF])
	default:
		c.out = utf8.AppendRune(c.out, r)
	}
}

func quoteChar(b byte) string {
	if b < utf8.RuneSelf {
		return strconv.QuoteRune(rune(b))
	}
	return "byte 0x" + string([]byte{hexDigits[b>>4], hexDigits[b&0xF]})
}

// number writes the JSON number at c.pos in canonical form, exactly: the
// value is C × 10^X with C's digits free of leading and trailing zeros, and
// it is written as an integer (C and X zeros) when X ≥ 0 and it has at most
// 21 digits, as a decimal fraction when its point falls within C or at most
// six zeros before it, and in scientific notation (d.ddde+N, d.ddde-N)
// otherwise, in the manner of ECMAScript's Number::toString but without
// rounding. Zero, negative zero included, is "0".
func (c *canonicalizer) number() error {
	src := c.src
	i := c.pos
	neg := src[i] == '-'
	if neg {
		i++
	}
	intStart := i
	switch {
	case i < len(src) && src[i] == '0':
		i++
	case i < len(src) && '1' <= src[i] && src[i] <= '9':
		i = skipDigits(src, i)
	default:
		c.pos = i
		return c.fail("invalid number: want a digit")
	}
	intPart := src[intStart:i]
	var frac []byte
	if i < len(src) && src[i] == '.' {
		j := skipDigits(src, i+1)
		if j == i+1 {
			c.pos = j
			return c.fail("invalid number: want a digit after '.'")
		}
		frac = src[i+1 : j]
		i = j
	}
	var expDigits []byte
	expNeg := false
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			expNeg = src[i] == '-'
			i++
		}
		j := skipDigits(src, i)
		if j == i {
			c.pos = j
			return c.fail("invalid number: want a digit in the exponent")
		}
		expDigits = bytes.TrimLeft(src[i:j], "0")
		i = j
	}
	c.pos = i

	// Coefficient: the digits of intPart and frac without leading zeros
	// and trailing zeros; value = coef × 10^(exp - len(frac) + trailing).
	d := append(append(c.digits[:0], intPart...), frac...)
	c.digits = d
	d = bytes.TrimLeft(d, "0")
	trimmed := bytes.TrimRight(d, "0")
	if len(trimmed) == 0 {
		c.out = append(c.out, '0')
		return nil
	}
	shift := int64(len(d)-len(trimmed)) - int64(len(frac)) // X without the exponent
	d = trimmed
	if neg {
		c.out = append(c.out, '-')
	}
	if len(expDigits) > 15 {
		// An exponent of 10^15 or more: always scientific; exact with big.Int.
		n := new(big.Int)
		n.SetString(string(expDigits), 10)
		if expNeg {
			n.Neg(n)
		}
		n.Add(n, big.NewInt(shift+int64(len(d))-1))
		c.appendScientific(d, n.String())
		return nil
	}
	var exp int64
	for _, b := range expDigits {
		exp = exp*10 + int64(b-'0')
	}
	if expNeg {
		exp = -exp
	}
	x := exp + shift
	p := int64(len(d)) + x // value = 0.d × 10^p
	switch {
	case x >= 0 && p <= 21:
		c.out = append(c.out, d...)
		for range x {
			c.out = append(c.out, '0')
		}
	case x < 0 && p > 0:
		c.out = append(c.out, d[:p]...)
		c.out = append(c.out, '.')
		c.out = append(c.out, d[p:]...)
	case x < 0 && p > -6:
		c.out = append(c.out, '0', '.')
		for range -p {
			c.out = append(c.out, '0')
		}
		c.out = append(c.out, d...)
	default:
		c.appendScientific(d, strconv.FormatInt(p-1, 10))
	}
	return nil
}

// appendScientific writes d[0].d[1:] e±n.
func (c *canonicalizer) appendScientific(d []byte, n string) {
	c.out = append(c.out, d[0])
	if len(d) > 1 {
		c.out = append(c.out, '.')
		c.out = append(c.out, d[1:]...)
	}
	c.out = append(c.out, 'e')
	if n[0] != '-' {
		c.out = append(c.out, '+')
	}
	c.out = append(c.out, n...)
}

func skipDigits(src []byte, i int) int {
	for i < len(src) && '0' <= src[i] && src[i] <= '9' {
		i++
	}
	return i
}
