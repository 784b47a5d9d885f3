package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// decodeObject decodes one JSON object, keeping numbers as json.Number.
// line is where raw starts; a syntax error is reported at its own line and
// column.
func decodeObject(raw []byte, line int) (map[string]any, error) {
	i := skipSpace(raw, 0)
	if i == len(raw) || raw[i] != '{' {
		what := "nothing"
		if i < len(raw) {
			what = kindOf(raw[i])
		}
		return nil, &ItemError{Line: line, Column: columnAt(raw, i), Err: fmt.Errorf("%w: found %s", ErrNotObject, what)}
	}
	if !utf8.Valid(raw) {
		bad := badUTF8At(raw)
		return nil, &ItemError{Line: lineAt(raw, line, bad), Column: columnAt(raw, bad), Err: ErrInvalidUTF8}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		off := len(raw)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = min(max(int(se.Offset)-1, 0), len(raw))
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("unexpected end of JSON input")
		}
		return nil, &ItemError{Line: lineAt(raw, line, off), Column: columnAt(raw, off), Err: err}
	}
	if end := skipSpace(raw, int(dec.InputOffset())); end < len(raw) {
		return nil, &ItemError{Line: lineAt(raw, line, end), Column: columnAt(raw, end), Err: errors.New("unexpected data after the JSON object")}
	}
	return m, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// kindOf names the JSON value starting with c.
func kindOf(c byte) string {
	switch {
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	}
	return fmt.Sprintf("%q", c)
}

// lineAt is the line of b[off], given that b starts on line first.
func lineAt(b []byte, first, off int) int {
	return first + bytes.Count(b[:off], []byte{'\n'})
}

// columnAt is the 1-based byte column of b[off] within its line.
func columnAt(b []byte, off int) int {
	return off - bytes.LastIndexByte(b[:off], '\n')
}

func badUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}
