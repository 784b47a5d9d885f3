package source

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"io"
)

// rowStatus is what parseRow found.
type rowStatus uint8

const (
	rowOK       rowStatus = iota // cells in the arena, ends and starts set
	rowBlank                     // an empty line: not a row
	rowBad                       // a quoting fault: rowState.fault, raw
	rowTooLarge                  // more than max bytes, skipped to its end
)

// rowState is the parser's scratch space for the current row, reused.
type rowState struct {
	startLine int
	size      int    // bytes of the row read so far
	raw       []byte // the row as read, while it is within max
	ends      []int  // end of each complete cell in the row's text (the arena's pending row)
	starts    []int  // where each cell begins in raw
	fault     *ItemError
	long      []byte // a line longer than the read buffer, gathered

	lastLine, lastLen int // the last line parsed and its length as encoding/csv counts it
}

// parseRow reads and parses one row in a single pass: it splits the cells
// into the arena (unquoting them), bounds the row's size and keeps its raw
// bytes for error reports. A row with a fault, or over max, is skipped to
// where encoding/csv's quoting says it ends (see scan). The error is
// io.EOF at the end of the input or the reader's error.
func (c *CSVReader) parseRow() (rowStatus, error) {
	r := &c.row
	r.startLine, r.size, r.fault = c.line, 0, nil
	r.raw, r.ends, r.starts = r.raw[:0], r.ends[:0], r.starts[:0]
	c.arena.Reset()
	quoted := false // the row goes on inside a quoted cell
	for first := true; ; first = false {
		num := c.line
		line, eof, over, err := c.nextLine()
		if err != nil {
			return 0, err
		}
		if over {
			st := atFieldStart
			if quoted {
				st = inQuoted
			}
			return rowTooLarge, c.skipRest(c.scan(st, line), line, eof, false)
		}
		if len(line) == 0 { // the end of the input
			if !quoted {
				return 0, io.EOF
			}
			r.fault = &ItemError{Line: r.lastLine, Column: 1 + r.lastLen, Err: csv.ErrQuote}
			return rowBad, nil
		}
		if first && blankLine(line, eof) {
			return rowBlank, nil
		}
		if n := csvLineLen(line, eof); n > 0 { // encoding/csv does not count a line it emptied
			r.lastLine, r.lastLen = num, n
		}
		done, inQuotes, f := c.parseLine(line, eof, quoted)
		switch {
		case f.err != nil:
			r.fault = &ItemError{Line: num, Column: f.col, Err: f.err}
			rest := line[f.resume:]
			if err := c.skipRest(c.scan(f.st, rest), line, eof, true); err != nil {
				return 0, err
			}
			if r.size > c.max {
				return rowTooLarge, nil
			}
			return rowBad, nil
		case done:
			return rowOK, nil
		case eof: // a quoted cell open at the end of the input
			r.fault = &ItemError{Line: r.lastLine, Column: 1 + r.lastLen, Err: csv.ErrQuote}
			return rowBad, nil
		}
		quoted = inQuotes
	}
}

// nextLine reads the next line of the input through its '\n' (the last line
// of the input may lack one) and appends it to the row's raw bytes. The line
// is valid until the next read. over reports that the row has grown past max:
// then line holds what was read of the line so far (not appended to raw),
// and the rest of the line, if any, is still to be read.
func (c *CSVReader) nextLine() (line []byte, eof, over bool, err error) {
	r := &c.row
	line, err = c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		r.long = append(r.long[:0], line...)
		for err == bufio.ErrBufferFull {
			if r.size+len(r.long) > c.max {
				r.size += len(r.long)
				return r.long, false, true, nil
			}
			line, err = c.br.ReadSlice('\n')
			r.long = append(r.long, line...)
		}
		line = r.long
	}
	switch {
	case err == io.EOF:
		eof = true
	case err != nil:
		return nil, false, false, err
	}
	if n := len(line); n > 0 && line[n-1] == '\n' {
		c.line++
	}
	r.size += len(line)
	if r.size > c.max {
		return line, eof, true, nil
	}
	r.raw = append(r.raw, line...)
	return line, eof, false, nil
}

// fault is a quoting error found by parseLine, and where the rest of the
// line is to be scanned from to find the end of the row.
type fault struct {
	err    error
	col    int // 1-based byte column of the offending quote
	resume int // offset in the line after it
	st     splitState
}

// parseLine parses one line of the row (see nextLine): quoted says it
// continues a quoted cell from the line before. Cell text goes to the
// arena's pending row, each complete cell's end to r.ends. It reports whether
// the row ends with this line, or whether it goes on inside a quoted cell,
// or the line's fault.
func (c *CSVReader) parseLine(line []byte, eof, quoted bool) (done, inQuotes bool, f fault) {
	r := &c.row
	base := len(r.raw) - len(line) // where line starts in raw
	eol := len(line)               // where the line's break begins: not part of an unquoted cell
	if eol > 0 && line[eol-1] == '\n' {
		eol--
		if eol > 0 && line[eol-1] == '\r' {
			eol--
		}
	} else if eof && eol > 0 && line[eol-1] == '\r' {
		eol--
	}
	d := c.delim
	for i := 0; ; {
		if !quoted {
			r.starts = append(r.starts, base+i)
			if i < eol && line[i] == '"' {
				quoted = true
				i++
				continue
			}
			rest := line[i:eol]
			var j int
			if len(d) == 1 {
				j = bytes.IndexByte(rest, d[0])
			} else {
				j = bytes.Index(rest, d)
			}
			cell := rest
			if j >= 0 {
				cell = rest[:j]
			}
			if k := bytes.IndexByte(cell, '"'); k >= 0 {
				return false, false, fault{err: csv.ErrBareQuote, col: i + k + 1, resume: i + k + 1, st: inUnquoted}
			}
			c.arena.Append(cell)
			r.ends = append(r.ends, c.arena.Len())
			if j < 0 {
				return true, false, fault{}
			}
			i += j + len(d)
			continue
		}
		// Inside a quoted cell: everything up to the next quote is the
		// cell's, line break included.
		j := bytes.IndexByte(line[i:], '"')
		if j < 0 {
			c.arena.Append(line[i:])
			return false, true, fault{}
		}
		c.arena.Append(line[i : i+j])
		i += j + 1
		switch {
		case i < len(line) && line[i] == '"': // "" is a quote
			c.arena.AppendByte('"')
			i++
		case bytes.HasPrefix(line[i:], d):
			r.ends = append(r.ends, c.arena.Len())
			quoted = false
			i += len(d)
		case i >= eol:
			r.ends = append(r.ends, c.arena.Len())
			return true, false, fault{}
		default:
			return false, false, fault{err: csv.ErrQuote, col: i, resume: i, st: afterQuote}
		}
	}
}

// skipRest consumes the rest of a row that will not be parsed, from scan
// state st after line (the last line read). The row ends at a '\n' outside
// quotes or at the end of the input. While keep holds and the row stays
// within max, its bytes go on into raw; past max the row counts as too large.
func (c *CSVReader) skipRest(st splitState, line []byte, eof, keep bool) error {
	r := &c.row
	if eof || (len(line) > 0 && line[len(line)-1] == '\n' && st != inQuoted) {
		return nil
	}
	for {
		piece, err := c.br.ReadSlice('\n')
		if len(piece) > 0 {
			st = c.scan(st, piece)
			r.size += len(piece)
			if keep && r.size <= c.max {
				r.raw = append(r.raw, piece...)
			}
			if piece[len(piece)-1] == '\n' {
				c.line++
				if st != inQuoted {
					return nil
				}
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
}

// blankLine reports whether the first line of a row is empty: no row at all,
// as encoding/csv skips it.
func blankLine(line []byte, eof bool) bool {
	switch string(line) {
	case "\n", "\r\n":
		return true
	case "\r":
		return eof
	}
	return false
}

// csvLineLen is the length encoding/csv gives a line once it has turned a
// final CR LF into LF and dropped a CR before the end of the input: the
// basis of its column for an unclosed quote.
func csvLineLen(line []byte, eof bool) int {
	n := len(line)
	switch {
	case n >= 2 && line[n-2] == '\r' && line[n-1] == '\n':
		return n - 1
	case eof && n >= 1 && line[n-1] == '\r':
		return n - 1
	}
	return n
}

// splitState is where scan stands within a CSV row.
type splitState uint8

const (
	atFieldStart splitState = iota // a quote here opens a quoted field
	inUnquoted                     // quotes here are bare (the row is bad already)
	inQuoted                       // newlines here belong to the cell
	afterQuote                     // a quote inside a quoted field: escape or close
)

// scan advances the quoting state over p, which holds at most one '\n', at
// its end. It follows quoting only, the way encoding/csv (without
// LazyQuotes) cuts rows, so that a row that is not parsed (too large, or
// bad) can be skipped to where encoding/csv would start the next one.
func (c *CSVReader) scan(st splitState, p []byte) splitState {
	if len(p) == 0 {
		return st
	}
	if st != inQuoted && bytes.IndexByte(p, '"') < 0 {
		if p[len(p)-1] == '\n' || bytes.HasSuffix(p, c.delim) {
			return atFieldStart
		}
		return inUnquoted
	}
	last := c.delim[len(c.delim)-1]
	for i := 0; i < len(p); i++ {
		b := p[i]
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
			case b == '"' && st == atFieldStart:
				st = inQuoted
			case b == '"' && st == afterQuote:
				st = inQuoted // an escaped quote
			case b == '\n':
				st = atFieldStart
			case b == last && bytes.HasSuffix(p[:i+1], c.delim):
				st = atFieldStart
			default:
				st = inUnquoted
			}
		}
	}
	return st
}
