package ledger

import (
	"errors"
	"strings"
	"testing"
)

// TestRedact checks the redaction itself, on error texts that quote the
// password in the spellings a driver might use.
func TestRedact(t *testing.T) {
	tests := []struct{ location, display, password string }{
		{"postgres://u:pa%3Ass%40w@db.example:5432/ledger?sslmode=require", "postgres://u@db.example:5432/ledger", "pa:ss@w"},
		{"postgresql://u@db.example/ledger?password=se%26cret&sslmode=disable", "postgresql://u@db.example/ledger", "se&cret"},
		{"postgres://u:p4ss@db.example:port/ledger", "postgres://…", "p4ss"},
	}
	for _, tt := range tests {
		display, secrets := redactURL(tt.location)
		if display != tt.display {
			t.Errorf("redactURL(%q) display %q, want %q", tt.location, display, tt.display)
		}
		s := &pgStore{secrets: secrets}
		inner := errors.New("dial " + tt.location + " with password " + tt.password)
		err := s.wrap("ledger "+display, inner)
		if strings.Contains(err.Error(), tt.password) || strings.Contains(err.Error(), tt.location) {
			t.Errorf("wrap shows the password: %v", err)
		}
		if !errors.Is(err, inner) || errors.Unwrap(err) != nil {
			t.Errorf("wrap: errors.Is %v, Unwrap %v; want Is and no Unwrap", errors.Is(err, inner), errors.Unwrap(err))
		}
	}
}
