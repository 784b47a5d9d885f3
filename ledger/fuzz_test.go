package ledger_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/segloop/segloop/ledger"
)

// FuzzSum checks that Sum never panics, is deterministic, accepts exactly
// the JSON objects encoding/json accepts, and that the canonical form is
// valid JSON, stable, and the same value as the input.
func FuzzSum(f *testing.F) {
	for _, s := range []string{
		typicalEvent,
		`{"userId":"u","traits":{"n":1.0e-3,"m":-0,"b":[true,false,null],"s":"\u00e9\ud83d\ude00"}}`,
		`{"a":1,"a":{"b":2}}`, `{}`, `[]`, `{"x":1e99999999999999999999}`,
		"{\"x\":\"\xff\\ud800\"}", `{"type":"identify","messageId":"m"}`, ` {"a" : [ ] } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, event []byte) {
		h1, err1 := ledger.Sum(event)
		h2, err2 := ledger.Sum(event)
		if h1 != h2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("Sum not deterministic: %v %v, %v %v", h1, err1, h2, err2)
		}
		c, err := ledger.AppendCanonical(nil, event)
		if (err == nil) != (err1 == nil) {
			t.Fatalf("Sum and AppendCanonical disagree: %v, %v", err1, err)
		}
		trimmed := bytes.TrimLeft(event, " \t\r\n")
		if valid := json.Valid(event) && len(trimmed) > 0 && trimmed[0] == '{'; valid != (err == nil) {
			t.Fatalf("encoding/json says valid object: %v; ledger error: %v; for %q", valid, err, event)
		}
		if err != nil {
			return
		}
		if !json.Valid(c) {
			t.Fatalf("canonical form is not JSON: %q", c)
		}
		again, err := ledger.AppendCanonical(nil, c)
		if err != nil || !bytes.Equal(again, c) {
			t.Fatalf("canonical form not stable: %q -> %q (%v)", c, again, err)
		}
		if h, _ := ledger.Sum(c); h != h1 {
			t.Fatalf("the canonical form has another hash: %q", c)
		}
		if smallNumbers(c) && smallNumbers(event) {
			if got, want := decodeEvent(t, c), decodeEvent(t, event); !equalJSON(got, want) {
				t.Fatalf("canonical form is another value: %q -> %q", event, c)
			}
		}
	})
}

// smallNumbers reports whether every exponent in the canonical form c is
// small enough for big.Rat.
func smallNumbers(c []byte) bool {
	d := json.NewDecoder(bytes.NewReader(c))
	d.UseNumber()
	for {
		tok, err := d.Token()
		if err != nil {
			return true
		}
		if n, ok := tok.(json.Number); ok && len(n) > 400 {
			return false
		}
		if n, ok := tok.(json.Number); ok {
			if i := bytes.IndexAny([]byte(n), "eE"); i >= 0 && len(n)-i > 5 {
				return false
			}
		}
	}
}
