package mapping_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/segment"
)

func TestDefault(t *testing.T) {
	tests := []struct {
		name string
		item map[string]any
		want segment.Identify
	}{
		{"csv row", map[string]any{"id": "u1", "email": "a@b.c", "name": "Ada", "plan": "pro", "seats": "3"},
			segment.Identify{UserID: "u1", Email: "a@b.c", Name: "Ada", Traits: map[string]any{"plan": "pro", "seats": "3"}}},
		{"userId wins over user_id and id", map[string]any{"userId": "a", "user_id": "b", "id": "c"},
			segment.Identify{UserID: "a"}},
		{"empty userId falls through", map[string]any{"userId": "", "user_id": "b", "id": "c"},
			segment.Identify{UserID: "b"}},
		{"anonymous id", map[string]any{"anonymous_id": "anon", "x": "1"},
			segment.Identify{AnonymousID: "anon", Traits: map[string]any{"x": "1"}}},
		{"numeric id", map[string]any{"id": json.Number("42")},
			segment.Identify{UserID: "42"}},
		{"empty cells left out", map[string]any{"id": "u1", "email": "", "name": "", "plan": ""},
			segment.Identify{UserID: "u1"}},
		{"underscore columns ignored", map[string]any{"id": "u1", "_status": "failed", "_error": "x", "plan": "pro"},
			segment.Identify{UserID: "u1", Traits: map[string]any{"plan": "pro"}}},
		{"traits JSON string merged, columns win", map[string]any{"id": "u1", "traits": `{"plan": "free", "vip": true}`, "plan": "pro"},
			segment.Identify{UserID: "u1", Traits: map[string]any{"plan": "pro", "vip": true}}},
		{"traits object merged", map[string]any{"id": "u1", "traits": map[string]any{"a": json.Number("1")}},
			segment.Identify{UserID: "u1", Traits: map[string]any{"a": json.Number("1")}}},
		{"JSON types kept, null kept", map[string]any{"id": "u1", "n": json.Number("2"), "ok": true, "gone": nil},
			segment.Identify{UserID: "u1", Traits: map[string]any{"n": json.Number("2"), "ok": true, "gone": nil}}},
		{"nothing", map[string]any{}, segment.Identify{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mapping.Default().Apply(mapping.Env{Item: tt.item})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDefaultErrors(t *testing.T) {
	tests := []struct {
		name string
		item map[string]any
		want string
	}{
		{"userId object", map[string]any{"user_id": map[string]any{}}, `userId: column "user_id": must be a string or a number, got an object`},
		{"email number", map[string]any{"id": "u1", "email": json.Number("1")}, "email: must be a string, got a number"},
		{"traits not an object", map[string]any{"id": "u1", "traits": "[1]"}, `traits: "[1]" is not a JSON object`},
		{"traits bad JSON", map[string]any{"id": "u1", "traits": "{"}, `traits: "{" is not a JSON object: unexpected EOF`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mapping.Default().Apply(mapping.Env{Item: tt.item})
			var fe *mapping.FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v, want a *FieldError starting %q", err, tt.want)
			}
		})
	}
}
