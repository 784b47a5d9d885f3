package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// pqKind is what a schema node becomes in an item.
type pqKind uint8

const (
	pqLeaf   pqKind = iota // a primitive column: one converted value
	pqObject               // a group: an object of its fields
	pqList                 // a LIST group: an array of its elements
	pqMap                  // a MAP group: an object of its entries
)

// pqNode is one node of a Parquet schema, prepared for assembling rows from
// their leaf columns' values with the Dremel rules: a value's definition
// level says how many optional or repeated nodes on its path are present,
// its repetition level at which repeated node a new element starts.
type pqNode struct {
	name     string
	path     string // dotted, for errors
	kind     pqKind
	repeated bool // the node itself repeats: its value is an array
	def, rep int  // definition and repetition levels of the node itself
	lo, hi   int  // the leaf columns under the node: [lo, hi)
	fields   []*pqNode
	conv     func(parquet.Value) (any, error) // pqLeaf

	// pqList and pqMap: layer is the repeated child whose instances are the
	// elements (or entries); elem is the node each element's value comes
	// from: layer's only field, or layer itself for the legacy two-level
	// lists. A map's key and value are layer.fields[0] and [1].
	layer, elem *pqNode

	// Scratch for splitting a repeated node's values into its instances;
	// a node is never active twice at once, so one set per node suffices.
	inst [][]parquet.Value
	pos  []int
}

// buildSchema prepares the schema rooted at root and returns the number of
// leaf columns.
func buildSchema(root *parquet.Column) (*pqNode, int, error) {
	n := &pqNode{kind: pqObject}
	leaves := 0
	for _, c := range root.Columns() {
		f, err := buildNode(c, "", 0, 0, &leaves)
		if err != nil {
			return nil, 0, err
		}
		n.fields = append(n.fields, f)
	}
	n.hi = leaves
	return n, leaves, nil
}

func buildNode(c *parquet.Column, parent string, def, rep int, leaves *int) (*pqNode, error) {
	n := &pqNode{name: c.Name(), path: c.Name(), def: def, rep: rep, lo: *leaves}
	if parent != "" {
		n.path = parent + "." + c.Name()
	}
	if c.Optional() || c.Repeated() {
		n.def++
	}
	if c.Repeated() {
		n.rep++
		n.repeated = true
	}
	if c.Leaf() {
		if c.Index() != *leaves || c.MaxDefinitionLevel() != n.def || c.MaxRepetitionLevel() != n.rep {
			return nil, fmt.Errorf("column %q: inconsistent levels", n.path)
		}
		*leaves++
		n.hi = *leaves
		n.kind = pqLeaf
		n.conv = leafConverter(c.Type())
		n.scratch()
		return n, nil
	}
	n.kind = pqObject
	for _, child := range c.Columns() {
		f, err := buildNode(child, n.path, n.def, n.rep, leaves)
		if err != nil {
			return nil, err
		}
		n.fields = append(n.fields, f)
	}
	n.hi = *leaves
	n.scratch()
	if lt := c.Type().LogicalType(); lt != nil {
		switch lt.Value.(type) {
		case *format.ListType:
			n.asList()
		case *format.MapType:
			n.asMap()
		}
	}
	return n, nil
}

func (n *pqNode) scratch() {
	if n.repeated {
		n.inst = make([][]parquet.Value, n.hi-n.lo)
		n.pos = make([]int, n.hi-n.lo)
	}
}

// asList makes n a list if its shape is one of those the Parquet format
// allows for LIST, else leaves it an object.
func (n *pqNode) asList() {
	if len(n.fields) != 1 || !n.fields[0].repeated {
		return
	}
	layer := n.fields[0]
	n.kind, n.layer, n.elem = pqList, layer, layer
	// The three-level form: a repeated group with one field, the element.
	// Two-level legacy forms: a repeated primitive, a repeated group of
	// several fields, or one named "array" or "<list>_tuple".
	if layer.kind != pqLeaf && len(layer.fields) == 1 && layer.name != "array" && layer.name != n.name+"_tuple" {
		n.elem = layer.fields[0]
	}
}

// asMap makes n a map if it has the MAP shape: one repeated group whose
// first field is the key and second, if any, the value.
func (n *pqNode) asMap() {
	if len(n.fields) != 1 || !n.fields[0].repeated || n.fields[0].kind == pqLeaf {
		return
	}
	layer := n.fields[0]
	if len(layer.fields) == 0 || len(layer.fields) > 2 || layer.fields[0].kind != pqLeaf {
		return
	}
	n.kind, n.layer = pqMap, layer
}

// value returns n's value within one instance of its parent, whose values
// for n's leaf columns are cols; ok is false when n is null there.
func (n *pqNode) value(cols [][]parquet.Value) (v any, ok bool, err error) {
	if n.repeated {
		arr, err := n.array(n, cols)
		return arr, true, err
	}
	return n.single(cols)
}

// single returns the value of one instance of n from its values cols.
func (n *pqNode) single(cols [][]parquet.Value) (any, bool, error) {
	if len(cols) == 0 || len(cols[0]) == 0 || cols[0][0].DefinitionLevel() < n.def {
		return nil, false, nil
	}
	switch n.kind {
	case pqLeaf:
		v, err := n.conv(cols[0][0])
		if err != nil {
			return nil, false, fmt.Errorf("column %q: %w", n.path, err)
		}
		return v, v != nil, nil
	case pqList:
		arr, err := n.layer.array(n.elem, cols)
		return arr, true, err
	case pqMap:
		m, err := n.entries(cols)
		return m, true, err
	}
	m := make(map[string]any, len(n.fields))
	for _, f := range n.fields {
		v, ok, err := f.value(cols[f.lo-n.lo : f.hi-n.lo])
		if err != nil {
			return nil, false, err
		}
		if ok {
			m[f.name] = v
		}
	}
	return m, true, nil
}

var errLevels = errors.New("inconsistent repetition levels")

// instances calls do with the values of each instance of the repeated node
// n within cols, one instance of n's parent.
func (n *pqNode) instances(cols [][]parquet.Value, do func(inst [][]parquet.Value) error) error {
	if len(cols) == 0 || len(cols[0]) == 0 || cols[0][0].DefinitionLevel() < n.def {
		return nil // no instance: an empty list
	}
	clear(n.pos)
	for n.pos[0] < len(cols[0]) {
		for k, c := range cols {
			s := n.pos[k]
			if s >= len(c) {
				return fmt.Errorf("column %q: %w", n.path, errLevels)
			}
			e := s + 1
			for e < len(c) && c[e].RepetitionLevel() > n.rep {
				e++
			}
			n.inst[k], n.pos[k] = c[s:e], e
		}
		if err := do(n.inst); err != nil {
			return err
		}
	}
	return nil
}

// array returns the elements of the repeated node n within cols, each the
// value of elem (n itself, or its element field).
func (n *pqNode) array(elem *pqNode, cols [][]parquet.Value) ([]any, error) {
	count := 0
	if len(cols) > 0 {
		for i, v := range cols[0] {
			if i == 0 || v.RepetitionLevel() <= n.rep {
				count++
			}
		}
	}
	arr := make([]any, 0, count)
	err := n.instances(cols, func(inst [][]parquet.Value) error {
		var v any
		var err error
		if elem == n {
			v, _, err = n.single(inst)
		} else {
			v, _, err = elem.value(inst[elem.lo-n.lo : elem.hi-n.lo])
		}
		arr = append(arr, v)
		return err
	})
	return arr, err
}

// entries returns a map's entries as an object keyed by the keys' text; an
// entry whose value is null is left out, as NULL is everywhere.
func (n *pqNode) entries(cols [][]parquet.Value) (map[string]any, error) {
	layer := n.layer
	key := layer.fields[0]
	m := make(map[string]any)
	err := layer.instances(cols, func(inst [][]parquet.Value) error {
		k, ok, err := key.single(inst[key.lo-layer.lo : key.hi-layer.lo])
		if err != nil || !ok {
			return err
		}
		name, err := keyText(k)
		if err != nil {
			return fmt.Errorf("column %q: %w", key.path, err)
		}
		if len(layer.fields) < 2 {
			m[name] = true // a set: keys only
			return nil
		}
		val := layer.fields[1]
		v, ok, err := val.value(inst[val.lo-layer.lo : val.hi-layer.lo])
		if ok {
			m[name] = v
		}
		return err
	})
	return m, err
}

// keyText is a map key's text: strings as they are, numbers and booleans in
// their JSON form, anything else as JSON.
func keyText(k any) (string, error) {
	switch t := k.(type) {
	case string:
		return t, nil
	case json.Number:
		return t.String(), nil
	case bool:
		if t {
			return "true", nil
		}
		return "false", nil
	}
	var b strings.Builder
	err := json.NewEncoder(&b).Encode(k)
	return strings.TrimSuffix(b.String(), "\n"), err
}
