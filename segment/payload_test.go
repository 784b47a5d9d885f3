package segment_test

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"

	"github.com/segloop/segloop/segment"
)

// goldenIdentify is the fixed event behind testdata/identify_event.json and
// the request goldens.
func goldenIdentify() segment.Identify {
	return segment.Identify{
		UserID:      "u-1001",
		AnonymousID: "anon-7",
		Email:       "ada@example.com",
		Name:        "Ada Lovelace",
		Traits: map[string]any{
			"plan":    "pro",
			"seats":   3,
			"email":   "old@example.com", // replaced by Email
			"tags":    []any{"a", "<b>"},
			"address": map[string]any{"city": "London", "zip": nil},
			"score":   0.5,
		},
		Timestamp:    time.Date(2024, 1, 2, 3, 4, 5, 600, time.FixedZone("CET", 3600)),
		MessageID:    segment.MessageID("run-1", 0, "u-1001"),
		Context:      map[string]any{"ip": "203.0.113.9", "library": map[string]any{"name": "segloop"}},
		Integrations: map[string]any{"All": true, "Mixpanel": false},
	}
}

func TestAppendJSONGolden(t *testing.T) {
	in := goldenIdentify()
	got, err := in.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "identify_event.json", got)
	if !json.Valid(got) {
		t.Fatalf("invalid JSON: %s", got)
	}
}

func TestAppendJSONShape(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		name string
		in   segment.Identify
		want string
	}{
		{"userId only", segment.Identify{UserID: "u1"}, `{"type":"identify","userId":"u1"}`},
		{"empty maps left out", segment.Identify{UserID: "u1", Traits: map[string]any{}, Context: map[string]any{}, Integrations: map[string]any{}},
			`{"type":"identify","userId":"u1"}`},
		{"email and name only", segment.Identify{UserID: "u1", Email: "a@b.co", Name: "A"},
			`{"type":"identify","userId":"u1","traits":{"email":"a@b.co","name":"A"}}`},
		{"explicit name wins", segment.Identify{UserID: "u1", Name: "New", Traits: map[string]any{"name": "Old", "age": 3}},
			`{"type":"identify","userId":"u1","traits":{"age":3,"name":"New"}}`},
		{"traits email kept without Email", segment.Identify{UserID: "u1", Traits: map[string]any{"email": "t@b.co", "z": true}},
			`{"type":"identify","userId":"u1","traits":{"email":"t@b.co","z":true}}`},
		{"traits name only, replaced", segment.Identify{AnonymousID: "a", Name: "N", Traits: map[string]any{"name": "Old"}},
			`{"type":"identify","anonymousId":"a","traits":{"name":"N"}}`},
		{"timestamp utc", segment.Identify{UserID: "u1", Timestamp: ts}, `{"type":"identify","userId":"u1","timestamp":"2024-05-06T07:08:09Z"}`},
		{"escaping", segment.Identify{UserID: "u\"<1>\n\u2028"}, `{"type":"identify","userId":"u\"\u003c1\u003e\n\u2028"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.AppendJSON([]byte("prefix:"))
			if err != nil {
				t.Fatal(err)
			}
			if want := "prefix:" + tt.want; string(got) != want {
				t.Errorf("AppendJSON =\n %s\nwant\n %s", got, want)
			}
		})
	}
}

func TestAppendJSONErrorKeepsDst(t *testing.T) {
	dst := []byte("keep")
	for _, in := range []segment.Identify{
		{},
		{UserID: "u", Traits: map[string]any{"x": make(chan int)}},
		{UserID: "u", Traits: map[string]any{"x": strings.Repeat("y", 40000)}},
	} {
		got, err := in.AppendJSON(dst)
		if !errors.Is(err, segment.ErrInvalid) || string(got) != "keep" {
			t.Errorf("AppendJSON(%q) = %q, %v; want dst unchanged and ErrInvalid", dst, got, err)
		}
	}
}

// TestAppendJSONMatchesEncodingJSON checks that every value is encoded as
// encoding/json encodes it, by comparing with json.Marshal of the same maps.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	traits := map[string]any{
		"s": "tab\t nul\x00 amp& bad\xff sep\u2029 é 🎉", "f": 1e21, "g": 1e-7, "h": math.Copysign(0, -1), "i": int64(-9),
		"j": uint(7), "k": float32(3.14), "l": json.Number("12.50"), "m": json.RawMessage(`{ "x" : 1 }`),
		"n": []string{"a"}, "o": map[string]int{"b": 2, "a": 1}, "p": nil, "q": []any{}, "r": map[string]any{},
		"t": time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), "u": int32(5), "v": 123456789.0, "w": uint64(1 << 63),
	}
	in := segment.Identify{UserID: "u", Traits: traits, Context: traits, Integrations: traits}
	got, err := in.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := json.Marshal(traits)
	want := `{"type":"identify","userId":"u","traits":` + string(enc) + `,"context":` + string(enc) + `,"integrations":` + string(enc) + `}`
	if string(got) != want {
		t.Errorf("AppendJSON =\n %s\nwant\n %s", got, want)
	}
}

func TestJSONNumber(t *testing.T) {
	tests := []string{"0", "-0", "12", "-12.50", "1e9", "1E+9", "2.5e-3", "", "01", "1.", ".5", "-", "1e", "1e+", "+1", "0x10", "1_000", "NaN", "1.5.5", "9999999999999999999999"}
	for _, n := range tests {
		t.Run(n, func(t *testing.T) {
			traits := map[string]any{"n": json.Number(n)}
			got, err := (&segment.Identify{UserID: "u", Traits: traits}).AppendJSON(nil)
			want, wantErr := json.Marshal(traits)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("AppendJSON error %v, encoding/json error %v", err, wantErr)
			}
			if err == nil && string(got) != `{"type":"identify","userId":"u","traits":`+string(want)+`}` {
				t.Errorf("AppendJSON = %s, want traits %s", got, want)
			}
		})
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\x00\x1f\"\\<>&", "\xff\xfe", "\u2028\u2029", "日本語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in := segment.Identify{AnonymousID: "a", Traits: map[string]any{s: s}}
		got, err := in.AppendJSON(nil)
		if err != nil {
			return // e.g. too large
		}
		enc, _ := json.Marshal(map[string]any{s: s})
		if want := `{"type":"identify","anonymousId":"a","traits":` + string(enc) + `}`; string(got) != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
}

// TestMessageRoundTrip checks that the wire form decodes into analytics-go's
// Identify as the equivalent of Message().
func TestMessageRoundTrip(t *testing.T) {
	in := goldenIdentify()
	b, err := in.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	var fromWire map[string]any
	if err := json.Unmarshal(b, &fromWire); err != nil {
		t.Fatal(err)
	}
	msg := in.Message()
	if err := msg.Validate(); err != nil {
		t.Fatal(err)
	}
	viaAnalytics, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	var fromMsg map[string]any
	if err := json.Unmarshal(viaAnalytics, &fromMsg); err != nil {
		t.Fatal(err)
	}
	// analytics.Identify keeps the zone; compare instants.
	for _, m := range []map[string]any{fromWire, fromMsg} {
		ts, err := time.Parse(time.RFC3339Nano, m["timestamp"].(string))
		if err != nil {
			t.Fatal(err)
		}
		m["timestamp"] = ts.UTC()
	}
	if !reflect.DeepEqual(fromWire, fromMsg) {
		t.Errorf("wire and analytics.Identify differ:\n wire: %v\n  msg: %v", fromWire, fromMsg)
	}
	if msg.Traits["email"] != "ada@example.com" || in.Traits["email"] != "old@example.com" {
		t.Errorf("Message must merge Email into a copy of traits: %v / %v", msg.Traits, in.Traits)
	}
	var _ analytics.Message = msg
}

func BenchmarkAppendJSON(b *testing.B) {
	in := segment.Identify{
		UserID:    "user-000123",
		Email:     "user123@example.com",
		Name:      "User One Two Three",
		Traits:    map[string]any{"plan": "pro", "seats": 12, "company": "Acme", "active": true, "score": 0.75},
		MessageID: segment.MessageID("run", 123, "user-000123"),
		Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = in.AppendJSON(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkMarshalAnalytics is the baseline: encoding/json over analytics-go's type.
func BenchmarkMarshalAnalytics(b *testing.B) {
	in := segment.Identify{
		UserID:    "user-000123",
		Email:     "user123@example.com",
		Name:      "User One Two Three",
		Traits:    map[string]any{"plan": "pro", "seats": 12, "company": "Acme", "active": true, "score": 0.75},
		MessageID: segment.MessageID("run", 123, "user-000123"),
		Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(in.Message()); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzJSONNumber(f *testing.F) {
	for _, s := range []string{"0", "-1.5e+3", "01", "1.", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, n string) {
		traits := map[string]any{"n": json.Number(n)}
		got, err := (&segment.Identify{UserID: "u", Traits: traits}).AppendJSON(nil)
		want, wantErr := json.Marshal(traits)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%q: AppendJSON error %v, encoding/json error %v", n, err, wantErr)
		}
		if err == nil && string(got) != `{"type":"identify","userId":"u","traits":`+string(want)+`}` {
			t.Errorf("AppendJSON = %s, want traits %s", got, want)
		}
	})
}
