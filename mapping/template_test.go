package mapping_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/segloop/segloop/mapping"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // the whole message
	}{
		{"not JSON", `{"userId": `, "mapping: not a JSON object: unexpected EOF"},
		{"not an object", `[1]`, "mapping: not a JSON object: json: cannot unmarshal array into Go value of type map[string]interface {}"},
		{"trailing data", `{} {}`, "mapping: data after the JSON object"},
		{"unknown field", `{"userid": "x"}`, "mapping: userid: unknown field (want userId, anonymousId, email, name, traits, timestamp, messageId, context or integrations)"},
		{"unknown filter", `{"traits": {"seats": "{{item.seats | itn}}"}}`, `mapping: traits.seats: {{item.seats | itn}}: unknown filter "itn" (want int, float, bool, json, trim, lower, upper or default)`},
		{"unknown root", `{"userId": "{{row.id}}"}`, `mapping: userId: {{row.id}}: unknown root "row" (want item, trigger or index)`},
		{"unclosed", `{"name": "Hi {{item.name"}`, `mapping: name: {{item.name: missing }}`},
		{"empty placeholder", `{"name": "{{ }}"}`, `mapping: name: {{ }}: expected item, trigger or index`},
		{"empty key", `{"name": "{{item..a}}"}`, `mapping: name: {{item..a}}: empty key after '.'`},
		{"default without value", `{"name": "{{item.a | default}}"}`, `mapping: name: {{item.a | default}}: default needs a value`},
		{"stray text", `{"name": "{{item.a b}}"}`, `mapping: name: {{item.a b}}: unexpected "b"`},
		{"index with path", `{"userId": "{{index.a}}"}`, `mapping: userId: {{index.a}}: index has no fields`},
		{"bad literal email", `{"email": 42}`, "mapping: email: must be a string, got a number"},
		{"bad literal userId", `{"userId": true}`, "mapping: userId: must be a string or a number, got a boolean"},
		{"bad literal time", `{"timestamp": "yesterday"}`, `mapping: timestamp: "yesterday" is not an RFC 3339 time or a 2006-01-02 date`},
		{"traits string not an object", `{"traits": "plain"}`, `mapping: traits: "plain" is not a JSON object: invalid character 'p' looking for beginning of value`},
		{"traits array", `{"traits": ["{{item.a}}"]}`, "mapping: traits: must not be an array"},
		{"name object", `{"name": {"a": "{{item.a}}"}}`, "mapping: name: must not be an object"},
		{"nested error path", `{"traits": {"a": [1, {"b": "{{item.x | upper | nope}}"}]}}`, `mapping: traits.a[1].b: {{item.x | upper | nope}}: unknown filter "nope"`},
		{"too deep", `{"traits": ` + strings.Repeat(`{"a": `, 40) + `"{{item.x}}"` + strings.Repeat("}", 40) + `}`, "limit exceeded: nesting deeper than 32"},
		{"too many placeholders", `{"name": "` + strings.Repeat("{{index}}", 10_001) + `"}`, "mapping: name: limit exceeded: more than 10000 placeholders"},
		{"too big", `{"name": "` + strings.Repeat("x", 1<<20) + `"}`, "mapping: limit exceeded: mapping is over 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mapping.Parse([]byte(tt.src))
			var se *mapping.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *SyntaxError", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) && !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %q, want %q", err, tt.want)
			}
		})
	}
}
