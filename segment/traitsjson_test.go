package segment_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/segloop/segloop/segment"
)

func mustColumns(t testing.TB, names []string, index []int) *segment.Columns {
	t.Helper()
	c, err := segment.NewColumns(names, index)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAppendJSONTraitsJSON(t *testing.T) {
	cols := mustColumns(t, []string{"seats", "plan"}, []int{2, 1})
	tests := []struct {
		name string
		in   segment.Identify
		want string // the traits object, or the error
	}{
		{"spliced as written, after the columns, before email",
			segment.Identify{Columns: cols, Row: []string{"u1", "pro", "12"}, Email: "a@b.co",
				TraitsJSON: `{"company":"Acme","seats":3,"beta":true,"tags":["a","b"],"n":null}`},
			`{"plan":"pro","seats":"12","company":"Acme","beta":true,"tags":["a","b"],"n":null,"email":"a@b.co"}`},
		{"white space dropped, numbers as written",
			segment.Identify{TraitsJSON: " {\n\t\"a\" : [ 1 , -2.50e+3 , { } , [ ] ] ,\r\n \"b\" : { \"c\" : 0 } } "},
			`{"a":[1,-2.50e+3,{},[]],"b":{"c":0}}`},
		{"strings escaped as decoding and encoding would",
			segment.Identify{TraitsJSON: `{"s":"\u00e9\/\u003c<&\ud83d\ude00\ud800x\"\\\b\f\n\r\t\u0001\u2028` + "\u2029\x7f" + `"}`},
			`{"s":"é/\u003c\u003c\u0026😀` + "\uFFFD" + `x\"\\\b\f\n\r\t\u0001\u2028\u2029` + "\x7f" + `"}`},
		{"invalid UTF-8 becomes U+FFFD", segment.Identify{TraitsJSON: "{\"s\":\"a\xffb\"}"}, "{\"s\":\"a\uFFFDb\"}"},
		{"email and name win", segment.Identify{Email: "a@b.co", Name: "N", TraitsJSON: `{"email":"x@y.z","name":"M","k":1}`},
			`{"k":1,"email":"a@b.co","name":"N"}`},
		{"a non-empty column wins, an empty one does not",
			segment.Identify{Columns: cols, Row: []string{"u1", "", "12"}, TraitsJSON: `{"plan":"free","seats":9}`},
			`{"seats":"12","plan":"free"}`},
		{"a short row gives no value", segment.Identify{Columns: cols, Row: []string{"u1"}, TraitsJSON: `{"seats":9}`},
			`{"seats":9}`},
		{"a Traits key wins", segment.Identify{Traits: map[string]any{"a": 1}, TraitsJSON: `{"a":2,"b":3}`}, `{"a":1,"b":3}`},
		{"an escaped key is compared decoded", segment.Identify{Traits: map[string]any{"a<": 1}, TraitsJSON: `{"a\u003c":2,"\u0062":3}`}, `{"a\u003c":1,"b":3}`},
		{"a repeated key: decoded, the last wins, sorted", segment.Identify{TraitsJSON: `{"b":1,"a":{"x":1,"x":2},"b":3}`}, `{"a":{"x":2},"b":3}`},
		{"a repeated nested key", segment.Identify{TraitsJSON: `{"z":[{"x":1,"x":2}],"y":0}`}, `{"y":0,"z":[{"x":2}]}`},
		{"an empty object adds nothing", segment.Identify{TraitsJSON: " {} "}, ""},
		{"every member shadowed: no traits", segment.Identify{Email: "a@b.co", TraitsJSON: `{"email":"x"}`}, `{"email":"a@b.co"}`},
		{"not an object", segment.Identify{TraitsJSON: "[1]"}, `traits: "[1]" is not a JSON object`},
		{"null", segment.Identify{TraitsJSON: "null"}, `traits: "null" is not a JSON object`},
		{"broken", segment.Identify{TraitsJSON: `{"a":`}, `traits: "{\"a\":" is not a JSON object: unexpected EOF`},
		{"data after", segment.Identify{TraitsJSON: `{"a":1} x`}, `traits: "{\"a\":1} x" is not a JSON object: data after the JSON value`},
		{"bad escape", segment.Identify{TraitsJSON: `{"a":"\x"}`}, `traits: "{\"a\":\"\\x\"}" is not a JSON object: invalid character 'x' in string escape code`},
		{"raw control character", segment.Identify{TraitsJSON: "{\"a\":\"\n\"}"}, `is not a JSON object: invalid character '\n' in string literal`},
		{"bad number", segment.Identify{TraitsJSON: `{"a":01}`}, `is not a JSON object: invalid character '1' after object key:value pair`},
		{"long text is cut in the message", segment.Identify{TraitsJSON: "[" + strings.Repeat("1,", 40) + "1]"}, `traits: "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1…" is not a JSON object`},
		{"nested too deep", segment.Identify{TraitsJSON: `{"a":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + "}"}, "traits: nested deeper than 64 levels"},
		{"nested just deep enough", segment.Identify{TraitsJSON: `{"a":` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + "}"},
			`{"a":` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + "}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.UserID = "u1"
			got, err := tt.in.AppendJSON([]byte("prefix:"))
			if err != nil {
				var ve *segment.ValidationError
				if !errors.As(err, &ve) || !errors.Is(err, segment.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("got error %v, want a *ValidationError containing %q", err, tt.want)
				}
				if string(got) != "prefix:" {
					t.Fatalf("dst changed on error: %q", got)
				}
				return
			}
			want := `prefix:{"type":"identify","userId":"u1"}`
			if tt.want != "" {
				want = `prefix:{"type":"identify","userId":"u1","traits":` + tt.want + "}"
			}
			if string(got) != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestAppendJSONColumns(t *testing.T) {
	cols := mustColumns(t, []string{"plan", "email", "name", "a<b"}, []int{1, 2, 3, 4})
	in := segment.Identify{UserID: "u1", Columns: cols, Row: []string{"u1", "pro", "t@b.co", "", "x"}}
	got, err := in.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Names in order, encoded; the empty cell left out.
	if want := `{"type":"identify","userId":"u1","traits":{"a\u003cb":"x","email":"t@b.co","plan":"pro"}}`; string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	in.Email, in.Name = "e@b.co", "N"
	in.Traits = map[string]any{"plan": "free", "vip": true}
	got, err = in.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"identify","userId":"u1","traits":{"a\u003cb":"x","plan":"pro","vip":true,"email":"e@b.co","name":"N"}}`; string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	all, err := in.AllTraits()
	if err != nil || !reflect.DeepEqual(all, map[string]any{"a<b": "x", "plan": "pro", "vip": true, "email": "t@b.co"}) {
		t.Fatalf("AllTraits = %v, %v", all, err)
	}
	msg := in.Message()
	if msg.Traits["email"] != "e@b.co" || msg.Traits["plan"] != "pro" || msg.Traits["name"] != "N" {
		t.Fatalf("Message traits %v", msg.Traits)
	}
}

func TestNewColumnsErrors(t *testing.T) {
	for _, tt := range []struct {
		names []string
		index []int
	}{
		{[]string{"a", "b"}, []int{0}},
		{[]string{"a", "a"}, []int{0, 1}},
		{[]string{"a"}, []int{-1}},
	} {
		if _, err := segment.NewColumns(tt.names, tt.index); err == nil {
			t.Errorf("NewColumns(%q, %v) succeeded", tt.names, tt.index)
		}
	}
	c := mustColumns(t, []string{"b", "a"}, []int{0, 5})
	if c.Len() != 2 || c.Name(0) != "a" || c.Index(0) != 5 || c.Name(1) != "b" {
		t.Fatalf("columns not in name order: %q %d", c.Name(0), c.Index(0))
	}
}

func TestAppendJSONRowAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not kept under the race detector")
	}
	cols := mustColumns(t, []string{"plan", "seats"}, []int{2, 3})
	in := segment.Identify{UserID: "u1", Email: "ada@example.com", Columns: cols,
		Row:        []string{"u1", "ada@example.com", "pro", "12", `{"company":"Acme","tags":["a","b"]}`},
		TraitsJSON: `{"company":"Acme","seats":12,"beta":true,"tags":["a","b"]}`, MessageID: "sl-1"}
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = in.AppendJSON(buf[:0]); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("AppendJSON of a row with a traits cell: %v allocations, want 0", n)
	}
}

// decodedTraits decodes a traits cell as the mapping did before TraitsJSON.
func decodedTraits(s string) (map[string]any, bool) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil, false
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, false
	}
	m, ok := v.(map[string]any)
	return m, ok
}

// decodeEvent decodes an event for comparison, numbers as written.
func decodeEvent(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("invalid event %s: %v", b, err)
	}
	return v
}

// FuzzTraitsJSON: an event with a traits cell spliced (TraitsJSON) is the
// event of the same cell decoded into Traits (as the mapping did before), but
// for the order of keys: same content, same size, same error.
func FuzzTraitsJSON(f *testing.F) {
	for _, s := range []string{
		`{"company":"Acme","seats":12,"beta":true,"tags":["a","b"]}`, `{"plan":"x","a":{"b":[1,{"c":null}]}}`,
		`{"a":1,"a":2}`, `{"\u0070lan":1}`, `{"s":"\ud83d\ude00\udc00<>&\u2028"}`, "{\"s\":\"\xff\"}", `[1]`, `{`, ` {} `,
		`{"a":1e400,"b":-0.0}`, `{"a":"` + strings.Repeat("x", 200) + `"}`, `{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`,
	} {
		f.Add(s, "pro", "")
	}
	cols, err := segment.NewColumns([]string{"plan"}, []int{0})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, cell, plan, email string) {
		if cell == "" {
			return
		}
		spliced := segment.Identify{UserID: "u1", Columns: cols, Row: []string{plan}, TraitsJSON: cell}
		if segment.ValidEmail(email) {
			spliced.Email = email
		}
		got, gerr := spliced.AppendJSON(nil)

		decoded, ok := decodedTraits(cell)
		if !ok {
			if gerr == nil || !strings.HasPrefix(gerr.Error(), "traits: ") || !strings.Contains(gerr.Error(), " is not a JSON object") {
				t.Fatalf("cell %q: got %s, %v; want a traits error", cell, got, gerr)
			}
			return
		}
		if plan != "" {
			decoded["plan"] = plan
		}
		old := segment.Identify{UserID: "u1", Email: spliced.Email, Traits: decoded}
		want, werr := old.AppendJSON(nil)
		if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("cell %q: got error %v, want %v", cell, gerr, werr)
		}
		if gerr != nil {
			return
		}
		if len(got) != len(want) || !reflect.DeepEqual(decodeEvent(t, got), decodeEvent(t, want)) {
			t.Fatalf("cell %q:\ngot  %s\nwant %s", cell, got, want)
		}
	})
}
