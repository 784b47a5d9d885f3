package mapping

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// filterKind names a filter.
type filterKind uint8

const (
	filterInt filterKind = iota
	filterFloat
	filterBool
	filterJSON
	filterTrim
	filterLower
	filterUpper
	filterDefault
)

var filterNames = [...]string{"int", "float", "bool", "json", "trim", "lower", "upper", "default"}

// filter is one step of a placeholder's pipeline.
type filter struct {
	kind filterKind
	arg  any // default's value
}

func parseFilter(p *cursor) (filter, error) {
	name := p.word()
	for k, n := range filterNames {
		if n != name {
			continue
		}
		f := filter{kind: filterKind(k)}
		if f.kind == filterDefault {
			p.space()
			v, ok := p.literal()
			if !ok {
				return f, fmt.Errorf(`default needs a value, as in default "x", default 'x' or default 0`)
			}
			f.arg = v
		}
		return f, nil
	}
	if name == "" {
		return filter{}, fmt.Errorf("expected a filter name after '|'")
	}
	return filter{}, fmt.Errorf("unknown filter %q (want int, float, bool, json, trim, lower, upper or default)", name)
}

// apply runs f on v. ok is false for an absent value: only default turns
// an absent value (or null) into a present one; the other filters pass it
// through, and pass null through too.
func (f filter) apply(v any, ok bool) (any, bool, error) {
	if f.kind == filterDefault {
		if !ok || v == nil {
			return f.arg, true, nil
		}
		return v, true, nil
	}
	if !ok || v == nil {
		return v, ok, nil
	}
	name := filterNames[f.kind]
	switch f.kind {
	case filterInt:
		n, err := toInt(v)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", name, err)
		}
		return n, true, nil
	case filterFloat:
		x, err := toFloat(v)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", name, err)
		}
		return x, true, nil
	case filterBool:
		b, err := toBool(v)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", name, err)
		}
		return b, true, nil
	case filterJSON:
		s, isStr := v.(string)
		if !isStr {
			return v, true, nil
		}
		var out any
		if err := decodeJSON(s, &out); err != nil {
			return nil, false, fmt.Errorf("%s: %w", name, typeErrorf("%s is not valid JSON: %v", quote(s), err))
		}
		return out, true, nil
	}
	// trim, lower, upper: text in, text out; other scalars pass through.
	switch s := v.(type) {
	case string:
		switch f.kind {
		case filterTrim:
			s = strings.TrimSpace(s)
		case filterLower:
			s = strings.ToLower(s)
		default:
			s = strings.ToUpper(s)
		}
		return s, true, nil
	case map[string]any, []any:
		return nil, false, fmt.Errorf("%s: %w", name, typeErrorf("expects text, got %s", kind(v)))
	}
	return v, true, nil
}

func toInt(v any) (int64, error) {
	var s string
	switch t := v.(type) {
	case int64:
		return t, nil
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<63 {
			return int64(t), nil
		}
		return 0, typeErrorf("%v is not an integer", t)
	case json.Number:
		s = string(t)
	case string:
		s = strings.TrimSpace(t)
	default:
		return 0, typeErrorf("%s is not an integer", kind(v))
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	// "3.0" and "1e3" are integers written as decimals.
	if x, err := strconv.ParseFloat(s, 64); err == nil && x == math.Trunc(x) && math.Abs(x) < 1<<63 {
		return int64(x), nil
	}
	return 0, typeErrorf("%s is not an integer", quote(s))
}

func toFloat(v any) (float64, error) {
	var s string
	switch t := v.(type) {
	case float64:
		return t, nil
	case int64:
		return float64(t), nil
	case json.Number:
		s = string(t)
	case string:
		s = strings.TrimSpace(t)
	default:
		return 0, typeErrorf("%s is not a number", kind(v))
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, typeErrorf("%s is not a number", quote(s))
	}
	return x, nil
}

func toBool(v any) (bool, error) {
	var s string
	switch t := v.(type) {
	case bool:
		return t, nil
	case json.Number:
		s = string(t)
	case int64:
		s = strconv.FormatInt(t, 10)
	case string:
		s = strings.TrimSpace(t)
	default:
		return false, typeErrorf("%s is not a boolean", kind(v))
	}
	switch strings.ToLower(s) {
	case "true", "t", "1", "yes", "y", "on":
		return true, nil
	case "false", "f", "0", "no", "n", "off":
		return false, nil
	}
	return false, typeErrorf("%s is not a boolean", quote(s))
}

// kind names v's JSON type for messages.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number, int64, float64:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("a %T", v)
}

// quote quotes s for a message, shortened.
func quote(s string) string { return strconv.Quote(shorten(s, 40)) }

// decodeJSON decodes exactly one JSON value from s, numbers as json.Number.
func decodeJSON(s string, out *any) error {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(out); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}
