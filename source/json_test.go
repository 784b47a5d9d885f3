package source_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/segloop/segloop/source"
)

func TestJSON(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		opts  source.Options
		want  []item
		fatal string // substring of the fatal error after the items
	}{
		{name: "objects", in: "[\n {\"id\": \"u1\", \"n\": 3},\n {\"id\": \"u2\", \"ok\": true}\n]\n", want: []item{
			{Line: 2, Fields: map[string]any{"id": "u1", "n": json.Number("3")}},
			{Line: 3, Fields: map[string]any{"id": "u2", "ok": true}},
		}},
		{name: "empty array", in: " [ ] ", want: nil},
		{name: "multi-line elements", in: "[{\n\"id\":\n\"u1\"},\n\n\n{\"id\":\"u2\"}]", want: []item{
			{Line: 1, Fields: map[string]any{"id": "u1"}},
			{Line: 6, Fields: map[string]any{"id": "u2"}},
		}},
		{name: "non-objects are item errors", in: "[\n1,\n\"s\",\n[2],\nnull,\n{\"id\":\"u1\"}]", want: []item{
			{Line: 2, Err: "line 2, column 1: not a JSON object: found a number"},
			{Line: 3, Err: "line 3, column 1: not a JSON object: found a string"},
			{Line: 4, Err: "found an array"},
			{Line: 5, Err: "found null"},
			{Line: 6, Fields: map[string]any{"id": "u1"}},
		}},
		{name: "invalid UTF-8 is an item error", in: "[{\"id\":\"u\xff\"},{\"id\":\"u2\"}]", want: []item{
			{Line: 1, Err: "line 1, column 9: invalid UTF-8"},
			{Line: 1, Fields: map[string]any{"id": "u2"}},
		}},
		{name: "broken mid-stream", in: "[\n{\"id\":\"u1\"},\n{\"id\":\"u2\"},\n{\"id\" \"u3\"}\n]", want: []item{
			{Line: 2}, {Line: 3},
		}, fatal: "line 4 (byte offset 34): invalid character '\"' after object key"},
		{name: "truncated", in: "[{\"id\":\"u1\"},\n{\"id\":", want: []item{{Line: 1}}, fatal: "line 2 (byte offset 20): unexpected end of input inside the JSON array"},
		{name: "trailing comma", in: "[{\"id\":\"u1\"},]", want: []item{{Line: 1}}, fatal: "invalid character ']'"},
		{name: "not an array", in: "{\"id\":\"u1\"}", fatal: "line 1 (byte offset 0): expected a JSON array, found \"{\""},
		{name: "empty input", in: "", fatal: "unexpected end of input"},
		{name: "data after the array", in: "[{\"id\":\"u1\"}]\n[]", want: []item{{Line: 1}}, fatal: "line 2 (byte offset 14): unexpected \"[\" after the JSON array"},
		{name: "oversized element within slack", in: "[{\"id\":\"" + strings.Repeat("x", 100) + "\"},{\"id\":\"u2\"}]", opts: source.Options{MaxItemBytes: 50}, want: []item{
			{Line: 1, Err: "item too large: element exceeds 50 bytes"},
			{Line: 1, Fields: map[string]any{"id": "u2"}},
		}},
		{name: "huge element is fatal", in: "[{\"id\":\"u1\"},\n{\"id\":\"" + strings.Repeat("x", 200<<10) + "\"}]", opts: source.Options{MaxItemBytes: 1024}, want: []item{{Line: 1}},
			fatal: "line 2 (byte offset 14): item too large: an element exceeds 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := source.Open(strings.NewReader(tt.in), source.JSON, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, r)
			check(t, got, tt.want)
			if tt.fatal == "" {
				if err != nil {
					t.Fatalf("unexpected fatal error %v", err)
				}
				return
			}
			var se *source.StreamError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.fatal) {
				t.Fatalf("got fatal error %v, want a *StreamError containing %q", err, tt.fatal)
			}
			if _, err := r.Next(); err == nil {
				t.Fatal("Next after a fatal error returned no error")
			}
		})
	}
}

func TestJSONRawIsTheElement(t *testing.T) {
	r := source.NewJSONReader(strings.NewReader(`[ {"a": 1} , {"b":[1, 2]}]`), source.Options{})
	for _, want := range []string{`{"a": 1}`, `{"b":[1, 2]}`} {
		rec, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if string(rec.Raw) != want {
			t.Fatalf("got raw %q, want %q", rec.Raw, want)
		}
	}
}

func TestBOMDropped(t *testing.T) {
	for _, f := range []source.Format{source.JSON, source.NDJSON} {
		in := "\xef\xbb\xbf{\"id\":\"u1\"}\n"
		if f == source.JSON {
			in = "\xef\xbb\xbf[{\"id\":\"u1\"}]\n"
		}
		t.Run(string(f), func(t *testing.T) {
			r, err := source.Open(strings.NewReader(in), f, source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, r)
			if err != nil {
				t.Fatal(err)
			}
			check(t, got, []item{{Line: 1, Fields: map[string]any{"id": "u1"}}})
		})
	}
}
