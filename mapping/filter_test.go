package mapping_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/segloop/segloop/mapping"
)

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
