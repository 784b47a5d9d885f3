package segment_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/segloop/segloop/segment"
)

func TestValidate(t *testing.T) {
	bigTraits := map[string]any{"blob": strings.Repeat("x", 32000)}
	// {"type":"identify","userId":"u","traits":{"blob":"…"}} is 53 bytes + blob.
	exact := map[string]any{"blob": strings.Repeat("x", segment.MaxEventBytes-53)}
	over := map[string]any{"blob": strings.Repeat("x", segment.MaxEventBytes-52)}
	tests := []struct {
		name string
		in   segment.Identify
		want string // "" = valid
	}{
		{"minimal userId", segment.Identify{UserID: "u1"}, ""},
		{"anonymousId only", segment.Identify{AnonymousID: "a1"}, ""},
		{"missing ids", segment.Identify{Email: "a@b.co"}, "userId: userId or anonymousId is required"},
		{"blank ids", segment.Identify{UserID: "  ", AnonymousID: "\t"}, "userId: userId or anonymousId is required"},
		{"userId too long", segment.Identify{UserID: strings.Repeat("u", 1025)},
			"userId: is 1,025 bytes, over the 1,024-byte limit"},
		{"userId at limit", segment.Identify{UserID: strings.Repeat("u", 1024)}, ""},
		{"anonymousId too long", segment.Identify{UserID: "u", AnonymousID: strings.Repeat("a", 2000)},
			"anonymousId: is 2,000 bytes, over the 1,024-byte limit"},
		{"userId bad utf8", segment.Identify{UserID: "u\xff"}, "userId: is not valid UTF-8"},
		{"email no domain", segment.Identify{UserID: "u", Email: "x@"}, `email: "x@" is not a valid email address`},
		{"email with space", segment.Identify{UserID: "u", Email: "a b@c.de"}, `email: "a b@c.de" is not a valid email address`},
		{"email ok", segment.Identify{UserID: "u", Email: "ada.lovelace+x@mail.example.co.uk"}, ""},
		{"messageId 99", segment.Identify{UserID: "u", MessageID: strings.Repeat("m", 99)}, ""},
		{"messageId 100", segment.Identify{UserID: "u", MessageID: strings.Repeat("m", 100)},
			"messageId: is 100 characters, Segment allows fewer than 100"},
		{"timestamp out of range", segment.Identify{UserID: "u", Timestamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
			"timestamp: year 10000 is outside 0-9999"},
		{"trait NaN", segment.Identify{UserID: "u", Traits: map[string]any{"n": nanValue()}},
			"traits: unsupported number NaN"},
		{"trait unencodable", segment.Identify{UserID: "u", Traits: map[string]any{"c": make(chan int)}},
			"traits: value cannot be encoded as JSON: json: unsupported type: chan int"},
		{"context unencodable", segment.Identify{UserID: "u", Context: map[string]any{"f": func() {}}},
			"context: value cannot be encoded as JSON: json: unsupported type: func()"},
		{"integrations NaN", segment.Identify{UserID: "u", Integrations: map[string]any{"x": []any{nanValue()}}},
			"integrations: unsupported number NaN"},
		{"event at limit", segment.Identify{UserID: "u", Traits: exact}, ""},
		{"event one over", segment.Identify{UserID: "u", Traits: over},
			"event: serialized event is 32,001 bytes, over Segment's 32,000-byte limit"},
		{"event far over", segment.Identify{UserID: "u", Traits: bigTraits},
			"event: serialized event is 32,053 bytes, over Segment's 32,000-byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
			if !errors.Is(err, segment.ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
			var ve *segment.ValidationError
			if !errors.As(err, &ve) || !strings.HasPrefix(tt.want, ve.Field+": ") {
				t.Errorf("errors.As = %v, field %q; want field of %q", ve != nil, ve.Field, tt.want)
			}
		})
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

func TestValidEmail(t *testing.T) {
	tests := []struct {
		email string
		want  bool
	}{
		{"a@b.co", true},
		{"first.last+tag@sub.example.org", true},
		{"x_y-z@example-host.io", true},
		{"üser@exämple.de", true},
		{"", false},
		{"plain", false},
		{"x@", false},
		{"@example.com", false},
		{"a@@example.com", false},
		{"a@b@example.com", false},
		{"a@localhost", false},
		{"a b@example.com", false},
		{"a@exa mple.com", false},
		{".a@example.com", false},
		{"a.@example.com", false},
		{"a..b@example.com", false},
		{"a@.example.com", false},
		{"a@example..com", false},
		{"a@example.com.", false},
		{"a@-example.com", false},
		{"a@exam_ple.com", false},
		{"Ada <a@example.com>", false},
		{"a\n@example.com", false},
		{strings.Repeat("l", 65) + "@example.com", false},
		{"a@" + strings.Repeat("d", 64) + ".com", false},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			if got := segment.ValidEmail(tt.email); got != tt.want {
				t.Errorf("ValidEmail(%q) = %v, want %v", tt.email, got, tt.want)
			}
		})
	}
}

func TestTraitsFromJSON(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantLen int
		wantErr string
	}{
		{"object", `{"plan":"pro","seats":12345678901234567890}`, 2, ""},
		{"spaces", " \n{} ", 0, ""},
		{"empty", "", 0, ""},
		{"null", "null", 0, ""},
		{"array", `["a"]`, 0, "traits: must be a JSON object"},
		{"string", `"plan"`, 0, "traits: must be a JSON object"},
		{"number", `42`, 0, "traits: must be a JSON object"},
		{"broken", `{"a":`, 0, "traits: is not valid JSON: unexpected EOF"},
		{"trailing", `{"a":1} x`, 0, "traits: is not valid JSON: data after the object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := segment.TraitsFromJSON([]byte(tt.raw))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, segment.ErrInvalid) {
					t.Fatalf("TraitsFromJSON(%q) error = %v, want %q", tt.raw, err, tt.wantErr)
				}
				return
			}
			if err != nil || len(m) != tt.wantLen {
				t.Fatalf("TraitsFromJSON(%q) = %v, %v; want %d keys", tt.raw, m, err, tt.wantLen)
			}
		})
	}
	m, _ := segment.TraitsFromJSON([]byte(`{"seats":12345678901234567890}`))
	in := segment.Identify{UserID: "u", Traits: m}
	b, err := in.AppendJSON(nil)
	if err != nil || !strings.Contains(string(b), `"seats":12345678901234567890`) {
		t.Errorf("large integer not kept exactly: %s, %v", b, err)
	}
}
