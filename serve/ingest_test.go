package serve

import (
	"slices"
	"strings"
	"testing"
)

// TestRowCellsRoundTrip reads back what appendCells stores: short and long
// cells (lengths past one varint byte), empty cells, fewer cells than the
// header, and a row without cells; a cut-off row is an error.
func TestRowCellsRoundTrip(t *testing.T) {
	header := []string{"id", "email", "name", "plan"}
	long := strings.Repeat("é", 300)
	for _, cells := range [][]string{
		{"u1", "a@example.com", "A", "pro"},
		{"u2", "", long, ""},
		{"u3"},
		nil,
	} {
		row := string(appendCells(nil, header, cells))
		got, err := rowCells(row, make([]string, 0, len(header)))
		if err != nil || !slices.Equal(got, cells) || (cells == nil) != (got == nil) {
			t.Errorf("rowCells(appendCells(%q)) = %q, %v", cells, got, err)
		}
		if len(row) > 1 {
			if _, err := rowCells(row[:len(row)-1], nil); err == nil && len(cells[len(cells)-1]) > 0 {
				t.Errorf("rowCells of %q cut off: no error", cells)
			}
		}
	}
	if _, err := rowCells("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", nil); err == nil {
		t.Error("rowCells of an overflowing varint: no error")
	}
}
