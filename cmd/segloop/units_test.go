package main

import (
	"encoding/json"
	"strings"
	"testing"
)

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
	for _, bad := range []string{"abc", "-1", "0%", "100%", "x%"} {
		var l failureLimit
		if err := l.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

func TestJSONWithStatus(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{"splice keeps key order", `{"b":1,"a":2}`, `{"b":1,"a":2,"_status":"failed","_error":"e \"x\"","_messageId":"sl-1"}`},
		{"empty object", `{}`, `{"_status":"failed","_error":"e \"x\"","_messageId":"sl-1"}`},
		{"replaces earlier status", `{"id":"u1","_status":"invalid","_error":"old"}`, `{"_error":"e \"x\"","_messageId":"sl-1","_status":"failed","id":"u1"}`},
		{"not an object", `not json`, `{"_raw":"not json","_status":"failed","_error":"e \"x\"","_messageId":"sl-1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(jsonWithStatus([]byte(tt.raw), "failed", `e "x"`, "sl-1"))
			if got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Fatalf("%s is not valid JSON", got)
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `quo"te`, "back\\slash", "new\nline", "<html>&", "ünïcödé", "\xff\xfe bad utf-8", "\x00nul"} {
		got := appendJSONString(nil, s)
		want, _ := json.Marshal(s)
		if string(got) != string(want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
	if got := string(appendJSONString([]byte("x:"), "y")); !strings.HasPrefix(got, "x:") {
		t.Errorf("does not append: %s", got)
	}
}
