// Package segment speaks Segment's HTTP Tracking API for the Identify action:
// the action's inputs and their validation, the wire payload, deterministic
// messageIds, batch packing, a one-attempt HTTP client and the classification
// of every answer Segment can give.
package segment

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Identify holds the inputs of one Identify call, as mapped from one input item.
// Email and Name travel to Segment as traits.email and traits.name.
// The zero value is not valid: UserID or AnonymousID must be set.
//
// Traits come from up to three places, merged into the event's one traits
// object by AppendJSON: Traits (a map), the text cells of a row (Columns and
// Row, for inputs such as CSV, without a map per row) and TraitsJSON (a JSON
// object given as text, copied without being decoded). A key given by more
// than one keeps the value of the first of Email and Name, then Row, then
// Traits, then TraitsJSON that has it.
type Identify struct {
	UserID      string
	AnonymousID string
	Email       string
	Name        string
	Traits      map[string]any // nil: no traits

	// Columns and Row are traits read from a row of text cells: trait i of
	// Columns takes its value from a cell of Row (see Columns). Both are
	// shared, not copied: Row must not change while the Identify is in use.
	Columns *Columns `json:",omitempty"`
	Row     []string `json:",omitempty"`
	// TraitsJSON is a JSON object of traits as text, such as a CSV cell
	// holding one: AppendJSON checks it and copies its members into the
	// event without decoding them. "" means none; anything else must be an
	// object.
	TraitsJSON string `json:",omitempty"`

	Timestamp    time.Time      // zero: left out (Segment uses the receive time)
	MessageID    string         // empty: the caller fills in a deterministic one
	Context      map[string]any // nil: left out
	Integrations map[string]any // nil: left out
}

// Columns names the text traits of the rows that share a header: trait i is
// called Name(i) and takes the value of cell Index(i) of a row; an empty
// cell, or one past the end of a short row, leaves the trait out. The traits
// are kept in ascending name order, so an event lists them as it lists the
// keys of Traits. Make one per header with NewColumns and share it: a Columns
// is immutable and safe for concurrent use; it makes the per-row work of
// AppendJSON a loop over cells, with every key encoded once, here.
type Columns struct {
	names []string
	index []int
	keys  []string       // names[i] as a JSON string, then ':'
	byKey map[string]int // names[i] as a JSON string -> i
	email int            // position of "email" in names, -1 if none
	name  int            // position of "name" in names, -1 if none
}

// NewColumns returns the Columns of traits names[i] read from cell index[i].
// The names must be distinct, the indexes non-negative and as many as the
// names.
func NewColumns(names []string, index []int) (*Columns, error) {
	if len(names) != len(index) {
		return nil, fmt.Errorf("segment: %d column names for %d indexes", len(names), len(index))
	}
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	c := &Columns{
		names: make([]string, len(names)),
		index: make([]int, len(names)),
		keys:  make([]string, len(names)),
		byKey: make(map[string]int, len(names)),
		email: -1,
		name:  -1,
	}
	for i, j := range order {
		if index[j] < 0 {
			return nil, fmt.Errorf("segment: column %q has index %d", names[j], index[j])
		}
		if i > 0 && names[j] == c.names[i-1] {
			return nil, errors.New("segment: column name " + names[j] + " given twice")
		}
		c.names[i], c.index[i] = names[j], index[j]
		key := string(appendString(nil, names[j]))
		c.keys[i] = key + ":"
		c.byKey[key] = i
		switch names[j] {
		case "email":
			c.email = i
		case "name":
			c.name = i
		}
	}
	return c, nil
}

// Len returns the number of traits.
func (c *Columns) Len() int { return len(c.names) }

// Name returns the name of trait i, 0 <= i < Len().
func (c *Columns) Name(i int) string { return c.names[i] }

// Index returns the cell that trait i reads, 0 <= i < Len().
func (c *Columns) Index(i int) int { return c.index[i] }

// value returns trait i's cell in row, "" when the row is too short.
func (c *Columns) value(row []string, i int) string {
	if j := c.index[i]; j < len(row) {
		return row[j]
	}
	return ""
}

// has reports whether row gives the trait whose name, encoded as a JSON
// string, is key.
func (c *Columns) has(row []string, key []byte) bool {
	i, ok := c.byKey[string(key)]
	return ok && c.value(row, i) != ""
}
