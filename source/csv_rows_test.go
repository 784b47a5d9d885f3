package source_test

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/segloop/segloop/source"
)

// TestCSVShortRows: a row with fewer cells than the header is an item error
// (a missing middle cell would shift values into the wrong traits), unless
// Options.AllowShortRows accepts exports that drop trailing empty cells.
func TestCSVShortRows(t *testing.T) {
	in := "id,email,plan,seats\nu1,a@x,pro,3\nu2,b@x,pro\n\nu3,c@x\nu4\nu5,e@x,team,9\n"
	t.Run("default: an item error", func(t *testing.T) {
		r, err := source.Open(strings.NewReader(in), source.CSV, source.Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, r)
		if err != nil {
			t.Fatal(err)
		}
		check(t, got, []item{
			{Line: 2, Fields: map[string]any{"id": "u1", "email": "a@x", "plan": "pro", "seats": "3"}},
			{Line: 3, Err: "line 3: fewer cells than header columns: row has 3 cells, header has 4"},
			{Line: 5, Err: "line 5: fewer cells than header columns: row has 2 cells, header has 4"},
			{Line: 6, Err: "line 6: fewer cells than header columns: row has 1 cells, header has 4"},
			{Line: 7, Fields: map[string]any{"id": "u5", "email": "e@x", "plan": "team", "seats": "9"}},
		})
		if !errors.Is(got[1].Err, source.ErrShortRow) {
			t.Errorf("error %v does not wrap ErrShortRow", got[1].Err)
		}
		if strings.Join(got[1].Cells, "|") != "u2|b@x|pro" {
			t.Errorf("a short row keeps its cells for the failed-items file, got %q", got[1].Cells)
		}
	})
	t.Run("AllowShortRows: missing trailing cells absent", func(t *testing.T) {
		r, err := source.Open(strings.NewReader(in), source.CSV, source.Options{AllowShortRows: true})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, r)
		if err != nil {
			t.Fatal(err)
		}
		check(t, got, []item{
			{Line: 2, Fields: map[string]any{"id": "u1", "email": "a@x", "plan": "pro", "seats": "3"}},
			{Line: 3, Fields: map[string]any{"id": "u2", "email": "b@x", "plan": "pro"}},
			{Line: 5, Fields: map[string]any{"id": "u3", "email": "c@x"}},
			{Line: 6, Fields: map[string]any{"id": "u4"}},
			{Line: 7, Fields: map[string]any{"id": "u5", "email": "e@x", "plan": "team", "seats": "9"}},
		})
	})
	t.Run("AllowShortRows still refuses long rows", func(t *testing.T) {
		r, err := source.Open(strings.NewReader("id,a\nu1,x,y\n"), source.CSV, source.Options{AllowShortRows: true})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, r)
		if err != nil {
			t.Fatal(err)
		}
		check(t, got, []item{{Line: 2, Err: "more cells than header columns: row has 3 cells, header has 2"}})
	})
}

// TestCSVCarriageReturnInQuotes: a CR inside a quoted cell is the cell's
// content and arrives as written; only the line ending of a row (CRLF or
// LF) is not part of its last cell.
func TestCSVCarriageReturnInQuotes(t *testing.T) {
	tests := []struct {
		name, in string
		want     []map[string]any
	}{
		{"CRLF inside quotes", "id,note\nu1,\"Once upon \r\na time\"\nu2,x\n",
			[]map[string]any{{"id": "u1", "note": "Once upon \r\na time"}, {"id": "u2", "note": "x"}}},
		{"CRLF file, CRLF inside quotes", "id,note\r\nu1,\"a\r\n\r\nb\"\r\nu2,\"c\"\r\n",
			[]map[string]any{{"id": "u1", "note": "a\r\n\r\nb"}, {"id": "u2", "note": "c"}}},
		{"lone CR inside quotes", "id,note\nu1,\"a\rb\r\"\n",
			[]map[string]any{{"id": "u1", "note": "a\rb\r"}}},
		{"LF inside quotes stays LF", "id,note\r\nu1,\"a\nb\"\r\n",
			[]map[string]any{{"id": "u1", "note": "a\nb"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := source.Open(strings.NewReader(tt.in), source.CSV, source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, r)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d records, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				if got[i].Err != nil {
					t.Fatalf("record %d: %v", i, got[i].Err)
				}
				if g := got[i].Map(); !equalFields(g, w) {
					t.Errorf("record %d: got %q, want %q", i, g, w)
				}
			}
		})
	}
}

// TestCSVCellsStay keeps the cells of some rows while reading many more:
// the cells' text is cut from blocks shared between rows, and a kept cell
// must never change.
func TestCSVCellsStay(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,note,n\n")
	const rows = 30000
	for i := range rows {
		fmt.Fprintf(&b, "u%d,\"a \"\"%d\"\"\nb\",%d\n", i, i, i*7)
	}
	r, err := source.NewCSVReader(strings.NewReader(b.String()), source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var kept [][]string
	for i := 0; ; i++ {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil || rec.Err != nil {
			t.Fatal(err, rec.Err)
		}
		if i%97 == 0 {
			kept = append(kept, rec.Cells)
		}
		if i%5000 == 0 {
			runtime.GC()
		}
	}
	for k, cells := range kept {
		i := k * 97
		want := []string{fmt.Sprintf("u%d", i), fmt.Sprintf("a \"%d\"\nb", i), fmt.Sprint(i * 7)}
		if strings.Join(cells, "|") != strings.Join(want, "|") {
			t.Fatalf("row %d now holds %q, want %q", i, cells, want)
		}
		if cap(cells) != len(cells) {
			t.Fatalf("row %d: cells have room (cap %d, len %d): appending would write over the next row's", i, cap(cells), len(cells))
		}
	}
}

// TestCSVReadAllocs: reading a row costs a small fraction of an allocation
// (the blocks its cells are cut from), whatever its shape.
func TestCSVReadAllocs(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,email,name,plan,traits\n")
	const rows = 2000
	for i := range rows {
		fmt.Fprintf(&b, "u%d,user%d@example.com,Grace Hopper,pro,\"{\"\"company\"\":\"\"Acme\"\",\"\"seats\"\":%d}\"\n", i, i, i)
	}
	in := b.String()
	n := testing.AllocsPerRun(5, func() {
		r, err := source.NewCSVReader(strings.NewReader(in), source.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	})
	if perRow := n / rows; perRow > 0.05 {
		t.Fatalf("%.3f allocations per row, want at most 0.05", perRow)
	}
}
