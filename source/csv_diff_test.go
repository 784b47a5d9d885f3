package source_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/segloop/segloop/source"
)

// Where the CSV reader differs from encoding/csv on purpose, the
// differential fuzz tests below normalise:
//
//   - A CR LF inside a quoted cell is kept; encoding/csv turns it into LF
//     (issue 10: a story's "\r\n" must reach Segment as written). The tests
//     compare cells with CR LF turned into LF. (A CR LF cannot occur in an
//     unquoted cell: it ends the row in both.)
//   - A row with fewer cells than the header is an item error unless
//     Options.AllowShortRows is set; the tests set it.
//   - The position of invalid UTF-8 is the byte at fault; the old reader gave
//     the cell's start plus the offset of the byte within the cell's
//     unquoted text. The tests compare the error kind and the cell it names.
//
// Everything else (cells, lines, the row where reading resumes after a bad
// one, error messages with their line and column, Raw) is the same.

// crlfToLF is a cell as encoding/csv would give it.
func crlfToLF(cells []string) []string {
	if cells == nil {
		return nil
	}
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = strings.ReplaceAll(c, "\r\n", "\n")
	}
	return out
}

func equalCells(a, b []string) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var fuzzDelims = [...]rune{',', ';', '\t', '§'}

// FuzzCSVAgainstSplitter reads the same input with the reader and with the
// reader it replaced (csvref_test.go: a splitter, then encoding/csv per row)
// and requires the same records.
func FuzzCSVAgainstSplitter(f *testing.F) {
	for _, s := range []string{
		"id,email\nu1,a@x\n", "\xef\xbb\xbfid,n\r\nu1,\"a\nb\"\r\n", "id,a\nu1,x\"y\nu2,\"z\"w\n",
		"id,a\n\"u1\",\"open\nu2,x\n", "a,b,c\n1\n1,2,3,4\n", "id\n\xff\n", "id;a\nu;\"x;\"\"y\"\n",
		"id,a\nu1,\"x\ny\"z,\"a\nb\"\nu2,w\n", "id,a\n\n\r\n\nu1,\"\"\r\n", "id,a\nu1,\"" + strings.Repeat("y\n", 200) + "\"\nu2,z",
		"id§a\nu1§\"x§\"\"\"§\n", "id\ta\nu1\t\"a\tb\"\r", "id,a\nu1,\"x\"\r\nu2,\"a\rb\"\r\n", "id,a\nu1,\xc2,\xa7\n",
	} {
		for d := range fuzzDelims {
			f.Add([]byte(s), uint8(d))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, d uint8) {
		compareReaders(t, data, source.Options{MaxItemBytes: 256, AllowShortRows: true, Delimiter: fuzzDelims[int(d)%len(fuzzDelims)]})
	})
}

// compareReaders reads data with the reader and the reference reader and
// requires the same records (see the differences above).
func compareReaders(t *testing.T, data []byte, opts source.Options) {
	t.Helper()
	got, gerr := source.NewCSVReader(bytes.NewReader(data), opts)
	want, werr := newRefCSVReader(bytes.NewReader(data), opts)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("header: got error %v, want %v", gerr, werr)
	}
	if gerr != nil {
		// A header name with a CR LF inside quotes is quoted in the message.
		if !errors.Is(werr, source.ErrInvalidUTF8) && strings.ReplaceAll(gerr.Error(), `\r\n`, `\n`) != werr.Error() {
			t.Fatalf("header: got error %q, want %q", gerr, werr)
		}
		return
	}
	if !equalCells(crlfToLF(got.Header()), want.header) {
		t.Fatalf("header: got %q, want %q", got.Header(), want.header)
	}
	for n := 0; ; n++ {
		g, gerr := got.Next()
		w, werr := want.Next()
		if (gerr == nil) != (werr == nil) || (gerr == io.EOF) != (werr == io.EOF) {
			t.Fatalf("record %d: got error %v, want %v", n, gerr, werr)
		}
		if gerr != nil {
			return
		}
		if g.Index != w.Index || g.Line != w.Line {
			t.Fatalf("record %d: got index %d line %d, want %d, %d", n, g.Index, g.Line, w.Index, w.Line)
		}
		if !equalCells(crlfToLF(g.Cells), w.Cells) {
			t.Fatalf("record %d (line %d): got cells %.200q, want %.200q", n, g.Line, g.Cells, w.Cells)
		}
		if !bytes.Equal(g.Raw, w.Raw) {
			t.Fatalf("record %d: got raw %.200q, want %.200q", n, g.Raw, w.Raw)
		}
		switch {
		case (g.Err == nil) != (w.Err == nil):
			t.Fatalf("record %d (line %d): got error %v, want %v", n, g.Line, g.Err, w.Err)
		case errors.Is(w.Err, source.ErrInvalidUTF8):
			if !errors.Is(g.Err, source.ErrInvalidUTF8) || cellOf(g.Err) != cellOf(w.Err) {
				t.Fatalf("record %d: got error %v, want %v", n, g.Err, w.Err)
			}
		case g.Err != nil && g.Err.Error() != w.Err.Error():
			t.Fatalf("record %d: got error %q, want %q", n, g.Err, w.Err)
		}
	}
}

// TestCSVAgainstSplitterLarge compares the readers on rows longer than the
// read buffer (64 KiB), within and over MaxItemBytes.
func TestCSVAgainstSplitterLarge(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	quoted := strings.Repeat("ab\"\"c,\n", 20<<10) // escaped quotes and line breaks across buffer boundaries
	for name, in := range map[string]string{
		"long unquoted cell":          "id,a\nu1," + big + "\nu2,z\n",
		"long quoted cell":            "id,a\nu1,\"" + quoted + "\"\nu2,z\n",
		"long line over the limit":    "id,a\nu1," + big + big + "\nu2,z\n",
		"long quoted cell over":       "id,a\nu1,\"" + quoted + quoted + "\"\nu2,z\n",
		"long bad row":                "id,a\nu1,x\"" + big + "\nu2,z\n",
		"long unclosed quote":         "id,a\nu1,\"" + big + "\nu2,z\n",
		"many lines in a quoted cell": "id,a\nu1,\"" + strings.Repeat("line\r\n", 30000) + "\"\r\nu2,z\r\n",
		"multibyte delimiter, long":   "id§a\nu1§" + big + "§\"x§y\"\nu2§z\n",
	} {
		t.Run(name, func(t *testing.T) {
			for _, max := range []int{0, 150 << 10} {
				opts := source.Options{MaxItemBytes: max, AllowShortRows: true}
				if strings.Contains(in, "§") {
					opts.Delimiter = '§'
				}
				compareReaders(t, []byte(in), opts)
			}
		})
	}
}

// cellOf is the "in cell N" of an invalid UTF-8 error.
func cellOf(err error) string {
	s := err.Error()
	return s[strings.LastIndex(s, " in cell "):]
}

// FuzzCSVAgainstEncodingCSV reads inputs that encoding/csv reads without an
// error with both, and requires the same rows, lines and cells.
func FuzzCSVAgainstEncodingCSV(f *testing.F) {
	for _, s := range []string{
		"id,email\nu1,a@x\nu2,\"b,\"\"c\"\"\"\n", "a,b\n\"x\r\ny\",z\r\n\r\n1,2", "h\n\"\"\n\n\"a\nb\nc\"\n",
		"a;b\n1;\"2;3\"\n", "a,b,c\n1\n1,2,3,4\n,,\n", "a\n\r\n\"\r\"\n", "a,b\n\"x\"\"\",\"\"\n",
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, d uint8) {
		delim := fuzzDelims[int(d)%len(fuzzDelims)]
		if !utf8.Valid(data) || bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
			return // encoding/csv reads invalid UTF-8 and a BOM as text
		}
		cr := csv.NewReader(bytes.NewReader(data))
		cr.Comma = delim
		cr.FieldsPerRecord = -1
		type row struct {
			line  int
			cells []string
		}
		var rows []row
		for {
			cells, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return // a quoting error: the other fuzz test covers those
			}
			line, _ := cr.FieldPos(0)
			rows = append(rows, row{line, cells})
		}
		r, err := source.NewCSVReader(bytes.NewReader(data), source.Options{Delimiter: delim, AllowShortRows: true})
		if len(rows) == 0 {
			if !errors.Is(err, source.ErrNoHeader) {
				t.Fatalf("no rows: got %v, want ErrNoHeader", err)
			}
			return
		}
		if err != nil {
			var he *source.HeaderError
			if !errors.As(err, &he) || he.Err == nil || he.Column == 0 {
				t.Fatalf("header %q: %v", rows[0].cells, err)
			}
			return // an empty or duplicate name: a rule of this reader, not a parse
		}
		for i, w := range rows[1:] {
			g, err := r.Next()
			if err != nil {
				t.Fatalf("row %d: %v", i, err)
			}
			if g.Line != w.line || !equalCells(crlfToLF(g.Cells), w.cells) {
				t.Fatalf("row %d: got line %d %q, want line %d %q", i, g.Line, g.Cells, w.line, w.cells)
			}
			if g.Err != nil && !errors.Is(g.Err, source.ErrFieldCount) {
				t.Fatalf("row %d: %v", i, g.Err)
			}
		}
		if g, err := r.Next(); err != io.EOF {
			t.Fatalf("after the last row: got %+v, %v, want io.EOF", g, err)
		}
	})
}
