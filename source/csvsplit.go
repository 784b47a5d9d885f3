package source

import (
	"bufio"
	"bytes"
	"io"
)

// splitState is where a rowSplitter stands within a CSV row.
type splitState uint8

const (
	atFieldStart splitState = iota // a quote here opens a quoted field
	inUnquoted                     // quotes here are bare (encoding/csv rejects the row at its end)
	inQuoted                       // newlines here belong to the cell
	afterQuote                     // a quote inside a quoted field: escape or close
)

// rowSplitter cuts a CSV byte stream into rows the way encoding/csv (without
// LazyQuotes) does, so that a row can be bounded in size and an oversized row
// skipped to its end without being held in memory. It follows quoting only;
// encoding/csv parses each row it cuts.
type rowSplitter struct {
	br        *bufio.Reader
	delim     []byte // the delimiter's UTF-8 encoding
	max       int
	row       []byte // the current row, reused; at most max (+ one read) bytes
	line      int    // line of the next unread byte
	tooLarge  bool   // the current row exceeded max and was skipped
	startLine int    // line the current row starts on
}

func newRowSplitter(r io.Reader, delim rune, max int) *rowSplitter {
	br := skipBOM(bufio.NewReaderSize(r, 64<<10))
	return &rowSplitter{br: br, delim: []byte(string(delim)), max: max, line: 1}
}

// skipBOM drops a leading UTF-8 byte order mark.
func skipBOM(br *bufio.Reader) *bufio.Reader {
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	return br
}

// next reads the next row, skipping blank lines. It returns io.EOF at the
// end, or the reader's error. On success s.row holds the row (unless
// s.tooLarge) and s.startLine its first line.
func (s *rowSplitter) next() error {
	for {
		s.row = s.row[:0]
		s.tooLarge = false
		s.startLine = s.line
		st := atFieldStart
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
					if st != inQuoted {
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
func (s *rowSplitter) scan(st splitState, p []byte) splitState {
	if st != inQuoted && bytes.IndexByte(p, '"') < 0 {
		if p[len(p)-1] == '\n' || bytes.HasSuffix(p, s.delim) {
			return atFieldStart
		}
		return inUnquoted
	}
	last := s.delim[len(s.delim)-1]
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch st {
		case inQuoted:
			j := bytes.IndexByte(p[i:], '"')
			if j < 0 {
				return inQuoted
			}
			i += j
			st = afterQuote
		case atFieldStart, inUnquoted, afterQuote:
			switch {
			case c == '"' && st == atFieldStart:
				st = inQuoted
			case c == '"' && st == afterQuote:
				st = inQuoted // an escaped quote
			case c == '\n':
				st = atFieldStart
			case c == last && bytes.HasSuffix(p[:i+1], s.delim):
				st = atFieldStart
			default:
				st = inUnquoted
			}
		}
	}
	return st
}
