package ledger_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/segloop/segloop/ledger"
)

// The property tests build random JSON values, write each in several
// spellings (member order, number form, string escapes, white space) and
// check that Sum sees one value; then they change the value in one place
// and check that Sum sees the change. Failures print the seed.

// value is a JSON value for the generators: exactly one field is set.
type value struct {
	obj   []field // an object; nil with isObj for {}
	isObj bool
	arr   []*value
	isArr bool
	str   *string
	num   *decimal
	lit   string // "true", "false", "null"
}

type field struct {
	key string
	val *value
}

// decimal is coef × 10^exp; coef has no leading or trailing zeros, and is
// "" for zero.
type decimal struct {
	neg  bool
	coef string
	exp  int
}

func (d decimal) String() string {
	return fmt.Sprintf("%s%se%d", map[bool]string{true: "-"}[d.neg], d.coef, d.exp)
}

// propertyRuns is the number of random events each property test tries
// (fewer under the race detector, which slows them tenfold).
var propertyRuns = map[bool]int{false: 2000, true: 300}[raceEnabled]

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5e6100f)) }

// genEvent returns an Identify-shaped event: userId or anonymousId (or
// both), traits, sometimes context, and the volatile fields.
func genEvent(r *rand.Rand) *value {
	ev := &value{isObj: true}
	add := func(k string, v *value) { ev.obj = append(ev.obj, field{k, v}) }
	add("type", strValue("identify"))
	add("messageId", strValue("sl-"+strconv.Itoa(r.IntN(1e6))))
	switch r.IntN(3) {
	case 0:
		add("userId", strValue(genString(r)))
	case 1:
		add("anonymousId", strValue(genString(r)))
	default:
		add("userId", strValue(genString(r)))
		add("anonymousId", strValue(genString(r)))
	}
	add("traits", genObject(r, 1))
	if r.IntN(2) == 0 {
		add("context", genObject(r, 1))
	}
	add("timestamp", strValue("2024-01-02T03:04:05.123Z"))
	return ev
}

func strValue(s string) *value { return &value{str: &s} }

func genObject(r *rand.Rand, depth int) *value {
	v := &value{isObj: true}
	seen := map[string]bool{}
	for range r.IntN(6) {
		k := genString(r)
		if seen[k] {
			continue
		}
		seen[k] = true
		v.obj = append(v.obj, field{k, genValue(r, depth+1)})
	}
	return v
}

func genValue(r *rand.Rand, depth int) *value {
	n := 8
	if depth > 3 {
		n = 5 // no more containers
	}
	switch r.IntN(n) {
	case 0, 1:
		return strValue(genString(r))
	case 2, 3:
		d := genDecimal(r)
		return &value{num: &d}
	case 4:
		return &value{lit: []string{"true", "false", "null"}[r.IntN(3)]}
	case 5, 6:
		return genObject(r, depth)
	default:
		v := &value{isArr: true}
		for range r.IntN(4) {
			v.arr = append(v.arr, genValue(r, depth+1))
		}
		return v
	}
}

var alphabet = []rune("abcAB_-.@ 09\"\\/\b\f\n\r\t\x00\x1f\x7féü€😀\u2028<>&")

func genString(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(8) {
		b.WriteRune(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

func genDecimal(r *rand.Rand) decimal {
	if r.IntN(8) == 0 {
		return decimal{neg: r.IntN(2) == 0} // zero, sometimes negative
	}
	n := 1 + r.IntN(25)
	digits := make([]byte, n)
	for i := range digits {
		digits[i] = byte('0' + r.IntN(10))
	}
	digits[0] = byte('1' + r.IntN(9))
	digits[n-1] = byte('1' + r.IntN(9))
	return decimal{neg: r.IntN(2) == 0, coef: string(digits), exp: r.IntN(61) - 30}
}

// render writes v as JSON, choosing the spelling at random.
func render(r *rand.Rand, dst []byte, v *value) []byte {
	ws := func(dst []byte) []byte {
		if r.IntN(4) == 0 {
			return append(dst, " \t\n\r"[:1+r.IntN(4)]...)
		}
		return dst
	}
	dst = ws(dst)
	switch {
	case v.isObj:
		dst = append(dst, '{')
		for n, i := range r.Perm(len(v.obj)) {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = ws(renderString(r, ws(dst), v.obj[i].key))
			dst = append(dst, ':')
			dst = render(r, dst, v.obj[i].val)
		}
		dst = append(ws(dst), '}')
	case v.isArr:
		dst = append(dst, '[')
		for i, e := range v.arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = render(r, dst, e)
		}
		dst = append(ws(dst), ']')
	case v.str != nil:
		dst = renderString(r, dst, *v.str)
	case v.num != nil:
		dst = renderNumber(r, dst, *v.num)
	default:
		dst = append(dst, v.lit...)
	}
	return ws(dst)
}

func renderString(r *rand.Rand, dst []byte, s string) []byte {
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			if r.IntN(2) == 0 {
				dst = append(dst, '\\', byte(c))
			} else {
				dst = fmt.Appendf(dst, `\u%04x`, c)
			}
		case c < 0x20:
			short := map[rune]string{'\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`}[c]
			if short != "" && r.IntN(2) == 0 {
				dst = append(dst, short...)
			} else {
				dst = fmt.Appendf(dst, `\u%04X`, c)
			}
		case c == '/' && r.IntN(2) == 0:
			dst = append(dst, `\/`...)
		case r.IntN(3) == 0:
			if c > 0xFFFF {
				hi, lo := utf16.EncodeRune(c)
				dst = fmt.Appendf(dst, `\u%04x\u%04X`, hi, lo)
			} else {
				dst = fmt.Appendf(dst, `\u%04x`, c)
			}
		default:
			dst = utf8.AppendRune(dst, c)
		}
	}
	return append(dst, '"')
}

// renderNumber writes d as a JSON number: its coefficient padded with
// zeros on either side, the point anywhere, and the exponent to match.
func renderNumber(r *rand.Rand, dst []byte, d decimal) []byte {
	if d.neg && (d.coef != "" || r.IntN(2) == 0) {
		dst = append(dst, '-')
	}
	trailing := r.IntN(4)
	digits := d.coef + strings.Repeat("0", trailing)
	if digits == "" {
		digits = "0"
	}
	frac := r.IntN(len(digits) + 4) // digits after the point
	if pad := frac + 1 - len(digits); pad > 0 {
		digits = strings.Repeat("0", pad) + digits
	}
	intPart := strings.TrimLeft(digits[:len(digits)-frac], "0")
	if intPart == "" {
		intPart = "0"
	}
	dst = append(dst, intPart...)
	if frac > 0 {
		dst = append(dst, '.')
		dst = append(dst, digits[len(digits)-frac:]...)
	}
	exp := d.exp - trailing + frac
	if exp != 0 || r.IntN(3) == 0 {
		dst = append(dst, "eE"[r.IntN(2)])
		switch {
		case exp < 0:
			dst = append(dst, '-')
		case r.IntN(2) == 0:
			dst = append(dst, '+')
		}
		dst = append(dst, strings.Repeat("0", r.IntN(3))...)
		dst = strconv.AppendInt(dst, int64(max(exp, -exp)), 10)
	}
	return dst
}

func mustSum(t *testing.T, seed uint64, event []byte) ledger.Hash {
	t.Helper()
	h, err := ledger.Sum(event)
	if err != nil {
		t.Fatalf("seed %d: Sum(%s): %v", seed, event, err)
	}
	return h
}

func TestPropertySpellingDoesNotMatter(t *testing.T) {
	for seed := range uint64(propertyRuns) {
		r := newRand(seed)
		ev := genEvent(r)
		a, b := render(r, nil, ev), render(r, nil, ev)
		if ha, hb := mustSum(t, seed, a), mustSum(t, seed, b); ha != hb {
			ca, _ := ledger.AppendCanonical(nil, a)
			cb, _ := ledger.AppendCanonical(nil, b)
			t.Fatalf("seed %d: one event, two hashes:\n%s\n%s\ncanonical:\n%s\n%s", seed, a, b, ca, cb)
		}
	}
}

func TestPropertyVolatileFieldsDoNotMatter(t *testing.T) {
	for seed := range uint64(propertyRuns) {
		r := newRand(seed)
		ev := genEvent(r)
		a := render(r, nil, ev)
		for i, f := range ev.obj {
			switch f.key {
			case "messageId", "timestamp":
				ev.obj[i].val = strValue(genString(r))
			}
		}
		ev.obj = append(ev.obj, field{"sentAt", strValue(genString(r))})
		b := render(r, nil, ev)
		if mustSum(t, seed, a) != mustSum(t, seed, b) {
			t.Fatalf("seed %d: volatile fields changed the hash:\n%s\n%s", seed, a, b)
		}
	}
}

func TestPropertyContentMatters(t *testing.T) {
	for seed := range uint64(propertyRuns) {
		r := newRand(seed)
		ev := genEvent(r)
		a := render(r, nil, ev)
		what := mutate(r, ev)
		b := render(r, nil, ev)
		if mustSum(t, seed, a) == mustSum(t, seed, b) {
			t.Fatalf("seed %d: %s did not change the hash:\n%s\n%s", seed, what, a, b)
		}
	}
}

// mutate changes ev in one random place so that it is a different JSON
// value, and says what it did.
func mutate(r *rand.Rand, ev *value) string {
	if r.IntN(5) == 0 { // the user
		for i, f := range ev.obj {
			if f.key == "userId" || f.key == "anonymousId" {
				ev.obj[i].val = strValue(*f.val.str + "x")
				return "changing " + f.key
			}
		}
	}
	// Collect every value under traits and context, then change one.
	var all []*value
	var walk func(v *value)
	walk = func(v *value) {
		all = append(all, v)
		for _, f := range v.obj {
			walk(f.val)
		}
		for _, e := range v.arr {
			walk(e)
		}
	}
	for _, f := range ev.obj {
		if f.key == "traits" || f.key == "context" {
			walk(f.val)
		}
	}
	v := all[r.IntN(len(all))]
	switch {
	case v.isObj && len(v.obj) > 0 && r.IntN(2) == 0:
		i := r.IntN(len(v.obj))
		old := v.obj[i].key
		v.obj[i].key = freshKey(v, old)
		return fmt.Sprintf("renaming key %q", old)
	case v.isObj && len(v.obj) > 0 && r.IntN(2) == 0:
		v.obj = slices.Delete(v.obj, 0, 1)
		return "removing a member"
	case v.isObj:
		v.obj = append(v.obj, field{freshKey(v, ""), &value{lit: "null"}})
		return "adding a member"
	case v.isArr && len(v.arr) > 1 && r.IntN(2) == 0:
		i := r.IntN(len(v.arr) - 1)
		if !sameValue(v.arr[i], v.arr[i+1]) {
			v.arr[i], v.arr[i+1] = v.arr[i+1], v.arr[i]
			return "swapping array elements"
		}
		v.arr = append(v.arr, v.arr[0])
		return "appending to an array"
	case v.isArr:
		v.arr = append(v.arr, &value{lit: "true"})
		return "appending to an array"
	case v.num != nil:
		d := *v.num
		switch {
		case d.coef == "":
			d = decimal{coef: "1", exp: r.IntN(5) - 2}
		case r.IntN(3) == 0:
			d.exp++
		case r.IntN(2) == 0:
			d.neg = !d.neg
		default:
			d.coef = d.coef[:len(d.coef)-1] + string("123456789"[(int(d.coef[len(d.coef)-1]-'0'))%9])
		}
		*v = value{num: &d}
		return "changing a number to " + d.String()
	case v.str != nil && r.IntN(4) == 0:
		old := *v.str
		*v = value{isArr: true, arr: []*value{strValue(old)}}
		return "wrapping a string in an array"
	case v.str != nil:
		s := *v.str + string(alphabet[r.IntN(len(alphabet))])
		*v = value{str: &s}
		return "changing a string"
	default:
		nl := map[string]string{"true": "false", "false": "null", "null": "true"}[v.lit]
		if r.IntN(2) == 0 {
			lit := v.lit
			*v = value{str: &lit} // true -> "true"
			return "quoting a literal"
		}
		*v = value{lit: nl}
		return "changing a literal"
	}
}

func freshKey(v *value, old string) string {
	for n := 0; ; n++ {
		k := old + "k" + strconv.Itoa(n)
		if !slices.ContainsFunc(v.obj, func(f field) bool { return f.key == k }) {
			return k
		}
	}
}

// sameValue reports whether a and b are one JSON value.
func sameValue(a, b *value) bool {
	canon := func(v *value) string {
		out, _ := ledger.AppendCanonical(nil, append(render(newRand(0), []byte(`{"x":`), v), '}'))
		return string(out)
	}
	return canon(a) == canon(b)
}

// TestPropertyCanonicalIsTheValue checks the canonical form against
// encoding/json: both decode to the same value (numbers compared exactly),
// it is stable under canonicalization, and its keys are sorted.
func TestPropertyCanonicalIsTheValue(t *testing.T) {
	for seed := range uint64(propertyRuns) {
		r := newRand(seed)
		event := render(r, nil, genEvent(r))
		c, err := ledger.AppendCanonical(nil, event)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		want := decodeEvent(t, event)
		if got := decodeEvent(t, c); !equalJSON(got, want) {
			t.Fatalf("seed %d: canonical form is another value:\n%s\n%s", seed, event, c)
		}
		if again, _ := ledger.AppendCanonical(nil, c); !bytes.Equal(again, c) {
			t.Fatalf("seed %d: canonical form not stable:\n%s\n%s", seed, c, again)
		}
	}
}

// decodeEvent decodes an event as encoding/json does, numbers kept
// exact, without the volatile top-level fields.
func decodeEvent(t *testing.T, event []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(event))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("encoding/json: %v: %s", err, event)
	}
	for _, k := range []string{"type", "messageId", "timestamp", "originalTimestamp", "sentAt", "receivedAt"} {
		delete(m, k)
	}
	return m
}

func equalJSON(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if w, ok := b[k]; !ok || !equalJSON(v, w) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		return ok && slices.EqualFunc(a, b, equalJSON)
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		x, okx := new(big.Rat).SetString(string(a))
		y, oky := new(big.Rat).SetString(string(b))
		return okx && oky && x.Cmp(y) == 0
	default:
		return a == b
	}
}
