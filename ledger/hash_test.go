package ledger_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/segloop/segloop/ledger"
	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/segment"
)

func canonical(t *testing.T, event string) string {
	t.Helper()
	out, err := ledger.AppendCanonical(nil, []byte(event))
	if err != nil {
		t.Fatalf("AppendCanonical(%s): %v", event, err)
	}
	return string(out)
}

func TestAppendCanonical(t *testing.T) {
	tests := []struct {
		name, event, want string
	}{
		{"volatile fields dropped",
			`{"type":"identify","messageId":"sl-1","userId":"u1","timestamp":"2024-01-02T03:04:05Z","sentAt":"x","originalTimestamp":"y","receivedAt":"z"}`,
			`{"userId":"u1"}`},
		{"volatile only at the top level",
			`{"userId":"u1","traits":{"timestamp":"t","messageId":"m","type":"vip"}}`,
			`{"traits":{"messageId":"m","timestamp":"t","type":"vip"},"userId":"u1"}`},
		{"keys sorted at every level",
			`{"userId":"u1","traits":{"b":{"y":1,"x":2},"a":[{"d":1,"c":2}]},"anonymousId":"a1"}`,
			`{"anonymousId":"a1","traits":{"a":[{"c":2,"d":1}],"b":{"x":2,"y":1}},"userId":"u1"}`},
		{"white space dropped", " {\n\t\"userId\" : \"u1\" ,\r\"traits\":{ \"a\" : [ 1 , 2 ] } } \n",
			`{"traits":{"a":[1,2]},"userId":"u1"}`},
		{"empty containers", `{"userId":"u","traits":{},"context":{"a":[],"b":{}}}`,
			`{"context":{"a":[],"b":{}},"traits":{},"userId":"u"}`},
		{"last duplicate wins", `{"userId":"u1","traits":{"a":1,"b":2,"a":3}}`, `{"traits":{"a":3,"b":2},"userId":"u1"}`},
		{"literals", `{"userId":"u","traits":{"t":true,"f":false,"n":null}}`, `{"traits":{"f":false,"n":null,"t":true},"userId":"u"}`},
		{"string escapes decoded",
			`{"userId":"\u0075\u0031","traits":{"name":"Ren\u00e9e \/ \"Q\" \\ \ud83d\ude00"}}`,
			`{"traits":{"name":"Renée / \"Q\" \\ 😀"},"userId":"u1"}`},
		{"control characters escaped",
			`{"userId":"u","traits":{"s":"a\u0008\f\n\r\t\u0001\u001F\u007f"}}`,
			"{\"traits\":{\"s\":\"a\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"},\"userId\":\"u\"}"},
		{"html characters raw", `{"userId":"\u003c\u003e\u0026\u2028"}`, "{\"userId\":\"<>&\u2028\"}"},
		{"lone surrogates and invalid UTF-8 become U+FFFD",
			"{\"userId\":\"\\ud800x\\udc00\\ud800\\u0041\xff\"}", "{\"userId\":\"\uFFFDx\uFFFD\uFFFDA\uFFFD\"}"},
		{"escaped keys", `{"userId":"u","traits":{"\u0062":1,"a":2}}`, `{"traits":{"a":2,"b":1},"userId":"u"}`},
		{"escaped volatile key", `{"userId":"u","message\u0049d":"sl-2"}`, `{"userId":"u"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := canonical(t, tt.event); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestCanonicalNumbers(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1", "1"}, {"1.0", "1"}, {"1e0", "1"}, {"10E-1", "1"}, {"0.1e1", "1"}, {"1.000e+0", "1"},
		{"0", "0"}, {"-0", "0"}, {"0.0", "0"}, {"-0.0e-5", "0"}, {"0e99", "0"},
		{"-1.50", "-1.5"}, {"150e-2", "1.5"}, {"1.5e2", "150"}, {"100", "100"}, {"1e2", "100"},
		{"0.000001", "0.000001"}, {"1e-6", "0.000001"}, {"1e-7", "1e-7"}, {"0.0000001", "1e-7"},
		{"123456789012345678901", "123456789012345678901"},
		{"1234567890123456789012", "1.234567890123456789012e+21"},
		{"1e21", "1e+21"}, {"1e20", "100000000000000000000"}, {"-2.5E-10", "-2.5e-10"},
		{"12345678901234567891", "12345678901234567891"}, // beyond float64 and int64: exact
		{"0.1000000000000000055511151231257827", "0.1000000000000000055511151231257827"},
		{"1e1000000000000000000000", "1e+1000000000000000000000"},
		{"12.5e-1000000000000000000002", "1.25e-1000000000000000000001"},
		{"0.00e00000000000000000000000000005", "0"},
		{"1E+00000000000000000000000000002", "100"},
	}
	for _, tt := range tests {
		got := canonical(t, `{"userId":"u","traits":{"n":`+tt.in+`}}`)
		want := `{"traits":{"n":` + tt.want + `},"userId":"u"}`
		if got != want {
			t.Errorf("number %s: got %s, want %s", tt.in, got, want)
		}
	}
}

func TestSumSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, event string
		offset      int
	}{
		{"empty", ``, 0},
		{"array", `[{"userId":"u"}]`, 0},
		{"string", `"u"`, 0},
		{"trailing data", `{"userId":"u"} {}`, 15},
		{"unterminated string", `{"userId":"u`, 12},
		{"raw control character", "{\"userId\":\"a\nb\"}", 12},
		{"bad escape", `{"userId":"\x41"}`, 11},
		{"short unicode escape", `{"userId":"\u00"}`, 11},
		{"missing colon", `{"userId" "u"}`, 10},
		{"trailing comma", `{"userId":"u",}`, 14},
		{"unquoted key", `{userId:"u"}`, 1},
		{"leading zero", `{"n":01}`, 6},
		{"bare point", `{"n":1.}`, 7},
		{"bare exponent", `{"n":1e}`, 7},
		{"plus sign", `{"n":+1}`, 5},
		{"bad literal", `{"n":nul}`, 5},
		{"unclosed array", `{"n":[1,2}`, 9},
		{"unclosed object", `{"n":{"a":1}`, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ledger.Sum([]byte(tt.event))
			var se *ledger.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Sum(%q) = %v, %v; want a *SyntaxError", tt.event, h, err)
			}
			if se.Offset != tt.offset {
				t.Errorf("Sum(%q): offset %d, want %d (%v)", tt.event, se.Offset, tt.offset, err)
			}
			if h != (ledger.Hash{}) {
				t.Errorf("Sum(%q) = %v on error, want the zero Hash", tt.event, h)
			}
			dst := []byte("keep")
			if out, err := ledger.AppendCanonical(dst, []byte(tt.event)); err == nil || string(out) != "keep" {
				t.Errorf("AppendCanonical(%q) = %q, %v; want dst unchanged and an error", tt.event, out, err)
			}
		})
	}
}

func TestSumDepth(t *testing.T) {
	nest := func(n int) string {
		return `{"userId":"u","t":` + strings.Repeat("[", n) + strings.Repeat("]", n) + "}"
	}
	if _, err := ledger.Sum([]byte(nest(9999))); err != nil {
		t.Errorf("depth 10000: %v", err)
	}
	if _, err := ledger.Sum([]byte(nest(10000))); err == nil {
		t.Error("depth 10001: no error")
	}
}

// TestSumSegmentEvents hashes events as segment.Identify.AppendJSON writes
// them: what changes per send is ignored, what is content is not.
func TestSumSegmentEvents(t *testing.T) {
	base := func() segment.Identify {
		return segment.Identify{
			UserID: "u1", Email: "a@example.com", Name: "Ada",
			Traits:    map[string]any{"plan": "pro", "seats": 3, "ratio": 0.5, "tags": []any{"a", "b"}},
			Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), MessageID: "sl-1",
			Context: map[string]any{"ip": "127.0.0.1"},
		}
	}
	sum := func(in segment.Identify) ledger.Hash {
		t.Helper()
		b, err := in.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		h, err := ledger.Sum(b)
		if err != nil {
			t.Fatalf("Sum(%s): %v", b, err)
		}
		return h
	}
	want := sum(base())
	same := map[string]func(*segment.Identify){
		"messageId":    func(in *segment.Identify) { in.MessageID = "sl-2" },
		"timestamp":    func(in *segment.Identify) { in.Timestamp = in.Timestamp.Add(time.Hour) },
		"no timestamp": func(in *segment.Identify) { in.Timestamp = time.Time{} },
		"int vs float": func(in *segment.Identify) { in.Traits["seats"] = 3.0 },
		"int64":        func(in *segment.Identify) { in.Traits["seats"] = int64(3) },
		"email as trait": func(in *segment.Identify) {
			in.Email = ""
			in.Traits["email"] = "a@example.com"
		},
	}
	for name, f := range same {
		in := base()
		f(&in)
		if got := sum(in); got != want {
			t.Errorf("%s: hash changed", name)
		}
	}
	differ := map[string]func(*segment.Identify){
		"userId":       func(in *segment.Identify) { in.UserID = "u2" },
		"anonymousId":  func(in *segment.Identify) { in.AnonymousID = "a1" },
		"email":        func(in *segment.Identify) { in.Email = "b@example.com" },
		"name":         func(in *segment.Identify) { in.Name = "" },
		"trait value":  func(in *segment.Identify) { in.Traits["plan"] = "free" },
		"trait type":   func(in *segment.Identify) { in.Traits["seats"] = "3" },
		"trait added":  func(in *segment.Identify) { in.Traits["x"] = nil },
		"array order":  func(in *segment.Identify) { in.Traits["tags"] = []any{"b", "a"} },
		"context":      func(in *segment.Identify) { in.Context["ip"] = "127.0.0.2" },
		"integrations": func(in *segment.Identify) { in.Integrations = map[string]any{"All": false} },
	}
	for name, f := range differ {
		in := base()
		f(&in)
		if got := sum(in); got == want {
			t.Errorf("%s: hash unchanged", name)
		}
	}
}

// TestSumCSVCells shows what the canonical form means for CSV input, whose
// cells are strings: "1" and "1.0" are different strings, and the same
// number once the mapping's int or float filter has made them numbers.
func TestSumCSVCells(t *testing.T) {
	sum := func(mappingJSON, seats string) ledger.Hash {
		t.Helper()
		m, err := mapping.Parse([]byte(mappingJSON))
		if err != nil {
			t.Fatal(err)
		}
		in, err := m.Apply(mapping.Env{Item: map[string]any{"id": "u1", "seats": seats}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := in.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		h, err := ledger.Sum(b)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	const (
		raw   = `{"userId":"{{item.id}}","traits":{"seats":"{{item.seats}}"}}`
		asInt = `{"userId":"{{item.id}}","traits":{"seats":"{{item.seats | int}}"}}`
		asNum = `{"userId":"{{item.id}}","traits":{"seats":"{{item.seats | float}}"}}`
	)
	if sum(raw, "1") == sum(raw, "1.0") {
		t.Error(`raw cells "1" and "1.0": one hash, want two (they are different strings)`)
	}
	for _, m := range []string{asInt, asNum} {
		if sum(m, "1") != sum(m, "1.0") || sum(m, "1") != sum(m, "1e0") {
			t.Errorf("%s: cells 1, 1.0 and 1e0 hash differently, want one number", m)
		}
	}
	if sum(asInt, "1") != sum(asNum, "1.0") {
		t.Error("int 1 and float 1.0: two hashes, want one")
	}
}

func TestSumAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	event := []byte(typicalEvent)
	if _, err := ledger.Sum(event); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ledger.Sum(event) }); n != 0 {
		t.Errorf("Sum allocates %v times per event, want 0", n)
	}
}

// typicalEvent is a mapped CSV row as segloop sends it.
const typicalEvent = `{"type":"identify","messageId":"sl-3905d338d6d3cd7f34e0f4ece14c2391","userId":"u-1001",` +
	`"traits":{"company":"Acme","created_at":"2023-04-05T06:07:08Z","plan":"pro","seats":12,"score":0.75,` +
	`"tags":["beta","eu"],"email":"ada.lovelace@example.com","name":"Ada Lovelace"},` +
	`"timestamp":"2024-01-02T03:04:05.123456789Z","context":{"ip":"127.0.0.1","locale":"en-GB"}}`
