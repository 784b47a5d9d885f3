package source

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// NDJSONReader streams JSON Lines: one JSON object per line.
//
// Blank lines are skipped (but counted in Line). A line that does not parse,
// holds something other than one object, holds invalid UTF-8 or is longer than
// MaxItemBytes is an item error; an overlong line is skipped to its end
// without being held in memory. A final line without '\n' is read as well,
// and a leading UTF-8 byte order mark is dropped.
//
// An NDJSONReader is not safe for concurrent use.
type NDJSONReader struct {
	br    *bufio.Reader
	buf   []byte
	max   int
	line  int // line of the next unread byte
	index int64
	err   error // sticky fatal error
}

// NewNDJSONReader returns a reader of the JSON Lines in r.
func NewNDJSONReader(r io.Reader, opts Options) *NDJSONReader {
	return &NDJSONReader{br: skipBOM(bufio.NewReaderSize(r, 64<<10)), max: opts.maxItem(), line: 1}
}

// Next returns the next line's item; Raw holds the line without its line
// ending.
func (n *NDJSONReader) Next() (Record, error) {
	if n.err != nil {
		return Record{}, n.err
	}
	for {
		n.buf = n.buf[:0]
		start := n.line
		size, tooLarge, eof := 0, false, false
		for {
			piece, err := n.br.ReadSlice('\n')
			size += len(piece)
			if size > n.max+2 { // room for "\r\n"
				tooLarge = true
			} else {
				n.buf = append(n.buf, piece...)
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				eof = true
				break
			}
			if err != nil {
				n.err = &StreamError{Line: n.line, Err: err}
				return Record{}, n.err
			}
			n.line++
			break
		}
		if size == 0 && eof {
			return Record{}, io.EOF
		}
		line := bytes.TrimRight(n.buf, "\r\n")
		if tooLarge || len(line) > n.max {
			rec := Record{Index: n.index, Line: start, Err: &ItemError{Line: start, Err: fmt.Errorf("%w: line exceeds %d bytes", ErrItemTooLarge, n.max)}}
			n.index++
			return rec, nil
		}
		if skipSpace(line, 0) == len(line) {
			if eof {
				return Record{}, io.EOF
			}
			continue
		}
		rec := Record{Index: n.index, Line: start, Raw: bytes.Clone(line)}
		n.index++
		rec.Fields, rec.Err = decodeObject(rec.Raw, start)
		return rec, nil
	}
}
