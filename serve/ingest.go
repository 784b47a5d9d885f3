package serve

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"unicode/utf8"

	"github.com/segloop/segloop/runstore"
	"github.com/segloop/segloop/source"
)

// bodyFormat tells the format of a POST /v1/runs body from its Content-Type.
func bodyFormat(contentType string) (source.Format, *apiError) {
	mt, _, err := mime.ParseMediaType(contentType)
	if contentType == "" {
		mt, err = "application/json", nil
	}
	if err != nil {
		return "", &apiError{Status: http.StatusUnsupportedMediaType, Code: codeMediaType, Message: fmt.Sprintf("Content-Type %q: %v", contentType, err)}
	}
	switch mt {
	case "application/json":
		return source.JSON, nil
	case "text/csv":
		return source.CSV, nil
	case "text/tab-separated-values":
		return source.TSV, nil
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines":
		return source.NDJSON, nil
	}
	return "", &apiError{Status: http.StatusUnsupportedMediaType, Code: codeMediaType,
		Message: fmt.Sprintf("Content-Type %q: want application/json ({\"items\": [...]}), text/csv, text/tab-separated-values or application/x-ndjson", mt)}
}

// ingestRecords stores the items of a CSV, TSV or NDJSON body, read as a
// stream: a CSV row as its cells (see appendCells; the header, returned, is
// kept in the run's spec), a JSON line as it is. An item that cannot be
// read is stored with its error (it becomes an invalid result); a body
// that cannot be read at all is a 400 (or 413). An item over maxItem bytes
// is an invalid item.
func ingestRecords(ctx context.Context, in *intake, body io.Reader, format source.Format, delimiter rune, maxItem int) ([]string, *apiError) {
	src, err := source.Open(body, format, source.Options{Delimiter: delimiter, MaxItemBytes: maxItem})
	if err != nil {
		return nil, bodyError("body", err)
	}
	var header []string
	if h, ok := src.(interface{ Header() []string }); ok {
		header = h.Header()
	}
	var cells []byte // a row's stored form; Upload.Add copies it
	for {
		rec, err := src.Next()
		if errors.Is(err, io.EOF) {
			return header, nil
		}
		if err != nil {
			return nil, bodyError("body", err)
		}
		it := runstore.Item{Index: rec.Index, Line: rec.Line, Data: rec.Raw}
		switch {
		case rec.Err != nil:
			it.Error = rec.Err.Error()
		case header != nil:
			cells = appendCells(cells[:0], header, rec.Cells)
			it.Data = cells
		}
		if rec.Header != nil && rec.Err == nil {
			err = in.addRow(ctx, it, rec.Header, rec.Cells)
		} else {
			err = in.add(ctx, it, rec.Fields)
		}
		if err != nil {
			return nil, internal(fmt.Errorf("storing the body: %w", err))
		}
	}
}

// appendCells appends a CSV row as its cells: for each header column the
// row has, the column's position and the cell, length-prefixed. Stored so,
// a row costs a copy to store and a string to read back (rowCells), not a
// JSON encoding and decoding, and is mapped by column position.
func appendCells(b []byte, header, cells []string) []byte {
	for i, v := range cells[:min(len(cells), len(header))] {
		b = binary.AppendUvarint(b, uint64(i))
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// rowCells reads back a row stored by appendCells from row, its bytes as a
// string: its cells, cut from row as the CSV reader cuts them from its
// text, appended to cells (a slice of the columns' capacity from a slab,
// so a row costs no allocation of its own).
func rowCells(row string, cells []string) ([]string, error) {
	for at := 0; at < len(row); {
		i, n := uvarint(row[at:])
		if n <= 0 || i != uint64(len(cells)) {
			return nil, errors.New("corrupt stored row")
		}
		at += n
		l, n := uvarint(row[at:])
		if n <= 0 || l > uint64(len(row)-at-n) {
			return nil, errors.New("corrupt stored row")
		}
		at += n
		cells = append(cells, row[at:at+int(l)])
		at += int(l)
	}
	if len(cells) == 0 {
		return nil, nil // as the CSV reader gives a row without cells
	}
	return cells, nil
}

// uvarint decodes a uvarint from the start of s as binary.Uvarint does
// from bytes: the value and its length, 0 if s is too short, negative if
// it overflows 64 bits.
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s); i++ {
		if i == binary.MaxVarintLen64 {
			return 0, -(i + 1)
		}
		b := s[i]
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, -(i + 1)
			}
			return x | uint64(b)<<shift, i + 1
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

// ingestEnvelope stores the items of a JSON body {"items": [...], "mapping":
// ..., ...}, streaming the items array element by element (an element over
// maxItem bytes is a 413), and returns the options found beside it. An
// element that is not a JSON object is stored as an invalid item. An item's
// line is its 1-based position in items.
func ingestEnvelope(ctx context.Context, in *intake, body io.Reader, maxItem int) (options, *apiError) {
	var o options
	cr := &capReader{r: body, cap: -1}
	dec := json.NewDecoder(cr)
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if err != nil {
			return o, bodyError("body", err)
		}
		return o, badRequest(`body: want a JSON object {"items": [...]}, found %v`, describe(tok))
	}
	seenItems := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return o, bodyError("body", err)
		}
		key := tok.(string) // an object's keys are strings
		var field any
		switch key {
		case "items":
			if err := ingestItems(ctx, in, dec, cr, maxItem); err != nil {
				return o, err
			}
			seenItems = true
			continue
		case "mapping":
			field = &o.Mapping
		case "trigger":
			field = &o.Trigger
		case "runKey":
			field = &o.RunKey
		case "batch":
			field = &o.Batch
		case "maxAttempts":
			field = &o.MaxAttempts
		case "diff":
			field = &o.Diff
		default:
			return o, badRequest("body: unknown field %q (want items, mapping, trigger, runKey, batch, maxAttempts, diff)", key)
		}
		cr.limit(maxItem)
		if err := dec.Decode(field); err != nil {
			return o, fieldError(key, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return o, bodyError("body", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return o, badRequest("body: unexpected data after the JSON object")
	}
	if !seenItems {
		return o, badRequest(`body: no "items" array`)
	}
	return o, nil
}

func ingestItems(ctx context.Context, in *intake, dec *json.Decoder, cr *capReader, maxItem int) *apiError {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		if err != nil {
			return bodyError("items", err)
		}
		return badRequest("items: want an array, found %v", describe(tok))
	}
	var index int64
	for dec.More() {
		var raw json.RawMessage
		cr.limit(maxItem)
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, errItemTooLarge) {
				return &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Message: fmt.Sprintf("items[%d]: over %d bytes", index, maxItem)}
			}
			return fieldError(fmt.Sprintf("items[%d]", index), err)
		}
		it := runstore.Item{Index: index, Line: int(index) + 1, Data: raw}
		if len(raw) == 0 || raw[0] != '{' {
			it.Error = fmt.Sprintf("items[%d]: not a JSON object: found %s", index, kindOf(raw))
		} else if !utf8.Valid(raw) {
			it.Error = fmt.Sprintf("items[%d]: invalid UTF-8", index)
		}
		if err := in.add(ctx, it, nil); err != nil {
			return internal(fmt.Errorf("storing the body: %w", err))
		}
		index++
	}
	cr.limit(-1)
	if _, err := dec.Token(); err != nil {
		return bodyError("items", err)
	}
	return nil
}

func fieldError(field string, err error) *apiError {
	if errors.Is(err, errItemTooLarge) {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeTooLarge, Message: field + ": too large"}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return badRequest("%s: want %s, found a JSON %s", field, te.Type, te.Value)
	}
	return bodyError(field, err)
}

func describe(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(t))
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

func kindOf(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// errItemTooLarge is capReader's error past its cap.
var errItemTooLarge = errors.New("item too large")

// capReader bounds how far a json.Decoder may read for one value: once
// limit(n) is called, reading more than n bytes beyond what was read so far
// fails, so a huge element is refused instead of buffered whole.
type capReader struct {
	r   io.Reader
	n   int64 // bytes read
	cap int64 // -1: no cap
}

func (c *capReader) limit(n int) {
	if n < 0 {
		c.cap = -1
		return
	}
	c.cap = c.n + int64(n) + 64<<10 // room for the decoder's read-ahead and the separators
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.cap >= 0 {
		room := c.cap - c.n
		if room <= 0 {
			return 0, errItemTooLarge
		}
		if int64(len(p)) > room {
			p = p[:room]
		}
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
