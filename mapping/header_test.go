package mapping_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/segloop/segloop/mapping"
)

// rowItem is the map a row stands for: header[i]: row[i].
func rowItem(header, row []string) map[string]any {
	m := make(map[string]any, len(row))
	for i, c := range row {
		m[header[i]] = c
	}
	return m
}

// outcome is what an item comes to: its encoded event or the error that
// stops it, whether from mapping or from encoding.
func outcome(m *mapping.Mapping, env mapping.Env) (string, error) {
	id, err := m.Apply(env)
	if err != nil {
		return "", err
	}
	if id.UserID == "" && id.AnonymousID == "" {
		id.UserID = "-" // so that the traits are encoded too
	}
	b, err := id.AppendJSON(nil)
	return string(b), err
}

func decodeJSONValue(t *testing.T, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("invalid event %s: %v", s, err)
	}
	return v
}

// sameOutcome requires the row's outcome to be the map's: the same error
// text, or an event with the same content and size.
func sameOutcome(t *testing.T, m *mapping.Mapping, header, row []string) {
	t.Helper()
	want, werr := outcome(m, mapping.Env{Item: rowItem(header, row), Index: 3})
	got, gerr := outcome(m.ForHeader(header), mapping.Env{Row: row, Index: 3})
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("header %q row %q: got error %v, want %v", header, row, gerr, werr)
	}
	if gerr != nil {
		return
	}
	if len(got) != len(want) || !reflect.DeepEqual(decodeJSONValue(t, got), decodeJSONValue(t, want)) {
		t.Fatalf("header %q row %q:\ngot  %s\nwant %s", header, row, got, want)
	}
}

func TestForHeaderDefault(t *testing.T) {
	header := []string{"id", "email", "name", "plan", "traits", "_status", "user_id", "seats"}
	rows := [][]string{
		{"u1", "a@b.co", "Ada", "pro", `{"company":"Acme","plan":"free","seats":3}`, "failed", "", "12"},
		{"", "a@b.co", "", "", `{"x":[1,2]}`, "", "u2", ""},
		{"u3", "", "", "", "", "", "", ""},
		{"u4", "not an email", "", "", "", "", "", ""},
		{"u5", "", "", "", "[1]", "", "", ""},
		{"u6", "", "", "", "{", "", "", ""},
		{"u7", "", "", "team"}, // a short row
		{"u8", "", "", "", `{"a":1,"a":2}`, "", "", ""},
	}
	for _, row := range rows {
		sameOutcome(t, mapping.Default(), header, row)
	}
	// The inputs themselves.
	id, err := mapping.Default().ForHeader(header).Apply(mapping.Env{Row: rows[0]})
	if err != nil {
		t.Fatal(err)
	}
	if id.UserID != "u1" || id.Email != "a@b.co" || id.Name != "Ada" || id.TraitsJSON != rows[0][4] || id.Traits != nil {
		t.Fatalf("got %+v", id)
	}
	all, err := id.AllTraits()
	if want := map[string]any{"company": "Acme", "plan": "pro", "seats": "12"}; err != nil || !reflect.DeepEqual(all, want) {
		t.Fatalf("traits %v, %v; want %v", all, err, want)
	}
}

func TestForHeaderTemplates(t *testing.T) {
	m := mustParse(t, `{"userId": "{{item.id}}", "email": "{{item.email | lower}}",
		"name": "{{item.first}} {{item.last}}", "anonymousId": "{{item['a b']}}",
		"traits": {"plan": "{{item.plan}}", "seats": "{{item.seats | int}}", "deep": "{{item.plan.x}}",
		           "missing": "{{item.nope}}", "all": "{{item}}", "company": "Acme", "i": "{{index}}"}}`)
	header := []string{"id", "email", "first", "last", "plan", "seats", "a b"}
	for _, row := range [][]string{
		{"u1", "Ada@Example.COM", "Ada", "Lovelace", "pro", "12", "anon"},
		{"u2", "", "", "Hopper", "", "3"},
		{"u3"},
		{"u4", "", "", "", "", "twelve", ""},
	} {
		sameOutcome(t, m, header, row)
		want, werr := m.Apply(mapping.Env{Item: rowItem(header, row), Index: 3})
		got, gerr := m.ForHeader(header).Apply(mapping.Env{Row: row, Index: 3})
		if !reflect.DeepEqual(got, want) || (gerr == nil) != (werr == nil) {
			t.Fatalf("row %q: got %+v, %v\nwant %+v, %v", row, got, gerr, want, werr)
		}
	}
	// An item, not a row, is mapped from the item even by a bound mapping.
	got, err := m.ForHeader(header).Apply(mapping.Env{Item: map[string]any{"id": "x1"}})
	if err != nil || got.UserID != "x1" {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestForHeaderAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not kept under the race detector")
	}
	header := []string{"id", "email", "name", "plan", "traits"}
	row := []string{"u1", "ada@example.com", "Ada", "pro", `{"company":"Acme","seats":12,"beta":true,"tags":["a","b"]}`}
	m := mapping.Default().ForHeader(header)
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() {
		id, err := m.Apply(mapping.Env{Row: row})
		if err != nil {
			t.Fatal(err)
		}
		if buf, err = id.AppendJSON(buf[:0]); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("default mapping of a row, encoded: %v allocations, want 0", n)
	}
}

// FuzzForHeader: a row mapped by position (ForHeader, Row) comes to what
// the same row mapped as a map (Item) comes to, for the default mapping and
// a mapping file: the same error, or an event with the same content.
func FuzzForHeader(f *testing.F) {
	f.Add("u1\x1fa@b.co\x1fAda\x1f{\"plan\":\"x\",\"n\":1}\x1fpro", uint8(0))
	f.Add("\x1f\x1f\x1f[1]\x1f", uint8(1))
	f.Add("u\x1f\x1f\x1f{\"a\":{\"b\":1,\"b\":2}}\x1f\x1f\x1f\x1f", uint8(2))
	names := []string{"id", "email", "name", "traits", "plan", "userId", "anonymous_id", "_messageId", "seats", "a.b"}
	file := mustParse(f, `{"userId": "{{item.id}}", "email": "{{item.email}}", "name": "{{item.name}} {{item.plan}}",
		"traits": {"plan": "{{item.plan | upper}}", "seats": "{{item.seats | default 0}}", "ab": "{{item['a.b']}}", "t": "{{item.traits | json}}"}}`)
	f.Fuzz(func(t *testing.T, cells string, shift uint8) {
		row := strings.Split(cells, "\x1f")
		if len(row) > len(names) {
			row = row[:len(names)]
		}
		header := make([]string, len(names))
		for i := range names {
			header[i] = names[(i+int(shift))%len(names)]
		}
		sameOutcome(t, mapping.Default(), header, row)
		sameOutcome(t, file, header, row)
	})
}
