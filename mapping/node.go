package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// nodeKind says what a node of a parsed mapping is.
type nodeKind uint8

const (
	nodeLiteral nodeKind = iota // a JSON value without placeholders
	nodeTemplate
	nodeObject
	nodeArray
)

// node is one value of a parsed mapping.
type node struct {
	kind  nodeKind
	lit   any       // nodeLiteral
	tmpl  *template // nodeTemplate
	keys  []string  // nodeObject, sorted
	elems []*node   // nodeObject (one per key) and nodeArray
}

// Limits that keep a hostile mapping or item from exhausting memory or time.
const (
	MaxMappingBytes = 1 << 20   // size of a mapping file
	MaxPlaceholders = 10_000    // placeholders in one mapping
	MaxDepth        = 32        // nesting of objects and arrays in a mapping
	MaxOutputBytes  = 256 << 10 // text rendered by mixed-text templates and copied by filters, per Apply
)

// builder turns decoded JSON into nodes, counting placeholders.
type builder struct {
	placeholders int
}

func (b *builder) build(path string, v any, depth int) (*node, error) {
	if depth > MaxDepth {
		return nil, &SyntaxError{Field: path, Err: fmt.Errorf("%w: nesting deeper than %d", ErrLimit, MaxDepth)}
	}
	switch t := v.(type) {
	case string:
		tmpl, err := parseTemplate(t)
		if err != nil {
			pe := err.(*phError)
			return nil, &SyntaxError{Field: path, Placeholder: pe.text, Err: pe.err}
		}
		if tmpl == nil {
			return &node{kind: nodeLiteral, lit: t}, nil
		}
		for i := range tmpl.phs {
			tmpl.phs[i].id = b.placeholders + i
		}
		b.placeholders += len(tmpl.phs)
		if b.placeholders > MaxPlaceholders {
			return nil, &SyntaxError{Field: path, Err: fmt.Errorf("%w: more than %d placeholders", ErrLimit, MaxPlaceholders)}
		}
		return &node{kind: nodeTemplate, tmpl: tmpl}, nil
	case map[string]any:
		n := &node{kind: nodeObject, keys: make([]string, 0, len(t))}
		for k := range t {
			n.keys = append(n.keys, k)
		}
		sort.Strings(n.keys)
		for _, k := range n.keys {
			c, err := b.build(join(path, k), t[k], depth+1)
			if err != nil {
				return nil, err
			}
			n.elems = append(n.elems, c)
		}
		return n.literalIfConstant(t), nil
	case []any:
		n := &node{kind: nodeArray}
		for i, e := range t {
			c, err := b.build(fmt.Sprintf("%s[%d]", path, i), e, depth+1)
			if err != nil {
				return nil, err
			}
			n.elems = append(n.elems, c)
		}
		return n.literalIfConstant(t), nil
	}
	return &node{kind: nodeLiteral, lit: v}, nil
}

// literalIfConstant returns a literal node holding v when every element of
// the object or array node n is a literal (nothing to evaluate), else n.
func (n *node) literalIfConstant(v any) *node {
	for _, c := range n.elems {
		if c.kind != nodeLiteral {
			return n
		}
	}
	return &node{kind: nodeLiteral, lit: v}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// evaluator evaluates nodes for one Apply.
type evaluator struct {
	env    *Env
	budget int // bytes of mixed text still allowed
	buf    []byte

	// For a row (env.Row): its header and the column of each placeholder.
	row    bool
	header []string
	cols   []int
}

// eval returns the value of n; ok is false when it is absent. A literal
// object or array is returned as is: callers must not modify results.
func (e *evaluator) eval(path string, n *node) (any, bool, error) {
	switch n.kind {
	case nodeLiteral:
		return n.lit, true, nil
	case nodeTemplate:
		return e.render(path, n.tmpl)
	case nodeObject:
		m := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			v, ok, err := e.eval(join(path, k), n.elems[i])
			if err != nil {
				return nil, false, err
			}
			if ok {
				m[k] = v
			}
		}
		return m, len(m) > 0, nil
	default:
		a := make([]any, 0, len(n.elems))
		for i, c := range n.elems {
			v, ok, err := e.eval(fmt.Sprintf("%s[%d]", path, i), c)
			if err != nil {
				return nil, false, err
			}
			if ok {
				a = append(a, v)
			}
		}
		return a, len(a) > 0, nil
	}
}

// render evaluates a template. A single placeholder keeps its value's type;
// mixed text renders every value as text (absent values as ""), and is
// absent itself when all its placeholders are.
func (e *evaluator) render(path string, t *template) (any, bool, error) {
	if t.single() {
		v, ok, err := e.value(&t.phs[0])
		if err != nil {
			return nil, false, &FieldError{Field: path, Err: err}
		}
		return v, ok, nil
	}
	e.buf = append(e.buf[:0], t.lits[0]...)
	present := false
	for i := range t.phs {
		v, ok, err := e.value(&t.phs[i])
		if err != nil {
			return nil, false, &FieldError{Field: path, Err: err}
		}
		if ok {
			present = true
			if e.buf, err = appendText(e.buf, v); err != nil {
				return nil, false, &FieldError{Field: path, Err: err}
			}
		}
		e.buf = append(e.buf, t.lits[i+1]...)
		if len(e.buf) > e.budget {
			return nil, false, &FieldError{Field: path, Err: fmt.Errorf("%w: %w: templates render more than %d bytes", ErrLimit, errOutput, MaxOutputBytes)}
		}
	}
	if !present {
		return nil, false, nil
	}
	e.budget -= len(e.buf)
	return string(e.buf), true, nil
}

// value looks a placeholder up and runs its filters.
func (e *evaluator) value(ph *placeholder) (any, bool, error) {
	var v any
	var ok bool
	switch ph.root {
	case rootIndex:
		v, ok = e.env.Index, true
	case rootItem:
		if e.row {
			v, ok = e.cell(ph)
		} else {
			v, ok = lookup(e.env.Item, ph.path)
		}
	default:
		v, ok = lookup(e.env.Trigger, ph.path)
	}
	if s, isStr := v.(string); ok && isStr && s == "" {
		ok = false // an empty cell never blanks a field
	}
	for _, f := range ph.filters {
		// Filters that copy text are charged against the output budget, so
		// many placeholders over one large value cannot multiply it.
		if s, isStr := v.(string); isStr && (f.kind == filterJSON || f.kind == filterLower || f.kind == filterUpper) {
			if e.budget -= len(s); e.budget < 0 {
				return nil, false, fmt.Errorf("%w: %w: filters copy more than %d bytes", ErrLimit, errOutput, MaxOutputBytes)
			}
		}
		var err error
		if v, ok, err = f.apply(v, ok); err != nil {
			return nil, false, err
		}
	}
	if s, isStr := v.(string); ok && isStr && s == "" {
		ok = false
	}
	return v, ok, nil
}

// cell is what {{item...}} reads from a row: the cell of its column (a
// string, which has no fields of its own), or for {{item}} the row as an
// object.
func (e *evaluator) cell(ph *placeholder) (any, bool) {
	row := e.env.Row
	if len(ph.path) == 0 {
		m := make(map[string]any, len(row))
		for i, c := range row {
			if i < len(e.header) {
				m[e.header[i]] = c
			}
		}
		return m, true
	}
	if c := e.cols[ph.id]; c >= 0 && c < len(row) && len(ph.path) == 1 {
		return row[c], true
	}
	return nil, false
}

// lookup walks path from m through objects and arrays.
func lookup(m map[string]any, path []string) (any, bool) {
	if m == nil {
		return nil, false
	}
	var cur any = m
	for _, k := range path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[k]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// appendText renders v plainly for mixed text: strings as they are, numbers
// without exponent where reasonable, null as "", objects and arrays as JSON.
func appendText(buf []byte, v any) ([]byte, error) {
	switch t := v.(type) {
	case string:
		return append(buf, t...), nil
	case json.Number:
		return append(buf, t...), nil
	case int64:
		return strconv.AppendInt(buf, t, 10), nil
	case float64:
		if math.Abs(t) < 1e21 {
			return strconv.AppendFloat(buf, t, 'f', -1, 64), nil
		}
		return strconv.AppendFloat(buf, t, 'g', -1, 64), nil
	case bool:
		return strconv.AppendBool(buf, t), nil
	case nil:
		return buf, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return buf, err
	}
	return append(buf, b...), nil
}
