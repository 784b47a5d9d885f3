package main

import "testing"

func TestFailureLimit(t *testing.T) {
	tests := []struct {
		flag      string
		bad, done int64
		want      bool
	}{
		{"", 1000, 1000, false},
		{"0", 0, 10, false},
		{"0", 1, 10, true},
		{"10", 10, 50, false},
		{"10", 11, 50, true},
		{"5%", 10, 99, false}, // under failureLimitMinItems: not judged yet
		{"5%", 5, 100, false},
		{"5%", 6, 100, true},
		{"0.5%", 6, 1000, true},
	}
	for _, tt := range tests {
		var l failureLimit
		if tt.flag != "" {
			if err := l.Set(tt.flag); err != nil {
				t.Fatalf("Set(%q): %v", tt.flag, err)
			}
			if l.String() != tt.flag {
				t.Errorf("String() = %q, want %q", l.String(), tt.flag)
			}
		}
		if got := l.exceeded(tt.bad, tt.done); got != tt.want {
			t.Errorf("%q: exceeded(%d, %d) = %v, want %v", tt.flag, tt.bad, tt.done, got, tt.want)
		}
	}
	for _, bad := range []string{"abc", "-1", "0%", "100%", "x%", "NaN%", "Inf%", "-Inf%", "1e400%"} {
		var l failureLimit
		if err := l.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}
