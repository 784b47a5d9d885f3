package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// root says what a placeholder reads.
type root uint8

const (
	rootItem root = iota
	rootTrigger
	rootIndex
)

// placeholder is one parsed {{...}}.
type placeholder struct {
	text    string // as written, braces included
	id      int    // 0-based number within its Mapping
	root    root
	path    []string // keys (or array indexes) below the root
	filters []filter
}

// template is a string with placeholders: lits[i] precedes phs[i], and the
// last literal follows the last placeholder.
type template struct {
	lits []string
	phs  []placeholder
}

// single reports whether the template is exactly one placeholder, which keeps
// the value's JSON type.
func (t *template) single() bool {
	return len(t.phs) == 1 && t.lits[0] == "" && t.lits[1] == ""
}

// maxFilters bounds the filters of one placeholder.
const maxFilters = 16

// parseTemplate parses s. It returns nil, nil when s holds no placeholder.
func parseTemplate(s string) (*template, error) {
	if !strings.Contains(s, "{{") {
		return nil, nil
	}
	t := &template{}
	lit := 0 // start of the pending literal
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "{{")
		if j < 0 {
			break
		}
		open := i + j
		ph, end, err := parsePlaceholder(s, open)
		if err != nil {
			return nil, err
		}
		t.lits = append(t.lits, s[lit:open])
		t.phs = append(t.phs, ph)
		i, lit = end, end
	}
	t.lits = append(t.lits, s[lit:])
	return t, nil
}

// phError is a placeholder syntax error; the caller adds the field.
type phError struct {
	text string
	err  error
}

func (e *phError) Error() string { return e.text + ": " + e.err.Error() }

// parsePlaceholder parses the placeholder opening at s[open:] ("{{") and
// returns it with the offset just past its "}}".
func parsePlaceholder(s string, open int) (placeholder, int, error) {
	p := &cursor{s: s, i: open + 2}
	fail := func(format string, args ...any) (placeholder, int, error) {
		end := strings.Index(s[open:], "}}")
		text := s[open:]
		if end >= 0 {
			text = s[open : open+end+2]
		}
		return placeholder{}, 0, &phError{text: shorten(text, 80), err: fmt.Errorf(format, args...)}
	}
	var ph placeholder
	p.space()
	name := p.word()
	switch name {
	case "item":
		ph.root = rootItem
	case "trigger":
		ph.root = rootTrigger
	case "index":
		ph.root = rootIndex
	case "":
		return fail("expected item, trigger or index")
	default:
		return fail("unknown root %q (want item, trigger or index)", name)
	}
	for p.i < len(s) && (s[p.i] == '.' || s[p.i] == '[') {
		if ph.root == rootIndex {
			return fail("index has no fields")
		}
		if s[p.i] == '.' {
			p.i++
			key := p.word()
			if key == "" {
				return fail("empty key after '.'")
			}
			ph.path = append(ph.path, key)
			continue
		}
		p.i++
		v, ok := p.literal()
		key, isStr := v.(string)
		if !ok || !isStr || !p.eat(']') {
			return fail(`expected ["key"] or ['key']`)
		}
		ph.path = append(ph.path, key)
	}
	for {
		p.space()
		if strings.HasPrefix(s[p.i:], "}}") {
			ph.text = s[open : p.i+2]
			return ph, p.i + 2, nil
		}
		if !p.eat('|') {
			if p.i >= len(s) {
				return fail("missing }}")
			}
			return fail("unexpected %q", s[p.i:p.i+1])
		}
		p.space()
		f, err := parseFilter(p)
		if err != nil {
			return fail("%v", err)
		}
		if len(ph.filters) == maxFilters {
			return fail("more than %d filters", maxFilters)
		}
		ph.filters = append(ph.filters, f)
	}
}

// cursor scans a placeholder.
type cursor struct {
	s string
	i int
}

func (p *cursor) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *cursor) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// word reads a key or a name: anything up to a space, '.', '[', ']', '|',
// '{', '}' or a quote.
func (p *cursor) word() string {
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune(" \t.[]|{}\"'", rune(p.s[p.i])) {
		p.i++
	}
	return p.s[start:p.i]
}

// literal reads a filter argument or a bracketed key: a "JSON string", a
// 'single-quoted string' (no escapes), a JSON number, true, false or null.
func (p *cursor) literal() (any, bool) {
	if p.i >= len(p.s) {
		return nil, false
	}
	switch p.s[p.i] {
	case '\'':
		end := strings.IndexByte(p.s[p.i+1:], '\'')
		if end < 0 {
			return nil, false
		}
		v := p.s[p.i+1 : p.i+1+end]
		p.i += end + 2
		return v, true
	case '"':
		for j := p.i + 1; j < len(p.s); j++ {
			switch p.s[j] {
			case '\\':
				j++
			case '"':
				var v string
				if json.Unmarshal([]byte(p.s[p.i:j+1]), &v) != nil {
					return nil, false
				}
				p.i = j + 1
				return v, true
			}
		}
		return nil, false
	}
	w := p.word()
	if w == "" {
		return nil, false
	}
	var v any
	d := json.NewDecoder(strings.NewReader(w))
	d.UseNumber()
	if d.Decode(&v) != nil || d.More() {
		return nil, false
	}
	switch v.(type) {
	case json.Number, bool, nil:
		return v, true
	}
	return nil, false
}

// errOutput is returned when a template renders more than the output budget.
var errOutput = errors.New("output too large")

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
