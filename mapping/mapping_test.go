package mapping_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/segment"
)

func mustParse(t testing.TB, src string) *mapping.Mapping {
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

func TestApplyFilterCopyLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"traits": {`)
	for i := range 100 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"t%d": "{{item.big | upper}}"`, i)
	}
	b.WriteString("}}")
	m := mustParse(t, b.String())
	_, err := m.Apply(mapping.Env{Item: map[string]any{"big": strings.Repeat("x", 64<<10)}})
	if !errors.Is(err, mapping.ErrLimit) {
		t.Fatalf("got %v, want ErrLimit", err)
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
