package segment

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// maxDepth bounds the nesting of traits, context and integrations values;
// deeper values (or a map that contains itself) are rejected, not recursed.
const maxDepth = 64

// encoder appends JSON for the dynamic values of an event (traits, context,
// integrations). Its output is byte-for-byte what encoding/json.Marshal
// produces for the same value (sorted map keys, HTML-safe escaping), but the
// common shapes (map[string]any, []any, strings, numbers, bools, nil) are
// written without reflection or intermediate allocations. Anything else falls
// back to encoding/json. An encoder is not safe for concurrent use; get one
// from encoderPool.
type encoder struct {
	keys  [][]string // keys[d] is the reusable key buffer for maps at depth d
	field string     // wire field being encoded, for error messages

	// Scratch space of appendTraits and its splice of TraitsJSON.
	key   []byte    // a key encoded as a JSON string
	spans []keySpan // keys of the objects being scanned
	top   []keySpan // keys of the traits object written
}

// maxScratch bounds the scratch slices a pooled encoder keeps.
const maxScratch = 4096

var encoderPool = sync.Pool{New: func() any { return new(encoder) }}

func getEncoder(field string) *encoder {
	e := encoderPool.Get().(*encoder)
	e.field = field
	return e
}

func putEncoder(e *encoder) {
	for i := range e.keys {
		clear(e.keys[i]) // drop references to the caller's strings
		e.keys[i] = e.keys[i][:0]
		if cap(e.keys[i]) > maxScratch {
			e.keys[i] = nil
		}
	}
	if cap(e.spans) > maxScratch || cap(e.top) > maxScratch || cap(e.key) > maxScratch {
		e.spans, e.top, e.key = nil, nil, nil
	}
	encoderPool.Put(e)
}

// sortedKeys returns the keys of m in ascending order in the buffer of depth d.
func (e *encoder) sortedKeys(m map[string]any, d int) []string {
	for len(e.keys) <= d {
		e.keys = append(e.keys, nil)
	}
	ks := e.keys[d][:0]
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	e.keys[d] = ks
	return ks
}

func (e *encoder) errorf(format string, args ...any) error {
	return &ValidationError{Field: e.field, Msg: fmt.Sprintf(format, args...)}
}

// appendObject appends m as a JSON object with sorted keys.
func (e *encoder) appendObject(dst []byte, m map[string]any, d int) ([]byte, error) {
	if d >= maxDepth {
		return dst, e.errorf("nested deeper than %d levels", maxDepth)
	}
	if m == nil {
		return append(dst, "null"...), nil
	}
	dst = append(dst, '{')
	var err error
	for i, k := range e.sortedKeys(m, d) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		if dst, err = e.appendValue(dst, m[k], d+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendValue appends v as JSON.
func (e *encoder) appendValue(dst []byte, v any, d int) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, v), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case float64:
		return e.appendFloat(dst, v, 64)
	case float32:
		return e.appendFloat(dst, float64(v), 32)
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case json.Number:
		// As encoding/json: "" is 0, an invalid literal is an error (below).
		if v == "" {
			return append(dst, '0'), nil
		}
		if validNumber(string(v)) {
			return append(dst, v...), nil
		}
	case map[string]any:
		return e.appendObject(dst, v, d)
	case []any:
		if d >= maxDepth {
			return dst, e.errorf("nested deeper than %d levels", maxDepth)
		}
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		var err error
		for i, x := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = e.appendValue(dst, x, d+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []string:
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, s := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		return append(dst, ']'), nil
	}
	// json.RawMessage, structs, typed maps, time.Time, invalid json.Number, ...
	b, err := json.Marshal(v)
	if err != nil {
		return dst, e.errorf("value cannot be encoded as JSON: %v", err)
	}
	return append(dst, b...), nil
}

// appendFloat formats f as encoding/json does (ES6 number formatting).
func (e *encoder) appendFloat(dst []byte, f float64, bits int) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, e.errorf("unsupported number %v", f)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// "e-09" -> "e-9", as encoding/json does.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

const hexDigits = "0123456789abcdef"

// plainJSON marks the bytes appendString copies as they are: printable ASCII
// but for the quote, the backslash and <, > and &.
var plainJSON = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// appendString appends s as a quoted JSON string, escaped exactly as
// encoding/json does: control characters, quote and backslash, the HTML
// characters <, > and &, U+2028 and U+2029; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if plainJSON[b] {
			i++
			continue
		}
		if b < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// validNumber reports whether s is a JSON number literal (RFC 8259 section 6):
// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		digits()
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
