package source_test

// The CSV reader segloop had before its single-pass parser (a quoting-aware
// splitter that bounds each row, then encoding/csv on the row), kept as the
// oracle of FuzzCSVAgainstSplitter, unchanged but for its names (prefixed
// "ref") and the package it lives in.

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/segloop/segloop/source"
)

func refMax(o source.Options) int {
	if o.MaxItemBytes <= 0 {
		return source.DefaultMaxItemBytes
	}
	return o.MaxItemBytes
}

// refCSVReader streams the rows of a CSV input with a header row.
//
// Rules: a UTF-8 byte order mark is dropped; blank lines are skipped (but
// counted in Line); header names are trimmed of surrounding spaces and must be
// unique and non-empty. A row with fewer cells than the header is accepted and
// its missing trailing cells are absent from Fields; a row with more cells, a
// broken quote, invalid UTF-8 or more than MaxItemBytes bytes is an item error
// and reading goes on with the next row. An unclosed quote runs to the end of
// the input (or MaxItemBytes), as it does in encoding/csv.
//
// A refCSVReader is not safe for concurrent use.
type refCSVReader struct {
	split  *refSplitter
	feed   bytes.Reader
	fb     *bufio.Reader
	cr     *csv.Reader
	header []string
	index  int64
	max    int
	err    error // sticky: io.EOF or the fatal error
}

// NewCSVReader reads the header row of r and returns a reader of the rows
// after it. A missing, unreadable or invalid header is a *source.HeaderError; an
// invalid delimiter an error.
func newRefCSVReader(r io.Reader, opts source.Options) (*refCSVReader, error) {
	delim := opts.Delimiter
	if delim == 0 {
		delim = ','
	}
	if delim == '"' || delim == '\r' || delim == '\n' || delim == utf8.RuneError || !utf8.ValidRune(delim) {
		return nil, fmt.Errorf("source: invalid CSV delimiter %q", delim)
	}
	c := &refCSVReader{split: newRefSplitter(r, delim, refMax(opts)), max: refMax(opts)}
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

// errRefNoHeader is wrapped by the *source.HeaderError of an input without a header row.
var errRefNoHeader = errors.New("missing header row")

func (c *refCSVReader) readHeader() error {
	err := c.split.next()
	if err == io.EOF {
		return &source.HeaderError{Err: errRefNoHeader}
	}
	if err != nil {
		return err
	}
	rec := c.parse()
	if rec.Err != nil {
		return &source.HeaderError{Err: rec.Err}
	}
	seen := make(map[string]int, len(rec.Cells))
	c.header = make([]string, len(rec.Cells))
	for i, name := range rec.Cells {
		name = strings.TrimSpace(name)
		if name == "" {
			return &source.HeaderError{Column: i + 1, Name: rec.Cells[i], Err: errors.New("empty column name")}
		}
		if j, dup := seen[name]; dup {
			return &source.HeaderError{Column: i + 1, Name: name, Err: fmt.Errorf("duplicate column name (also column %d)", j+1)}
		}
		seen[name] = i
		c.header[i] = name
	}
	return nil
}

// Next returns the next row. See refCSVReader for the rules.
func (c *refCSVReader) Next() (source.Record, error) {
	if c.err != nil {
		return source.Record{}, c.err
	}
	if err := c.split.next(); err != nil {
		if err != io.EOF {
			err = &source.StreamError{Line: c.split.line, Err: err}
		}
		c.err = err
		return source.Record{}, err
	}
	rec := c.parse()
	rec.Index = c.index
	c.index++
	if rec.Err != nil {
		return rec, nil
	}
	if len(rec.Cells) > len(c.header) {
		rec.Err = &source.ItemError{Line: rec.Line, Err: fmt.Errorf("%w: row has %d cells, header has %d", source.ErrFieldCount, len(rec.Cells), len(c.header))}
		return rec, nil
	}
	rec.Fields = make(map[string]any, len(rec.Cells))
	for i, cell := range rec.Cells {
		rec.Fields[c.header[i]] = cell
	}
	return rec, nil
}

// parse turns the splitter's current row into cells, or an item error.
func (c *refCSVReader) parse() source.Record {
	s := c.split
	rec := source.Record{Line: s.startLine}
	if s.tooLarge {
		rec.Err = &source.ItemError{Line: s.startLine, Err: fmt.Errorf("%w: row exceeds %d bytes", source.ErrItemTooLarge, c.max)}
		return rec
	}
	c.feed.Reset(s.row)
	c.fb.Reset(&c.feed)
	cells, err := c.cr.Read()
	rec.Cells = cells
	if err != nil {
		rec.Raw = bytes.Clone(s.row)
		ie := &source.ItemError{Line: s.startLine, Err: err}
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
func (c *refCSVReader) badUTF8(start int, cells []string) error {
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
		return &source.ItemError{Line: start + line - line0, Column: col, Err: fmt.Errorf("%w in cell %d", source.ErrInvalidUTF8, i+1)}
	}
	return &source.ItemError{Line: start, Err: source.ErrInvalidUTF8}
}

// refState is where a refSplitter stands within a CSV row.
type refState uint8

const (
	refFieldStart refState = iota // a quote here opens a quoted field
	refUnquoted                   // quotes here are bare (encoding/csv rejects the row at its end)
	refQuoted                     // newlines here belong to the cell
	refAfterQuote                 // a quote inside a quoted field: escape or close
)

// refSplitter cuts a CSV byte stream into rows the way encoding/csv (without
// LazyQuotes) does, so that a row can be bounded in size and an oversized row
// skipped to its end without being held in memory. It follows quoting only;
// encoding/csv parses each row it cuts.
type refSplitter struct {
	br        *bufio.Reader
	delim     []byte // the delimiter's UTF-8 encoding
	max       int
	row       []byte // the current row, reused; at most max (+ one read) bytes
	line      int    // line of the next unread byte
	tooLarge  bool   // the current row exceeded max and was skipped
	startLine int    // line the current row starts on
}

func newRefSplitter(r io.Reader, delim rune, max int) *refSplitter {
	br := refSkipBOM(bufio.NewReaderSize(r, 64<<10))
	return &refSplitter{br: br, delim: []byte(string(delim)), max: max, line: 1}
}

// refSkipBOM drops a leading UTF-8 byte order mark.
func refSkipBOM(br *bufio.Reader) *bufio.Reader {
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	return br
}

// next reads the next row, skipping blank lines. It returns io.EOF at the
// end, or the reader's error. On success s.row holds the row (unless
// s.tooLarge) and s.startLine its first line.
func (s *refSplitter) next() error {
	for {
		s.row = s.row[:0]
		s.tooLarge = false
		s.startLine = s.line
		st := refFieldStart
		size := 0
		for {
			piece, err := s.br.ReadSlice('\n')
			if len(piece) > 0 {
				st = s.scan(st, piece)
				size += len(piece)
				if size > s.max {
					s.tooLarge = true
				} else {
					s.row = append(s.row, piece...)
				}
				if piece[len(piece)-1] == '\n' {
					s.line++
					if st != refQuoted {
						break
					}
				}
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				if size == 0 {
					return io.EOF
				}
				break
			}
			if err != nil {
				return err
			}
		}
		if s.tooLarge || !blank(s.row) {
			return nil
		}
	}
}

// blank reports whether row is an empty line, which encoding/csv skips.
func blank(row []byte) bool {
	switch len(row) {
	case 0:
		return true
	case 1:
		return row[0] == '\n' || row[0] == '\r'
	case 2:
		return row[0] == '\r' && row[1] == '\n'
	}
	return false
}

// scan advances the quoting state over p, which holds at most one '\n', at
// its end.
func (s *refSplitter) scan(st refState, p []byte) refState {
	if st != refQuoted && bytes.IndexByte(p, '"') < 0 {
		if p[len(p)-1] == '\n' || bytes.HasSuffix(p, s.delim) {
			return refFieldStart
		}
		return refUnquoted
	}
	last := s.delim[len(s.delim)-1]
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch st {
		case refQuoted:
			j := bytes.IndexByte(p[i:], '"')
			if j < 0 {
				return refQuoted
			}
			i += j
			st = refAfterQuote
		case refFieldStart, refUnquoted, refAfterQuote:
			switch {
			case c == '"' && st == refFieldStart:
				st = refQuoted
			case c == '"' && st == refAfterQuote:
				st = refQuoted // an escaped quote
			case c == '\n':
				st = refFieldStart
			case c == last && bytes.HasSuffix(p[:i+1], s.delim):
				st = refFieldStart
			default:
				st = refUnquoted
			}
		}
	}
	return st
}
