package mapping_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/segment"
)

func mustParse(t *testing.T, src string) *mapping.Mapping {
	t.Helper()
	m, err := mapping.Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse(%s): %v", src, err)
	}
	return m
}

// item decodes a JSON object with json.Number numbers, as source does.
func item(t *testing.T, src string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(src))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

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

func TestApply(t *testing.T) {
	trigger := map[string]any{"source": "crm", "plan": map[string]any{"tier": "gold"}}
	tests := []struct {
		name    string
		mapping string
		item    string
		index   int64
		want    segment.Identify
	}{
		{"single placeholder keeps type", `{"userId": "{{item.id}}", "traits": {"n": "{{item.n}}", "ok": "{{item.ok}}", "o": "{{item.o}}"}}`,
			`{"id": 7, "n": 1.5, "ok": true, "o": {"k": [1]}}`, 0,
			segment.Identify{UserID: "7", Traits: map[string]any{"n": json.Number("1.5"), "ok": true, "o": map[string]any{"k": []any{json.Number("1")}}}}},
		{"mixed text interpolates", `{"userId": "u-{{item.id}}-{{index}}", "name": "{{item.first}} {{item.last}}", "traits": {"s": "{{item.o}}/{{item.ok}}/{{item.f | float}}/{{item.z}}/{{item.nul}}"}}`,
			`{"id": 7, "first": "Ada", "last": "Lovelace", "o": {"k": "v"}, "ok": false, "f": "2.50", "nul": null}`, 12,
			segment.Identify{UserID: "u-7-12", Name: "Ada Lovelace", Traits: map[string]any{"s": `{"k":"v"}/false/2.5//`}}},
		{"missing and empty are absent", `{"userId": "{{item.id}}", "email": "{{item.email}}", "name": "{{item.a}} {{item.b}}", "traits": {"plan": "{{item.plan}}", "x": "{{item.nope.deeper}}", "lit": "kept"}}`,
			`{"id": "u1", "email": "", "plan": ""}`, 0,
			segment.Identify{UserID: "u1", Traits: map[string]any{"lit": "kept"}}},
		{"all-absent traits object left out", `{"userId": "{{item.id}}", "traits": {"plan": "{{item.plan}}", "nested": {"a": "{{item.a}}"}}}`,
			`{"id": "u1"}`, 0, segment.Identify{UserID: "u1"}},
		{"null is kept", `{"userId": "{{item.id}}", "traits": {"plan": "{{item.plan}}"}}`,
			`{"id": "u1", "plan": null}`, 0, segment.Identify{UserID: "u1", Traits: map[string]any{"plan": nil}}},
		{"filters", `{"userId": "{{ item.id | trim | upper }}", "email": "{{item.email | trim | lower}}", "traits": {
			"i": "{{item.i | int}}", "i2": "{{item.i2 | int}}", "f": "{{item.f | float}}", "b": "{{item.b | bool}}", "b2": "{{item.b2 | bool}}",
			"j": "{{item.j | json}}", "d": "{{item.missing | default \"free\"}}", "d2": "{{item.empty | default 'none'}}",
			"d3": "{{item.missing | default 0 | int}}", "d4": "{{item.present | default \"x\"}}", "d5": "{{item.nul | default true}}"}}`,
			`{"id": " u1 ", "email": " Ada@Example.COM ", "i": " 42 ", "i2": "3.0", "f": 1, "b": "yes", "b2": 0, "j": "{\"a\": [1, \"b\"]}", "empty": "", "present": "p", "nul": null}`, 0,
			segment.Identify{UserID: "U1", Email: "ada@example.com", Traits: map[string]any{
				"i": int64(42), "i2": int64(3), "f": float64(1), "b": true, "b2": false,
				"j": map[string]any{"a": []any{json.Number("1"), "b"}}, "d": "free", "d2": "none", "d3": int64(0), "d4": "p", "d5": true}}},
		{"trigger and index", `{"userId": "{{item.id}}", "anonymousId": "{{index}}", "traits": {"src": "{{trigger.source}}", "tier": "{{trigger.plan.tier}}", "all": "{{trigger.plan}}"}}`,
			`{"id": "u1"}`, 5,
			segment.Identify{UserID: "u1", AnonymousID: "5", Traits: map[string]any{"src": "crm", "tier": "gold", "all": map[string]any{"tier": "gold"}}}},
		{"bracket keys and array indexes", `{"userId": "{{item['user id']}}", "name": "{{item[\"a.b\"]}}", "traits": {"first": "{{item.tags.0}}", "out": "{{item.tags.9}}"}}`,
			`{"user id": "u1", "a.b": "dotted", "tags": ["t0", "t1"]}`, 0,
			segment.Identify{UserID: "u1", Name: "dotted", Traits: map[string]any{"first": "t0"}}},
		{"traits as a JSON string, templated inside", `{"userId": "{{item.id}}", "traits": "{\"plan\": \"{{item.plan}}\", \"n\": 3}"}`,
			`{"id": "u1", "plan": "pro"}`, 0,
			segment.Identify{UserID: "u1", Traits: map[string]any{"plan": "pro", "n": json.Number("3")}}},
		{"traits from a JSON string cell", `{"userId": "{{item.id}}", "traits": "{{item.traits}}", "context": "{{item.ctx | json}}", "integrations": {"All": false}}`,
			`{"id": "u1", "traits": "{\"a\": 1}", "ctx": "{\"ip\": \"1.2.3.4\"}"}`, 0,
			segment.Identify{UserID: "u1", Traits: map[string]any{"a": json.Number("1")}, Context: map[string]any{"ip": "1.2.3.4"}, Integrations: map[string]any{"All": false}}},
		{"timestamp and messageId", `{"userId": "{{item.id}}", "timestamp": "{{item.ts}}", "messageId": "m-{{index}}"}`,
			`{"id": "u1", "ts": "2025-01-03T09:00:00Z"}`, 3,
			segment.Identify{UserID: "u1", Timestamp: time.Date(2025, 1, 3, 9, 0, 0, 0, time.UTC), MessageID: "m-3"}},
		{"date only timestamp", `{"userId": "{{item.id}}", "timestamp": "{{item.ts}}"}`,
			`{"id": "u1", "ts": "2025-01-03"}`, 0,
			segment.Identify{UserID: "u1", Timestamp: time.Date(2025, 1, 3, 0, 0, 0, 0, time.UTC)}},
		{"literals pass through", `{"userId": 12, "email": "a@b.c", "traits": {"company": "Acme", "n": 1, "tags": ["a"]}}`,
			`{}`, 0,
			segment.Identify{UserID: "12", Email: "a@b.c", Traits: map[string]any{"company": "Acme", "n": json.Number("1"), "tags": []any{"a"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, tt.mapping)
			got, err := m.Apply(mapping.Env{Item: item(t, tt.item), Trigger: trigger, Index: tt.index})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	tests := []struct {
		name, mapping, item string
		want                string
	}{
		{"int", `{"traits": {"seats": "{{item.seats | int}}"}}`, `{"seats": "abc"}`, `traits.seats: int: "abc" is not an integer`},
		{"float", `{"traits": {"x": "{{item.x | float}}"}}`, `{"x": "NaN"}`, `traits.x: float: "NaN" is not a number`},
		{"bool", `{"traits": {"x": "{{item.x | bool}}"}}`, `{"x": "maybe"}`, `traits.x: bool: "maybe" is not a boolean`},
		{"bool of object", `{"traits": {"x": "{{item.x | bool}}"}}`, `{"x": {}}`, `traits.x: bool: an object is not a boolean`},
		{"json", `{"traits": {"x": "{{item.x | json}}"}}`, `{"x": "{nope"}`, `traits.x: json: "{nope" is not valid JSON`},
		{"lower of array", `{"name": "{{item.x | lower}}"}`, `{"x": [1]}`, `name: lower: expects text, got an array`},
		{"userId object", `{"userId": "{{item.id}}"}`, `{"id": {"a": 1}}`, `userId: must be a string or a number, got an object`},
		{"email number", `{"email": "{{item.e}}"}`, `{"e": 5}`, `email: must be a string, got a number`},
		{"timestamp", `{"timestamp": "{{item.t}}"}`, `{"t": "01/02/2025"}`, `timestamp: "01/02/2025" is not an RFC 3339 time or a 2006-01-02 date`},
		{"traits not object", `{"traits": "{{item.t}}"}`, `{"t": "[1]"}`, `traits: "[1]" is not a JSON object`},
		{"context number", `{"context": "{{item.c}}"}`, `{"c": 1}`, `context: must be an object, got a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mustParse(t, tt.mapping).Apply(mapping.Env{Item: item(t, tt.item)})
			var fe *mapping.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, mapping.ErrType) {
				t.Fatalf("got %v, want a *FieldError wrapping ErrType", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %q, want %q", err, tt.want)
			}
		})
	}
}

func TestApplyOutputLimit(t *testing.T) {
	// Billion-laughs style: few placeholders, each repeating a large value.
	m := mustParse(t, `{"name": "`+strings.Repeat("{{item.big}}", 1000)+`"}`)
	_, err := m.Apply(mapping.Env{Item: map[string]any{"big": strings.Repeat("x", 64<<10)}})
	if !errors.Is(err, mapping.ErrLimit) {
		t.Fatalf("got %v, want ErrLimit", err)
	}
	if want := "name: limit exceeded"; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %q, want prefix %q", err, want)
	}
}

func TestApplyDoesNotShareTopLevelMaps(t *testing.T) {
	m := mustParse(t, `{"traits": {"company": "Acme"}, "context": "{{item.ctx}}"}`)
	ctx := map[string]any{"ip": "1.2.3.4"}
	for range 2 {
		id, err := m.Apply(mapping.Env{Item: map[string]any{"ctx": ctx}})
		if err != nil {
			t.Fatal(err)
		}
		id.Traits["email"] = "x@y.z"
		id.Context["mutated"] = true
	}
	if _, ok := ctx["mutated"]; ok {
		t.Fatal("Apply returned the item's own context map")
	}
	id, _ := m.Apply(mapping.Env{})
	if _, ok := id.Traits["email"]; ok {
		t.Fatal("Apply returned the mapping's own traits map")
	}
}
