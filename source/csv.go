package source

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// CSVReader streams the rows of a CSV input with a header row.
//
// Rules: a UTF-8 byte order mark is dropped; blank lines are skipped (but
// counted in Line); header names are trimmed of surrounding spaces and must be
// unique and non-empty. A row with fewer cells than the header is accepted and
// its missing trailing cells are absent from Fields; a row with more cells, a
// broken quote, invalid UTF-8 or more than MaxItemBytes bytes is an item error
// and reading goes on with the next row. An unclosed quote runs to the end of
// the input (or MaxItemBytes), as it does in encoding/csv.
//
// A CSVReader is not safe for concurrent use.
type CSVReader struct {
	split  *rowSplitter
	feed   bytes.Reader
	fb     *bufio.Reader
	cr     *csv.Reader
	header []string
	index  int64
	max    int
	err    error // sticky: io.EOF or the fatal error
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
	c := &CSVReader{split: newRowSplitter(r, delim, opts.maxItem()), max: opts.maxItem()}
	c.fb = bufio.NewReaderSize(&c.feed, 4096)
	c.cr = csv.NewReader(c.fb) // uses c.fb as is: it is a large enough *bufio.Reader
	c.cr.Comma = delim
	c.cr.FieldsPerRecord = -1
	if err := c.readHeader(); err != nil {
		return nil, err
	}
	return c, nil
}

// Header returns the header names, trimmed, in column order. The caller must
// not modify the slice.
func (c *CSVReader) Header() []string { return c.header }

// ErrNoHeader is wrapped by the *HeaderError of an input without a header row.
var ErrNoHeader = errors.New("missing header row")

func (c *CSVReader) readHeader() error {
	err := c.split.next()
	if err == io.EOF {
		return &HeaderError{Err: ErrNoHeader}
	}
	if err != nil {
		return err
	}
	rec := c.parse()
	if rec.Err != nil {
		return &HeaderError{Err: rec.Err}
	}
	seen := make(map[string]int, len(rec.Cells))
	c.header = make([]string, len(rec.Cells))
	for i, name := range rec.Cells {
		name = strings.TrimSpace(name)
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
	if err := c.split.next(); err != nil {
		if err != io.EOF {
			err = &StreamError{Line: c.split.line, Err: err}
		}
		c.err = err
		return Record{}, err
	}
	rec := c.parse()
	rec.Index = c.index
	c.index++
	if rec.Err != nil {
		return rec, nil
	}
	if len(rec.Cells) > len(c.header) {
		rec.Err = &ItemError{Line: rec.Line, Err: fmt.Errorf("%w: row has %d cells, header has %d", ErrFieldCount, len(rec.Cells), len(c.header))}
		return rec, nil
	}
	rec.Fields = make(map[string]any, len(rec.Cells))
	for i, cell := range rec.Cells {
		rec.Fields[c.header[i]] = cell
	}
	return rec, nil
}

// parse turns the splitter's current row into cells, or an item error.
func (c *CSVReader) parse() Record {
	s := c.split
	rec := Record{Line: s.startLine}
	if s.tooLarge {
		rec.Err = &ItemError{Line: s.startLine, Err: fmt.Errorf("%w: row exceeds %d bytes", ErrItemTooLarge, c.max)}
		return rec
	}
	c.feed.Reset(s.row)
	c.fb.Reset(&c.feed)
	cells, err := c.cr.Read()
	rec.Cells = cells
	if err != nil {
		rec.Raw = bytes.Clone(s.row)
		ie := &ItemError{Line: s.startLine, Err: err}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			ie.Line = s.startLine + pe.Line - pe.StartLine
			ie.Column = pe.Column
			ie.Err = pe.Err
		}
		rec.Err = ie
		return rec
	}
	if !utf8.Valid(s.row) {
		rec.Raw = bytes.Clone(s.row)
		rec.Err = c.badUTF8(s.startLine, cells)
	}
	return rec
}

// badUTF8 locates the first cell holding invalid UTF-8.
func (c *CSVReader) badUTF8(start int, cells []string) error {
	line0, _ := c.cr.FieldPos(0)
	for i, cell := range cells {
		if utf8.ValidString(cell) {
			continue
		}
		line, col := c.cr.FieldPos(i)
		for j, r := range cell {
			if r == utf8.RuneError {
				if _, size := utf8.DecodeRuneInString(cell[j:]); size == 1 {
					col += j
					break
				}
			}
		}
		return &ItemError{Line: start + line - line0, Column: col, Err: fmt.Errorf("%w in cell %d", ErrInvalidUTF8, i+1)}
	}
	return &ItemError{Line: start, Err: ErrInvalidUTF8}
}
