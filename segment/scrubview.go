package segment

import "unicode/utf8"

// view is a reading of a text: bytes decoded from it, each knowing the
// stretch of the text it came from (from[k] to to[k], exclusive), so that a
// match found in the decoded bytes can be removed from the text.
type view struct {
	b        []byte
	from, to []int
}

// newView returns an empty view with room for n bytes.
func newView(n int) view {
	return view{b: make([]byte, 0, n), from: make([]int, 0, n), to: make([]int, 0, n)}
}

func rawView(text []byte) view {
	v := view{b: text, from: make([]int, len(text)), to: make([]int, len(text))}
	for k := range text {
		v.from[k], v.to[k] = k, k+1
	}
	return v
}

// text returns the stretch of the text behind v.b[i:j] (i < j).
func (v view) text(i, j int) textSpan { return textSpan{v.from[i], v.to[j-1]} }

// add appends to w the bytes p, decoded from v.b[i:j].
func (w *view) add(v view, i, j int, p ...byte) {
	for _, c := range p {
		w.b = append(w.b, c)
		w.from = append(w.from, v.from[i])
		w.to = append(w.to, v.to[j-1])
	}
}

// unescapeJSON reads v with JSON string escapes undone wherever they appear
// (\uXXXX in either case, \/, \", \\, \b, \f, \n, \r, \t); other bytes stay.
func (v view) unescapeJSON() view {
	w := newView(len(v.b))
	b := v.b
	for k := 0; k < len(b); k++ {
		if b[k] == '\\' && k+1 < len(b) {
			switch c := b[k+1]; c {
			case '"', '\\', '/':
				w.add(v, k, k+2, c)
				k++
				continue
			case 'b', 'f', 'n', 'r', 't':
				w.add(v, k, k+2, controlEscape(c))
				k++
				continue
			case 'u':
				if k+6 <= len(b) {
					if r := hex4(b[k+2 : k+6]); r >= 0 {
						w.add(v, k, k+6, utf8.AppendRune(nil, r)...)
						k += 5
						continue
					}
				}
			}
		}
		w.add(v, k, k+1, b[k])
	}
	return w
}

// unescapeURL reads v with %XX escapes (either case) undone wherever they
// appear, and '+' read as a space when plus is set.
func (v view) unescapeURL(plus bool) view {
	w := newView(len(v.b))
	b := v.b
	for k := 0; k < len(b); k++ {
		switch {
		case b[k] == '%' && k+2 < len(b) && isHex(b[k+1]) && isHex(b[k+2]):
			w.add(v, k, k+3, unhex(b[k+1])<<4|unhex(b[k+2]))
			k += 2
		case b[k] == '+' && plus:
			w.add(v, k, k+1, ' ')
		default:
			w.add(v, k, k+1, b[k])
		}
	}
	return w
}

// decodeHex reads every run of at least two hex digits in v as hex, from
// its first digit and from its second.
func (v view) decodeHex() []view {
	var out []view
	for _, r := range v.runs(isHex, 2) {
		for align := 0; align < 2 && r.hi-r.lo-align >= 2; align++ {
			w := newView((r.hi - r.lo) / 2)
			for k := r.lo + align; k+1 < r.hi; k += 2 {
				w.add(v, k, k+2, unhex(v.b[k])<<4|unhex(v.b[k+1]))
			}
			out = append(out, w)
		}
	}
	return out
}

// decodeBase64 reads every run of at least two base64 characters in v
// (either alphabet) as base64, at each of the four alignments. A decoded
// byte comes from the two characters that hold its bits.
func (v view) decodeBase64() []view {
	var out []view
	for _, r := range v.runs(isBase64Char, 2) {
		for align := 0; align < 4 && r.hi-r.lo-align >= 2; align++ {
			w := newView((r.hi - r.lo) * 3 / 4)
			for g := r.lo + align; g+1 < r.hi; g += 4 {
				var c [4]byte
				n := min(4, r.hi-g)
				for i := range n {
					c[i] = base64Value(v.b[g+i])
				}
				w.add(v, g, g+2, c[0]<<2|c[1]>>4)
				if n > 2 {
					w.add(v, g+1, g+3, c[1]<<4|c[2]>>2)
				}
				if n > 3 {
					w.add(v, g+2, g+4, c[2]<<6|c[3])
				}
			}
			out = append(out, w)
		}
	}
	return out
}

// runs returns the maximal stretches of v.b of at least minLen bytes in.
func (v view) runs(in func(byte) bool, minLen int) []textSpan {
	var out []textSpan
	for k := 0; k < len(v.b); {
		if !in(v.b[k]) {
			k++
			continue
		}
		j := k
		for j < len(v.b) && in(v.b[j]) {
			j++
		}
		if j-k >= minLen {
			out = append(out, textSpan{k, j})
		}
		k = j
	}
	return out
}

// controlEscape is the byte of the JSON escape \c for c in "bfnrt".
func controlEscape(c byte) byte {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	}
	return '\t'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func isBase64Char(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '-' || c == '_'
}

// base64Value is the 6-bit value of a base64 character of either alphabet.
func base64Value(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c - 'A'
	case 'a' <= c && c <= 'z':
		return c - 'a' + 26
	case '0' <= c && c <= '9':
		return c - '0' + 52
	case c == '+' || c == '-':
		return 62
	}
	return 63 // '/' or '_'
}
