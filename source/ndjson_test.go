package source_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/segloop/segloop/source"
)

func TestNDJSON(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		opts  source.Options
		want  []item
		fatal string
	}{
		{name: "lines", in: "{\"id\":\"u1\",\"n\":1.5}\n{\"id\":\"u2\"}\n", want: []item{
			{Line: 1, Fields: map[string]any{"id": "u1", "n": json.Number("1.5")}},
			{Line: 2, Fields: map[string]any{"id": "u2"}},
		}},
		{name: "CRLF and no final newline", in: "{\"id\":\"u1\"}\r\n{\"id\":\"u2\"}", want: []item{
			{Line: 1, Fields: map[string]any{"id": "u1"}},
			{Line: 2, Fields: map[string]any{"id": "u2"}},
		}},
		{name: "blank lines skipped but counted", in: "\n  \n{\"id\":\"u1\"}\n\t\r\n\n{\"id\":\"u2\"}\n\n  ", want: []item{
			{Line: 3, Fields: map[string]any{"id": "u1"}},
			{Line: 6, Fields: map[string]any{"id": "u2"}},
		}},
		{name: "bad lines are item errors", in: "{\"id\":\"u1\"\n[1]\n42\n{\"id\":\"u2\"} {}\n{\"id\":\"\xfe\"}\n{\"id\":\"u3\"}\n", want: []item{
			{Line: 1, Err: "line 1, column 11: unexpected end of JSON input"},
			{Line: 2, Err: "line 2, column 1: not a JSON object: found an array"},
			{Line: 3, Err: "found a number"},
			{Line: 4, Err: "line 4, column 13: unexpected data after the JSON object"},
			{Line: 5, Err: "line 5, column 8: invalid UTF-8"},
			{Line: 6, Fields: map[string]any{"id": "u3"}},
		}},
		{name: "syntax error column", in: "{\"id\": tru}\n", want: []item{
			{Line: 1, Err: "line 1, column 11: invalid character '}' in literal true"},
		}},
		{name: "overlong line skipped", in: "{\"id\":\"u1\"}\n{\"id\":\"" + strings.Repeat("x", 300<<10) + "\"}\n{\"id\":\"u3\"}\n", opts: source.Options{MaxItemBytes: 1000}, want: []item{
			{Line: 1, Fields: map[string]any{"id": "u1"}},
			{Line: 2, Err: "line 2: item too large: line exceeds 1000 bytes"},
			{Line: 3, Fields: map[string]any{"id": "u3"}},
		}},
		{name: "empty input", in: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := source.Open(strings.NewReader(tt.in), source.NDJSON, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, r)
			if err != nil {
				t.Fatal(err)
			}
			check(t, got, tt.want)
		})
	}
}

func TestNDJSONRawOwned(t *testing.T) {
	r := source.NewNDJSONReader(strings.NewReader("{\"a\":1}\r\n{\"b\":2}\n"), source.Options{})
	first, _ := r.Next()
	second, _ := r.Next()
	if string(first.Raw) != `{"a":1}` || string(second.Raw) != `{"b":2}` {
		t.Fatalf("got raw %q and %q", first.Raw, second.Raw)
	}
}

func TestNDJSONReadErrorIsFatal(t *testing.T) {
	r := source.NewNDJSONReader(&failingReader{data: "{\"id\":\"u1\"}\n{\"id\""}, source.Options{})
	got, err := readAll(t, r)
	var se *source.StreamError
	if !errors.As(err, &se) || se.Line != 2 || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("got %v, want a *StreamError on line 2 about the disk", err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d records before the error, want 1", len(got))
	}
	if _, again := r.Next(); again != err {
		t.Fatalf("Next after a fatal error returned %v, want the same error", again)
	}
}
