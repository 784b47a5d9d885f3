package segment_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// This file is the tests' own reading of "the key leaked": it decodes text in
// every encoding a server or library could echo the key in, independently of
// the scrubber's implementation, and looks for a run of leakRun consecutive
// bytes of the key.

// leakRun is the shortest run of the key's bytes that counts as a leak.
const leakRun = 8

// redactedMark is what the scrubber puts where it removed the key. Text is
// checked between the marks: two pieces of text that a mark separates were
// never next to each other.
const redactedMark = "[redacted]"

// leak describes the first run of at least leakRun bytes of key found in
// text, read raw or decoded, or returns "" when there is none.
func leak(text, key string) string {
	run := min(leakRun, len(key))
	for _, part := range strings.Split(text, redactedMark) {
		for name, v := range views([]byte(part)) {
			for i := 0; i+run <= len(key); i++ {
				if bytes.Contains(v, []byte(key[i:i+run])) {
					return fmt.Sprintf("%q (bytes %d..%d of the key) in the %s reading of %q", key[i:i+run], i, i+run, name, part)
				}
			}
		}
	}
	return ""
}

// encodings are the forms of the key the tests make servers echo.
func encodings(key string) map[string]string {
	jsonStd, _ := json.Marshal(key)
	var allEscaped, allEscapedUpper strings.Builder
	for _, r := range key {
		fmt.Fprintf(&allEscaped, `\u%04x`, r)
		fmt.Fprintf(&allEscapedUpper, `\u%04X`, r)
	}
	return map[string]string{
		"raw":                  key,
		"basic":                base64.StdEncoding.EncodeToString([]byte(key + ":")),
		"basic header":         "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":")),
		"base64":               base64.StdEncoding.EncodeToString([]byte(key)),
		"base64 raw":           base64.RawStdEncoding.EncodeToString([]byte(key)),
		"base64url":            base64.URLEncoding.EncodeToString([]byte(key)),
		"base64url raw":        base64.RawURLEncoding.EncodeToString([]byte(key)),
		"base64url basic":      base64.RawURLEncoding.EncodeToString([]byte(key + ":")),
		"json":                 string(jsonStd[1 : len(jsonStd)-1]),
		"json escaped slashes": strings.ReplaceAll(string(jsonStd[1:len(jsonStd)-1]), "/", `\/`),
		"json all \\u":         allEscaped.String(),
		"json all \\U":         allEscapedUpper.String(),
		"url query":            url.QueryEscape(key),
		"url path":             url.PathEscape(key),
		"url all upper":        percentAll(key, "%%%02X"),
		"url all lower":        percentAll(key, "%%%02x"),
		"hex":                  hex.EncodeToString([]byte(key)),
		"hex upper":            strings.ToUpper(hex.EncodeToString([]byte(key))),
	}
}

func percentAll(s, format string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, format, s[i])
	}
	return b.String()
}

// views returns text read raw, JSON-unescaped, URL-unescaped and both, and
// every run of hex digits or base64 characters in those decoded at every
// alignment.
func views(text []byte) map[string][]byte {
	base := map[string][]byte{
		"raw":      text,
		"json":     unescapeJSON(text),
		"url":      unescapeURL(text, false),
		"url+":     unescapeURL(text, true),
		"json url": unescapeJSON(unescapeURL(text, false)),
		"url json": unescapeURL(unescapeJSON(text), false),
	}
	out := map[string][]byte{}
	for name, v := range base {
		out[name] = v
		for k, run := range runs(v, isHexDigit) {
			for align := range 2 {
				if b, err := hex.DecodeString(evenPrefix(run[min(align, len(run)):])); err == nil {
					out[fmt.Sprintf("%s hex run %d align %d", name, k, align)] = b
				}
			}
		}
		for k, run := range runs(v, isBase64) {
			std := strings.NewReplacer("-", "+", "_", "/").Replace(run)
			for align := range 4 {
				if align > len(std) {
					break
				}
				s := std[align:]
				s = s[:len(s)-len(s)%4] + fixTail(s[len(s)-len(s)%4:])
				if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
					out[fmt.Sprintf("%s base64 run %d align %d", name, k, align)] = b
				}
			}
		}
	}
	return out
}

// fixTail keeps the decodable part of a trailing partial base64 group.
func fixTail(s string) string {
	if len(s) == 1 {
		return ""
	}
	return s
}

func evenPrefix(s string) string { return s[:len(s)-len(s)%2] }

func runs(b []byte, in func(byte) bool) []string {
	var out []string
	for i := 0; i < len(b); {
		if !in(b[i]) {
			i++
			continue
		}
		j := i
		for j < len(b) && in(b[j]) {
			j++
		}
		out = append(out, string(b[i:j]))
		i = j
	}
	return out
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isBase64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("+/-_", c) >= 0
}

// unescapeJSON undoes JSON string escapes wherever they appear; other bytes
// are kept.
func unescapeJSON(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		switch c := b[i+1]; c {
		case '"', '\\', '/':
			out = append(out, c)
			i++
		case 'n', 't', 'r', 'b', 'f':
			out = append(out, strings.NewReplacer("n", "\n", "t", "\t", "r", "\r", "b", "\b", "f", "\f").Replace(string(c))...)
			i++
		case 'u':
			if i+6 <= len(b) && isHexDigit(b[i+2]) && isHexDigit(b[i+3]) && isHexDigit(b[i+4]) && isHexDigit(b[i+5]) {
				r, _ := strconv.ParseUint(string(b[i+2:i+6]), 16, 32)
				out = append(out, string(rune(r))...)
				i += 5
				continue
			}
			out = append(out, b[i])
		default:
			out = append(out, b[i])
		}
	}
	return out
}

// unescapeURL undoes %XX escapes (and + for a space, with plus) wherever
// they appear.
func unescapeURL(b []byte, plus bool) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '%' && i+2 < len(b) && isHexDigit(b[i+1]) && isHexDigit(b[i+2]):
			v, _ := hex.DecodeString(string(b[i+1 : i+3]))
			out = append(out, v[0])
			i += 2
		case b[i] == '+' && plus:
			out = append(out, ' ')
		default:
			out = append(out, b[i])
		}
	}
	return out
}
