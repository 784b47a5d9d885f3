package source

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/segloop/segloop/internal/arena"
)

// CSVReader streams the rows of a CSV input with a header row.
//
// Rules: a UTF-8 byte order mark is dropped; blank lines are skipped (but
// counted in Line); header names are trimmed of surrounding spaces and must be
// unique and non-empty. Quoting is RFC 4180's, as encoding/csv reads it
// without LazyQuotes: a quote opens a quoted cell only at the start of a
// cell, "" inside one is a quote, and a quoted cell may hold delimiters and
// line breaks. A quoted cell keeps every byte it holds, CR LF included
// (encoding/csv turns a CR LF inside quotes into LF); the CR LF or LF that
// ends a row is not part of its last cell, nor is a CR just before the end of
// the input.
//
// A row with more cells than the header, a bare quote, text after a closing
// quote, invalid UTF-8 or more than MaxItemBytes bytes is an item error and
// reading goes on with the next row, which starts where encoding/csv's
// quoting rules say the bad row ends; an oversized row is skipped to its end
// without being held in memory. A row with fewer cells is an item error too,
// unless Options.AllowShortRows accepts it (its missing trailing cells are
// then absent). An unclosed quote runs to the end of the input (or
// MaxItemBytes).
//
// Each row is parsed once, in a single pass that also bounds its size. Its
// cells are slices of larger blocks shared with neighbouring rows, so a row
// costs no allocation of its own; the strings stay valid (and immutable)
// for as long as anyone holds them.
//
// A CSVReader is not safe for concurrent use.
type CSVReader struct {
	br    *bufio.Reader
	delim []byte // the delimiter's UTF-8 encoding
	max   int
	short bool // Options.AllowShortRows

	header []string
	index  int64
	line   int   // line of the next unread byte
	err    error // sticky: io.EOF or the fatal error

	arena arena.Arena // the cells' text, row after row
	slab  cellSlab
	row   rowState
}

// NewCSVReader reads the header row of r and returns a reader of the rows
// after it. A missing, unreadable or invalid header is a *HeaderError; an
// invalid delimiter an error.
func NewCSVReader(r io.Reader, opts Options) (*CSVReader, error) {
	delim := opts.Delimiter
	if delim == 0 {
		delim = ','
	}
	if delim == '"' || delim == '\r' || delim == '\n' || delim == utf8.RuneError || !utf8.ValidRune(delim) {
		return nil, fmt.Errorf("source: invalid CSV delimiter %q", delim)
	}
	c := &CSVReader{
		br:    skipBOM(bufio.NewReaderSize(r, 64<<10)),
		delim: []byte(string(delim)),
		max:   opts.maxItem(),
		short: opts.AllowShortRows,
		line:  1,
	}
	if err := c.readHeader(); err != nil {
		return nil, err
	}
	return c, nil
}

// skipBOM drops a leading UTF-8 byte order mark.
func skipBOM(br *bufio.Reader) *bufio.Reader {
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	return br
}

// Header returns the header names, trimmed, in column order: the Header of
// every Record. The caller must not modify the slice.
func (c *CSVReader) Header() []string { return c.header }

// ErrNoHeader is wrapped by the *HeaderError of an input without a header row.
var ErrNoHeader = errors.New("missing header row")

func (c *CSVReader) readHeader() error {
	rec, err := c.read()
	if err == io.EOF {
		return &HeaderError{Err: ErrNoHeader}
	}
	if err != nil {
		return err
	}
	if rec.Err != nil {
		return &HeaderError{Err: rec.Err}
	}
	seen := make(map[string]int, len(rec.Cells))
	c.header = make([]string, len(rec.Cells))
	for i, name := range rec.Cells {
		name = strings.Clone(strings.TrimSpace(name)) // kept for the whole run: its own memory
		if name == "" {
			return &HeaderError{Column: i + 1, Name: rec.Cells[i], Err: errors.New("empty column name")}
		}
		if j, dup := seen[name]; dup {
			return &HeaderError{Column: i + 1, Name: name, Err: fmt.Errorf("duplicate column name (also column %d)", j+1)}
		}
		seen[name] = i
		c.header[i] = name
	}
	return nil
}

// Next returns the next row. See CSVReader for the rules.
func (c *CSVReader) Next() (Record, error) {
	if c.err != nil {
		return Record{}, c.err
	}
	rec, err := c.read()
	if err != nil {
		if err != io.EOF {
			err = &StreamError{Line: c.line, Err: err}
		}
		c.err = err
		return Record{}, err
	}
	rec.Index = c.index
	rec.Header = c.header
	c.index++
	if rec.Err != nil {
		return rec, nil
	}
	switch n, h := len(rec.Cells), len(c.header); {
	case n > h:
		rec.Err = &ItemError{Line: rec.Line, Err: fmt.Errorf("%w: row has %d cells, header has %d", ErrFieldCount, n, h)}
		return rec, nil
	case n < h && !c.short:
		rec.Err = &ItemError{Line: rec.Line, Err: fmt.Errorf("%w: row has %d cells, header has %d", ErrShortRow, n, h)}
		return rec, nil
	}
	return rec, nil
}

// read reads the next non-blank row into a Record with Line, Cells and, for a
// row that cannot be used, Err and Raw set. It returns io.EOF at the end of
// the input, or the reader's error.
func (c *CSVReader) read() (Record, error) {
	for {
		st, err := c.parseRow()
		if err != nil {
			return Record{}, err
		}
		if st == rowBlank {
			continue
		}
		r := &c.row
		rec := Record{Line: r.startLine}
		switch st {
		case rowTooLarge:
			rec.Err = &ItemError{Line: r.startLine, Err: fmt.Errorf("%w: row exceeds %d bytes", ErrItemTooLarge, c.max)}
			return rec, nil
		case rowBad:
			rec.Cells = c.cells()
			rec.Raw = bytes.Clone(r.raw)
			rec.Err = r.fault
			return rec, nil
		}
		if !utf8.Valid(r.raw) {
			rec.Cells = c.cells()
			rec.Raw = bytes.Clone(r.raw)
			rec.Err = c.badUTF8()
			return rec, nil
		}
		rec.Cells = c.cells()
		return rec, nil
	}
}

// cells commits the row's text and cuts it into its cells (nil for none).
func (c *CSVReader) cells() []string {
	text := c.arena.Text()
	ends := c.row.ends
	if len(ends) == 0 {
		return nil
	}
	cells := c.slab.take(len(ends))
	prev := 0
	for i, end := range ends {
		cells[i] = text[prev:end]
		prev = end
	}
	return cells
}

// badUTF8 locates the first byte of the row that is not UTF-8, and the cell
// that holds it.
func (c *CSVReader) badUTF8() error {
	r := &c.row
	off := badUTF8At(r.raw)
	cell := 0
	for cell+1 < len(r.starts) && r.starts[cell+1] <= off {
		cell++
	}
	return &ItemError{Line: lineAt(r.raw, r.startLine, off), Column: columnAt(r.raw, off), Err: fmt.Errorf("%w in cell %d", ErrInvalidUTF8, cell+1)}
}
