// Package mapping turns input items into segment.Identify inputs, either by
// the default mapping or by a mapping file in the shape of the Identify
// action's sample request:
//
//	{"userId": "{{item.id}}", "email": "{{item.email | lower}}",
//	 "name": "{{item.first_name}} {{item.last_name}}",
//	 "traits": {"plan": "{{item.plan}}", "seats": "{{item.seats | int}}", "company": "Acme"}}
//
// Placeholders: {{item.a.b}} reads the current item (["a b"] or ['a b'] for
// keys with spaces or dots, a number for an array index), {{trigger.x}} the
// run-level trigger object and {{index}} the item's position. A string that is
// exactly one placeholder keeps the value's JSON type; text around or between
// placeholders makes the value a string, with numbers written plainly, null
// and absent values as "" and objects as JSON. Filters, chained with '|':
// int, float, bool, json (parse a JSON string), trim, lower, upper and
// default "x" (also default 'x', default 0, default true).
//
// Absent values: a missing path, and an empty string, are absent; a field
// whose value is absent is left out, so an empty cell never blanks a trait.
// default gives an absent (or null) value one. Mixed text is absent when all
// its placeholders are; an object all of whose templated keys are absent is
// absent too. JSON null is kept as null.
//
// Rows of text cells under a header (CSV) are mapped by column position: a
// Mapping bound to the header with ForHeader resolves every column name once
// and reads Env.Row, with the results the row's map would give.
//
// Templates never execute code, read files or the environment; Parse rejects
// mappings over MaxMappingBytes, MaxPlaceholders or MaxDepth, and an Apply
// whose mixed text, plus the text copied by the json, lower and upper filters,
// exceeds MaxOutputBytes fails with ErrLimit. Single placeholders share the
// item's values rather than copy them.
package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"github.com/segloop/segloop/segment"
)

// Env is what placeholders read for one item: a decoded object (Item), or a
// row of text cells (Row) for a Mapping bound to the row's header by
// ForHeader.
type Env struct {
	Item    map[string]any // {{item...}}: the decoded item
	Row     []string       // {{item.col}}: the item's cells, for a Mapping from ForHeader; read when Item is nil
	Trigger map[string]any // {{trigger...}}: the run-level trigger object; nil if none
	Index   int64          // {{index}}: the item's 0-based position
}

// Mapping maps items onto Identify inputs. It is immutable after Parse,
// Default or ForHeader and safe for concurrent use by any number of
// goroutines.
type Mapping struct {
	def          bool    // the default mapping
	fields       []field // in a fixed order
	placeholders int     // placeholders in fields, numbered 0..placeholders-1

	// Bound to a header by ForHeader.
	bound  bool
	header []string
	row    *rowDefault // the default mapping's columns
	cols   []int       // per placeholder: the column its {{item.col}} reads, -1 for none
}

// field is one mapped top-level field.
type field struct {
	name string
	kind fieldKind
	node *node
}

type fieldKind uint8

const (
	kindID     fieldKind = iota // userId, anonymousId: string or number
	kindText                    // email, name, messageId: string
	kindTime                    // timestamp
	kindObject                  // traits, context, integrations
)

// fieldKinds lists the mappable fields in the order they are applied.
var fieldKinds = []struct {
	name string
	kind fieldKind
}{
	{"userId", kindID}, {"anonymousId", kindID}, {"email", kindText}, {"name", kindText},
	{"timestamp", kindTime}, {"messageId", kindText},
	{"traits", kindObject}, {"context", kindObject}, {"integrations", kindObject},
}

// Parse parses and checks a mapping file. Every problem found is a
// *SyntaxError naming the field path and the placeholder.
func Parse(data []byte) (*Mapping, error) {
	if len(data) > MaxMappingBytes {
		return nil, &SyntaxError{Err: fmt.Errorf("%w: mapping is over %d bytes", ErrLimit, MaxMappingBytes)}
	}
	var top map[string]any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&top); err != nil {
		return nil, &SyntaxError{Err: fmt.Errorf("not a JSON object: %w", err)}
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, &SyntaxError{Err: errors.New("data after the JSON object")}
	}
	if top == nil {
		return nil, &SyntaxError{Err: errors.New("not a JSON object: null")}
	}
	for k := range top {
		if !known(k) {
			return nil, &SyntaxError{Field: k, Err: errors.New("unknown field (want userId, anonymousId, email, name, traits, timestamp, messageId, context or integrations)")}
		}
	}
	m := &Mapping{}
	b := &builder{}
	for _, fk := range fieldKinds {
		v, ok := top[fk.name]
		if !ok {
			continue
		}
		if s, isStr := v.(string); isStr && fk.kind == kindObject {
			// An object given as a JSON string: templated inside.
			var inner any
			if decodeJSON(s, &inner) == nil {
				if _, isObj := inner.(map[string]any); isObj {
					v = inner
				}
			}
		}
		n, err := b.build(fk.name, v, 0)
		if err != nil {
			return nil, err
		}
		if n.kind == nodeLiteral {
			if _, err := convert(fk.kind, n.lit); err != nil {
				return nil, &SyntaxError{Field: fk.name, Err: err}
			}
		}
		if n.kind == nodeArray || (n.kind == nodeObject && fk.kind != kindObject) {
			return nil, &SyntaxError{Field: fk.name, Err: typeErrorf("must not be %s", kind(v))}
		}
		m.fields = append(m.fields, field{name: fk.name, kind: fk.kind, node: n})
	}
	m.placeholders = b.placeholders
	return m, nil
}

func known(name string) bool {
	for _, fk := range fieldKinds {
		if fk.name == name {
			return true
		}
	}
	return false
}

// Apply maps one item. A field that cannot be mapped is a *FieldError naming
// it, such as `traits.seats: int: "abc" is not an integer`. The result may
// share nested objects and arrays with env.Item and the mapping, and cells
// with env.Row; callers must not modify them (the top-level Traits, Context
// and Integrations maps are the caller's own).
//
// A Mapping from ForHeader reads env.Row when env.Item is nil. Mapped from a
// row, the default mapping returns the row's traits as Columns and Row and
// its traits cell as TraitsJSON (checked when the event is encoded: see
// segment.Identify.AppendJSON), without a map; the event is the one the
// row's Item map would give, its traits cell's errors included.
func (m *Mapping) Apply(env Env) (segment.Identify, error) {
	rowMode := m.bound && env.Item == nil && env.Row != nil
	if m.def {
		if rowMode {
			return m.row.apply(env.Row), nil
		}
		return applyDefault(env.Item)
	}
	return m.applyTemplates(env, rowMode)
}

// applyTemplates is Apply for a mapping file. (Apart from Apply, so that
// env stays on Apply's stack for the default mapping.)
func (m *Mapping) applyTemplates(env Env, rowMode bool) (segment.Identify, error) {
	e := evaluator{env: &env, budget: MaxOutputBytes, row: rowMode}
	if rowMode {
		e.header, e.cols = m.header, m.cols
	}
	var id segment.Identify
	for i := range m.fields {
		f := &m.fields[i]
		v, ok, err := e.eval(f.name, f.node)
		if err != nil {
			return segment.Identify{}, err
		}
		if !ok || v == nil {
			continue
		}
		out, err := convert(f.kind, v)
		if err != nil {
			return segment.Identify{}, &FieldError{Field: f.name, Err: err}
		}
		set(&id, f.name, out)
	}
	return id, nil
}

// convert checks and converts a field's value to its Go type.
func convert(k fieldKind, v any) (any, error) {
	switch k {
	case kindID:
		switch t := v.(type) {
		case string:
			return t, nil
		case json.Number:
			return t.String(), nil
		case int64, float64:
			var b []byte
			b, _ = appendText(b, t)
			return string(b), nil
		}
		return nil, typeErrorf("must be a string or a number, got %s", kind(v))
	case kindText:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, typeErrorf("must be a string, got %s", kind(v))
	case kindTime:
		s, ok := v.(string)
		if !ok {
			return nil, typeErrorf("must be an RFC 3339 time string, got %s", kind(v))
		}
		return parseTime(s)
	}
	return toObject(v)
}

// parseTime accepts RFC 3339 times and 2006-01-02 dates (midnight UTC).
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, typeErrorf("%s is not an RFC 3339 time or a 2006-01-02 date", quote(s))
}

// toObject accepts an object, or a string holding a JSON object, and returns
// a map the caller may modify at its top level.
func toObject(v any) (map[string]any, error) {
	switch t := v.(type) {
	case map[string]any:
		return maps.Clone(t), nil
	case string:
		var inner any
		if err := decodeJSON(t, &inner); err != nil {
			return nil, typeErrorf("%s is not a JSON object: %v", quote(t), err)
		}
		if m, ok := inner.(map[string]any); ok {
			return m, nil
		}
		return nil, typeErrorf("%s is not a JSON object", quote(t))
	}
	return nil, typeErrorf("must be an object, got %s", kind(v))
}

func set(id *segment.Identify, name string, v any) {
	switch name {
	case "userId":
		id.UserID = v.(string)
	case "anonymousId":
		id.AnonymousID = v.(string)
	case "email":
		id.Email = v.(string)
	case "name":
		id.Name = v.(string)
	case "timestamp":
		id.Timestamp = v.(time.Time)
	case "messageId":
		id.MessageID = v.(string)
	case "traits":
		id.Traits = nonEmpty(v.(map[string]any))
	case "context":
		id.Context = nonEmpty(v.(map[string]any))
	case "integrations":
		id.Integrations = nonEmpty(v.(map[string]any))
	}
}

func nonEmpty(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	return m
}
