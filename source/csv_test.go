package source_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/segloop/segloop/source"
)

func TestCSV(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		opts  source.Options
		want  []item
		fatal string
	}{
		{name: "plain", in: "id,email\nu1,a@x\nu2,b@x\n", want: []item{
			{Line: 2, Fields: map[string]any{"id": "u1", "email": "a@x"}},
			{Line: 3, Fields: map[string]any{"id": "u2", "email": "b@x"}},
		}},
		{name: "no final newline, CRLF", in: "id,n\r\nu1,1\r\nu2,2", want: []item{
			{Line: 2, Fields: map[string]any{"id": "u1", "n": "1"}},
			{Line: 3, Fields: map[string]any{"id": "u2", "n": "2"}},
		}},
		{name: "BOM stripped", in: "\xef\xbb\xbfid,n\nu1,1\n", want: []item{
			{Line: 2, Fields: map[string]any{"id": "u1", "n": "1"}},
		}},
		{name: "quoted fields and embedded newlines", in: "id,note\nu1,\"a, \"\"b\"\"\nc\"\nu2,\"x\r\n\r\ny\"\nu3,z\n", want: []item{
			{Line: 2, Fields: map[string]any{"id": "u1", "note": "a, \"b\"\nc"}},
			{Line: 4, Fields: map[string]any{"id": "u2", "note": "x\r\n\r\ny"}}, // CR LF inside quotes kept
			{Line: 7, Fields: map[string]any{"id": "u3", "note": "z"}},
		}},
		{name: "blank lines skipped but counted", in: "\n\nid,n\n\nu1,1\n\r\n\nu2,2\n\n", want: []item{
			{Line: 5, Fields: map[string]any{"id": "u1", "n": "1"}},
			{Line: 8, Fields: map[string]any{"id": "u2", "n": "2"}},
		}},
		{name: "empty cells kept", in: "id,a,b\nu1,,\n", want: []item{
			{Line: 2, Fields: map[string]any{"id": "u1", "a": "", "b": ""}},
		}},
		{name: "semicolon delimiter", in: "id;n\nu1;\"a;b\"\n", opts: source.Options{Delimiter: ';'}, want: []item{
			{Line: 2, Fields: map[string]any{"id": "u1", "n": "a;b"}},
		}},
		{name: "multibyte delimiter", in: "id§n\nu1§\"a§b\"\n", opts: source.Options{Delimiter: '§'}, want: []item{
			{Line: 2, Fields: map[string]any{"id": "u1", "n": "a§b"}},
		}},
		{name: "header names trimmed", in: " id , n\nu1,1\n", want: []item{
			{Line: 2, Fields: map[string]any{"id": "u1", "n": "1"}},
		}},
		{name: "fewer cells accepted with AllowShortRows, missing absent", in: "id,a,b\nu1,x\n", opts: source.Options{AllowShortRows: true}, want: []item{
			{Line: 2, Fields: map[string]any{"id": "u1", "a": "x"}},
		}},
		{name: "more cells is an item error", in: "id,a\nu1,x,y\nu2,z\n", want: []item{
			{Line: 2, Err: "line 2: more cells than header columns: row has 3 cells, header has 2"},
			{Line: 3, Fields: map[string]any{"id": "u2", "a": "z"}},
		}},
		{name: "bare quote", in: "id,a\nu1,x\"y\nu2,z\n", want: []item{
			{Line: 2, Err: "line 2, column 5: bare \" in non-quoted-field"},
			{Line: 3, Fields: map[string]any{"id": "u2", "a": "z"}},
		}},
		{name: "text after closing quote", in: "id,a\nu1,\"x\ny\"z\nu2,w\n", want: []item{
			{Line: 2, Err: "line 3, column 2: extraneous or missing \" in quoted-field"},
			{Line: 4, Fields: map[string]any{"id": "u2", "a": "w"}},
		}},
		{name: "unclosed quote runs to the end", in: "id,a\nu1,ok\nu2,\"open\nu3,x\n", want: []item{
			{Line: 2, Fields: map[string]any{"id": "u1", "a": "ok"}},
			{Line: 3, Err: "extraneous or missing \" in quoted-field"},
		}},
		{name: "invalid UTF-8", in: "id,a\nu1,ok\xff\nu2,z\n", want: []item{
			{Line: 2, Err: "line 2, column 6: invalid UTF-8 in cell 2"},
			{Line: 3, Fields: map[string]any{"id": "u2", "a": "z"}},
		}},
		{name: "oversized row skipped", in: "id,a\nu1," + strings.Repeat("x", 100) + "\nu2,\"" + strings.Repeat("y\n", 60) + "\"\nu3,z\n", opts: source.Options{MaxItemBytes: 64}, want: []item{
			{Line: 2, Err: "line 2: item too large: row exceeds 64 bytes"},
			{Line: 3, Err: "line 3: item too large"},
			{Line: 64, Fields: map[string]any{"id": "u3", "a": "z"}},
		}},
		{name: "header only", in: "id,a\n", want: nil},
		{name: "empty input", in: "", fatal: "missing header row"},
		{name: "duplicate header", in: "id,a,id\n", fatal: `column 3 ("id"): duplicate column name (also column 1)`},
		{name: "empty header name", in: "id,,a\n", fatal: `column 2 (""): empty column name`},
		{name: "broken header", in: "id,\"a\n", fatal: "csv header"},
		{name: "invalid delimiter", in: "id\n", opts: source.Options{Delimiter: '"'}, fatal: "invalid CSV delimiter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := source.Open(strings.NewReader(tt.in), source.CSV, tt.opts)
			if tt.fatal != "" {
				if err == nil || !strings.Contains(err.Error(), tt.fatal) {
					t.Fatalf("got error %v, want one containing %q", err, tt.fatal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, r)
			if err != nil {
				t.Fatal(err)
			}
			check(t, got, tt.want)
		})
	}
}

func TestCSVHeaderAndCells(t *testing.T) {
	r, err := source.NewCSVReader(strings.NewReader("id\tname\nu1\t\"A\tB\"\n"), source.Options{Delimiter: '\t'})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Header(), "|"); got != "id|name" {
		t.Fatalf("got header %q, want %q", got, "id|name")
	}
	rec, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rec.Cells, "|"); got != "u1|A\tB" {
		t.Fatalf("got cells %q", got)
	}
}

func TestTSVFormat(t *testing.T) {
	r, err := source.Open(strings.NewReader("id\ta,b\nu1\tx,y\n"), source.TSV, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, []item{{Line: 2, Fields: map[string]any{"id": "u1", "a,b": "x,y"}}})
}

type failingReader struct{ data string }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, errors.New("disk on fire")
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestCSVReadErrorIsFatal(t *testing.T) {
	r, err := source.Open(&failingReader{data: "id\nu1\nu2"}, source.CSV, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r)
	var se *source.StreamError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("got %v, want a *StreamError about the disk", err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d records before the error, want 1", len(got))
	}
	if _, again := r.Next(); again != err {
		t.Fatalf("Next after a fatal error returned %v, want the same error", again)
	}
}
