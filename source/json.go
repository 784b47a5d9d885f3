package source

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// jsonSlack is how far past MaxItemBytes the decoder may read ahead of an
// element's start before the element counts as unreadable.
const jsonSlack = 64 << 10

// JSONReader streams the elements of a JSON array token by token with
// encoding/json's Decoder; the array is never held whole.
//
// Each element must be an object; any other value (or an object holding
// invalid UTF-8) is an item error and reading goes on. An element of more
// than MaxItemBytes is an item error if it ends within 64 KiB past that
// limit; beyond it, and on any syntax error in the array, reading stops with
// a *StreamError naming line and byte offset, after every element before the
// fault has been returned. Data after the closing ']' is a *StreamError too.
// A leading UTF-8 byte order mark is dropped; offsets count from after it.
//
// A JSONReader is not safe for concurrent use.
type JSONReader struct {
	cr    countingReader
	dec   *json.Decoder
	max   int
	index int64
	state uint8 // 0: before '[', 1: inside the array, 2: done
}

// NewJSONReader returns a reader of the JSON array in r.
func NewJSONReader(r io.Reader, opts Options) *JSONReader {
	j := &JSONReader{max: opts.maxItem()}
	j.cr = countingReader{r: skipBOM(bufio.NewReaderSize(r, 32<<10)), limit: int64(j.max) + jsonSlack}
	j.dec = json.NewDecoder(&j.cr)
	return j
}

// Next returns the next element; Raw holds its bytes.
func (j *JSONReader) Next() (Record, error) {
	if j.state == 2 {
		return Record{}, io.EOF
	}
	if j.state == 0 {
		tok, err := j.dec.Token()
		if err != nil {
			return Record{}, j.fatal(err, 0)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return Record{}, j.fatal(fmt.Errorf("expected a JSON array, found %v", describeToken(tok)), 0)
		}
		j.state = 1
	}
	pos := j.dec.InputOffset()
	j.cr.limit = pos + int64(j.max) + jsonSlack
	if !j.dec.More() {
		if _, err := j.dec.Token(); err != nil { // the closing ']'
			return Record{}, j.fatal(err, pos)
		}
		j.state = 2
		end := j.dec.InputOffset()
		if tok, err := j.dec.Token(); err != io.EOF {
			if err == nil {
				end = j.dec.InputOffset() - 1
				err = fmt.Errorf("unexpected %v after the JSON array", describeToken(tok))
			}
			return Record{}, j.fatal(err, end)
		}
		return Record{}, io.EOF
	}
	var raw json.RawMessage
	if err := j.dec.Decode(&raw); err != nil {
		return Record{}, j.fatal(err, -1)
	}
	start := j.dec.InputOffset() - int64(len(raw))
	line := j.cr.lineAt(start)
	rec := Record{Index: j.index, Line: line, Raw: raw}
	j.index++
	if len(raw) > j.max {
		rec.Err = &ItemError{Line: line, Err: fmt.Errorf("%w: element exceeds %d bytes", ErrItemTooLarge, j.max)}
		return rec, nil
	}
	rec.Fields, rec.Err = decodeObject(raw, line)
	return rec, nil
}

// fatal ends the reading with a *StreamError. pos is the offset of the fault,
// or -1 when Decode failed inside an element: the Decoder's own offsets are
// not exact in a stream, so the element is then scanned again on its own.
func (j *JSONReader) fatal(err error, pos int64) error {
	j.state = 2
	off := pos
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		off = j.cr.n
		err = errors.New("unexpected end of input inside the JSON array")
	case errors.Is(err, errReadLimit):
		off, _ = j.elementStart()
		err = fmt.Errorf("%w: an element exceeds %d bytes", ErrItemTooLarge, j.max)
	case errors.As(err, &se) && pos < 0:
		start, rest := j.elementStart()
		off = start
		var raw json.RawMessage
		if err2 := json.NewDecoder(bytes.NewReader(rest)).Decode(&raw); errors.As(err2, &se) {
			off = start + se.Offset - 1
		}
	case errors.As(err, &se):
		off = se.Offset
	}
	off = max(off, 0)
	return &StreamError{Line: j.cr.lineAt(off), Offset: off, Err: err}
}

// elementStart returns the offset where the element the Decoder stopped in
// begins, and the buffered bytes from there.
func (j *JSONReader) elementStart() (int64, []byte) {
	rest, _ := io.ReadAll(j.dec.Buffered())
	i := 0
	for i < len(rest) && (rest[i] == ',' || rest[i] == ' ' || rest[i] == '\t' || rest[i] == '\r' || rest[i] == '\n') {
		i++
	}
	return j.dec.InputOffset() + int64(i), rest[i:]
}

func describeToken(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(t))
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

var errReadLimit = errors.New("read limit reached")

// countingReader counts bytes and remembers where the newlines not yet passed
// are, so a byte offset the decoder reports maps to a line. It stops with
// errReadLimit at limit, which bounds the decoder's buffer.
type countingReader struct {
	r     io.Reader
	n     int64   // bytes delivered
	limit int64   // no delivery past this offset
	nl    []int64 // offsets of newlines not yet passed by lineAt, ascending
	lines int     // newlines already passed
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= c.limit {
		return 0, errReadLimit
	}
	p = p[:min(int64(len(p)), c.limit-c.n, 32<<10)]
	n, err := c.r.Read(p)
	for i := 0; i < n; {
		k := bytes.IndexByte(p[i:n], '\n')
		if k < 0 {
			break
		}
		c.nl = append(c.nl, c.n+int64(i+k))
		i += k + 1
	}
	c.n += int64(n)
	return n, err
}

// lineAt is the 1-based line of offset off. Offsets must not decrease
// between calls.
func (c *countingReader) lineAt(off int64) int {
	k := 0
	for k < len(c.nl) && c.nl[k] < off {
		k++
	}
	c.lines += k
	c.nl = c.nl[:copy(c.nl, c.nl[k:])]
	return c.lines + 1
}
