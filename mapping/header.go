package mapping

import (
	"strings"

	"github.com/segloop/segloop/segment"
)

// ForHeader returns m bound to the header of rows of text cells, such as a
// CSV reader's: its Apply maps an Env whose Row holds a row's cells as it
// would map an Item holding header[i]: Row[i] (cells past the end of a short
// row absent), but with every column name resolved here, once, to its
// position, and without a map per row. An Env with Item set is mapped from
// Item, as by m. With a name given twice in header, the last column of that
// name counts, as it would in a map.
//
// ForHeader costs a few allocations proportional to the header and the
// placeholders; call it once per header (source.Record.Header is shared by
// the rows of one reader). header must not be modified afterwards.
func (m *Mapping) ForHeader(header []string) *Mapping {
	b := &Mapping{def: m.def, fields: m.fields, placeholders: m.placeholders, bound: true, header: header}
	last := make(map[string]int, len(header))
	for i, name := range header {
		last[name] = i
	}
	if m.def {
		b.row = newRowDefault(header, last)
		return b
	}
	b.cols = make([]int, m.placeholders)
	for i := range b.cols {
		b.cols[i] = -1
	}
	for i := range m.fields {
		m.fields[i].node.walk(func(ph *placeholder) {
			if ph.root != rootItem || len(ph.path) == 0 {
				return
			}
			if c, ok := last[ph.path[0]]; ok {
				b.cols[ph.id] = c
			}
		})
	}
	return b
}

// walk calls f for every placeholder under n.
func (n *node) walk(f func(*placeholder)) {
	switch n.kind {
	case nodeTemplate:
		for i := range n.tmpl.phs {
			f(&n.tmpl.phs[i])
		}
	case nodeObject, nodeArray:
		for _, c := range n.elems {
			c.walk(f)
		}
	}
}

// rowDefault is the default mapping resolved for one header: the columns of
// each input by position (-1 for none), and the trait columns, in name
// order, ready for segment.Identify.Columns.
type rowDefault struct {
	ids, anons          []int // identity columns, by priority
	email, name, traits int
	cols                *segment.Columns // nil when no column is a trait
}

func newRowDefault(header []string, last map[string]int) *rowDefault {
	col := func(name string) int {
		if i, ok := last[name]; ok {
			return i
		}
		return -1
	}
	p := &rowDefault{email: col("email"), name: col("name"), traits: col("traits")}
	for _, k := range idKeys {
		if i := col(k); i >= 0 {
			p.ids = append(p.ids, i)
		}
	}
	for _, k := range anonKeys {
		if i := col(k); i >= 0 {
			p.anons = append(p.anons, i)
		}
	}
	var names []string
	var index []int
	for i, name := range header {
		if !reserved(name) && last[name] == i {
			names = append(names, name)
			index = append(index, i)
		}
	}
	if len(names) > 0 {
		// The names are distinct and the indexes valid: NewColumns cannot fail.
		p.cols, _ = segment.NewColumns(names, index)
	}
	return p
}

// apply is applyDefault for a row: the same inputs, with the trait columns
// and the traits cell handed to the encoder as they are.
func (p *rowDefault) apply(row []string) segment.Identify {
	id := segment.Identify{
		UserID:      firstCell(row, p.ids),
		AnonymousID: firstCell(row, p.anons),
		Email:       cellAt(row, p.email),
		Name:        cellAt(row, p.name),
		TraitsJSON:  cellAt(row, p.traits),
	}
	if p.cols != nil {
		id.Columns, id.Row = p.cols, row
	}
	return id
}

// cellAt returns row[i], "" for a column the row lacks.
func cellAt(row []string, i int) string {
	if i >= 0 && i < len(row) {
		return row[i]
	}
	return ""
}

// firstCell returns the first non-empty of the cells at cols.
func firstCell(row []string, cols []int) string {
	for _, c := range cols {
		if v := cellAt(row, c); v != "" {
			return v
		}
	}
	return ""
}

// reserved reports whether the default mapping gives key a role of its own
// (identity, email, name, traits) or ignores it (a name starting with '_',
// such as the _status and _error columns of a failed-items file).
func reserved(k string) bool {
	switch k {
	case "userId", "user_id", "id", "anonymousId", "anonymous_id", "email", "name", "traits":
		return true
	}
	return strings.HasPrefix(k, "_")
}
