package source_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/segloop/segloop/source"
)

// item is what a test expects of one Record.
type item struct {
	Line   int
	Fields map[string]any // nil: not checked unless Err is empty
	Err    string         // substring of the item error; "" means none
}

// readAll drains a reader, checking indexes strictly increase from 0.
func readAll(t *testing.T, r source.Reader) ([]source.Record, error) {
	t.Helper()
	var out []source.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if rec.Index != int64(len(out)) {
			t.Fatalf("record %d has Index %d", len(out), rec.Index)
		}
		out = append(out, rec)
	}
}

func check(t *testing.T, got []source.Record, want []item) {
	t.Helper()
	if len(got) != len(want) {
		for _, g := range got {
			t.Logf("got line %d fields %v err %v", g.Line, g.Map(), g.Err)
		}
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Line != w.Line {
			t.Errorf("record %d: got line %d, want %d", i, g.Line, w.Line)
		}
		if w.Err == "" {
			if g.Err != nil {
				t.Errorf("record %d: unexpected error %v", i, g.Err)
				continue
			}
			if w.Fields != nil && !equalFields(g.Map(), w.Fields) {
				t.Errorf("record %d: got fields %v, want %v", i, g.Map(), w.Fields)
			}
			continue
		}
		var ie *source.ItemError
		if !errors.As(g.Err, &ie) {
			t.Errorf("record %d: got error %v, want an *ItemError containing %q", i, g.Err, w.Err)
			continue
		}
		if !strings.Contains(g.Err.Error(), w.Err) {
			t.Errorf("record %d: got error %q, want it to contain %q", i, g.Err, w.Err)
		}
		if g.Map() != nil {
			t.Errorf("record %d: got fields %v with an error", i, g.Map())
		}
	}
}

func equalFields(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if av, ok := a[k]; !ok || av != v {
			return false
		}
	}
	return true
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want source.Format
		err  bool
	}{
		{"csv", source.CSV, false},
		{"CSV", source.CSV, false},
		{"tsv", source.TSV, false},
		{"json", source.JSON, false},
		{"ndjson", source.NDJSON, false},
		{"jsonl", source.NDJSON, false},
		{" JSONL ", source.NDJSON, false},
		{"xml", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := source.ParseFormat(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("got %q, %v; want %q, error %v", got, err, tt.want, tt.err)
			}
			if err != nil && !errors.Is(err, source.ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
		})
	}
}

func TestFormatOf(t *testing.T) {
	tests := []struct {
		path string
		want source.Format
		err  bool
	}{
		{"users.csv", source.CSV, false},
		{"dir.x/Users.CSV", source.CSV, false},
		{"a.tsv", source.TSV, false},
		{"a.json", source.JSON, false},
		{"a.ndjson", source.NDJSON, false},
		{"a.jsonl", source.NDJSON, false},
		{"-", "", true},
		{"a.txt", "", true},
		{"noext", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := source.FormatOf(tt.path)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("got %q, %v; want %q, error %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestOpenUnknownFormat(t *testing.T) {
	if _, err := source.Open(strings.NewReader(""), "xml", source.Options{}); !errors.Is(err, source.ErrFormat) {
		t.Fatalf("got %v, want ErrFormat", err)
	}
}
