package mapping_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/segloop/segloop/mapping"
)

// fuzzItem is a fixed item the fuzzed templates read.
func fuzzItem() map[string]any {
	return map[string]any{
		"id": "u1", "n": json.Number("42"), "f": json.Number("1.5"), "b": true, "nul": nil, "empty": "",
		"s": " Mixed Case ", "j": `{"a": [1, "x"]}`, "o": map[string]any{"k": []any{"v", json.Number("2")}},
		"big": strings.Repeat("x", 4096),
	}
}

// checkApply applies m and checks that any error is a *FieldError.
func checkApply(t *testing.T, m *mapping.Mapping, item map[string]any) {
	_, err := m.Apply(mapping.Env{Item: item, Trigger: item, Index: 3})
	var fe *mapping.FieldError
	if err != nil && !errors.As(err, &fe) {
		t.Fatalf("Apply error %v is not a *FieldError", err)
	}
}

// FuzzTemplate parses arbitrary templates (as the name field, as a trait and
// as a whole mapping file) and applies whatever parses.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"{{item.id}}", "{{ item.n | int }}", "Hi {{item.s | trim | lower}}!", `{{item.nul | default "x"}}`,
		"{{item['o'].k.0}}", "{{trigger.f | float}}{{index}}", "{{item.j | json}}", "{{item.big}}{{item.big}}",
		"{{", "}}{{item.}}", `{{item.a | default 'x}}`, `{"userId": "{{item.id}}", "traits": "{\"a\": \"{{item.n | int}}\"}"}`,
	} {
		f.Add(s)
	}
	item := fuzzItem()
	f.Fuzz(func(t *testing.T, tmpl string) {
		s, _ := json.Marshal(tmpl)
		for _, src := range []string{
			`{"name": ` + string(s) + `}`,
			`{"userId": ` + string(s) + `, "traits": {"t": ` + string(s) + `}}`,
			tmpl,
		} {
			m, err := mapping.Parse([]byte(src))
			if err != nil {
				var se *mapping.SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("Parse error %v is not a *SyntaxError", err)
				}
				continue
			}
			checkApply(t, m, item)
		}
	})
}

// FuzzApply applies a rich mapping and the default mapping to arbitrary
// JSON items.
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		`{"id": "u1", "email": "A@B.C", "seats": "3", "traits": "{\"a\": 1}"}`,
		`{"user_id": 5, "name": {"x": 1}, "seats": "abc"}`, `{"id": [1], "ts": "2025-01-01"}`, `{}`,
		`{"_status": "failed", "traits": "[", "anonymous_id": null}`,
	} {
		f.Add(s)
	}
	rich, err := mapping.Parse([]byte(`{"userId": "{{item.id}}", "anonymousId": "{{item.anonymous_id}}",
		"email": "{{item.email | trim | lower}}", "name": "{{item.name}} ({{index}})", "timestamp": "{{item.ts}}",
		"traits": {"seats": "{{item.seats | int}}", "f": "{{item.seats | float}}", "b": "{{item.seats | bool}}",
		"j": "{{item.traits | json}}", "all": "{{item}}", "d": "{{item.x | default 'none' | upper}}"},
		"context": "{{item.context}}"}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		d := json.NewDecoder(strings.NewReader(src))
		d.UseNumber()
		var item map[string]any
		if d.Decode(&item) != nil {
			return
		}
		checkApply(t, rich, item)
		checkApply(t, mapping.Default(), item)
	})
}
