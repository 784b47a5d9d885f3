package segmenttest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// errBodyTooLarge marks a body over MaxBodyBytes.
var errBodyTooLarge = errors.New("body over 500 KB")

// present decodes any JSON value and records whether it is neither null nor
// the empty string: enough to tell whether userId or anonymousId is set,
// without allocating the value.
type present bool

// UnmarshalJSON implements json.Unmarshaler.
func (p *present) UnmarshalJSON(b []byte) error {
	s := string(b) // no allocation: compared only
	*p = present(s != "null" && s != `""`)
	return nil
}

// eventType decodes an event's "type" without allocating: whether it is
// absent or empty, "identify", or anything else.
type eventType uint8

const (
	typeNone eventType = iota
	typeIdentify
	typeOther
)

// UnmarshalJSON implements json.Unmarshaler.
func (t *eventType) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null", `""`:
		*t = typeNone
	case `"identify"`:
		*t = typeIdentify
	default:
		*t = typeOther
	}
	return nil
}

// eventFields is the little of an event the server checks and records.
type eventFields struct {
	Type        eventType `json:"type"`
	MessageID   string    `json:"messageId"`
	UserID      present   `json:"userId"`
	AnonymousID present   `json:"anonymousId"`
	WriteKey    string    `json:"writeKey"`
}

// envelope is a /v1/batch or /v1/import body.
type envelope struct {
	Batch    []json.RawMessage `json:"batch"`
	WriteKey string            `json:"writeKey"`
}

// payload is one request's body, read and (lazily) decoded. Payloads are
// pooled by the Handler; reset clears one for reuse.
type payload struct {
	buf      bytes.Buffer
	zr       gzip.Reader
	readErr  error
	parsed   bool
	batch    bool // the route takes a batch envelope
	env      envelope
	events   []eventFields
	raws     []json.RawMessage // the raw events, parallel to events
	dropped  int
	writeKey string
	err      error // why the body is a 400; nil: acceptable
}

func (p *payload) reset() {
	p.buf.Reset()
	p.readErr, p.parsed, p.batch = nil, false, false
	p.env.Batch, p.env.WriteKey = p.env.Batch[:0], ""
	p.events, p.raws = p.events[:0], p.raws[:0]
	p.dropped, p.writeKey, p.err = 0, "", nil
}

// read reads r's body, gzip-decoded when so marked, up to MaxBodyBytes.
func (p *payload) read(r *http.Request, zr *gzip.Reader) error {
	var src io.Reader = r.Body
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		if !strings.EqualFold(enc, "gzip") && !strings.EqualFold(enc, "x-gzip") {
			return fmt.Errorf("unsupported Content-Encoding %q", enc)
		}
		if err := zr.Reset(r.Body); err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		src = zr
	}
	n, err := p.buf.ReadFrom(io.LimitReader(src, MaxBodyBytes+1))
	if err != nil {
		return fmt.Errorf("reading body: %w", err)
	}
	if n > MaxBodyBytes {
		return errBodyTooLarge
	}
	return nil
}

// parse decodes and checks the body once; later calls are free. It records
// the first reason the body is unacceptable in p.err.
func (p *payload) parse() {
	if p.parsed {
		return
	}
	p.parsed = true
	if p.readErr != nil {
		p.err = p.readErr
		return
	}
	body := p.buf.Bytes()
	if !p.batch {
		p.err = p.addEvent(body, 0)
		if len(p.events) == 1 {
			p.writeKey = p.events[0].WriteKey
		}
		return
	}
	if err := json.Unmarshal(body, &p.env); err != nil {
		p.err = fmt.Errorf("bad JSON: %w", err)
		return
	}
	p.writeKey = p.env.WriteKey
	if p.env.Batch == nil {
		p.err = errors.New(`no "batch" array`)
		return
	}
	items := p.env.Batch
	if len(items) > MaxBatchEvents {
		p.dropped = len(items) - MaxBatchEvents
		items = items[:MaxBatchEvents]
	}
	for i, raw := range items {
		if err := p.addEvent(raw, i); err != nil {
			p.err = err
			return
		}
	}
}

// addEvent checks one event (the i-th of its request) and appends it.
func (p *payload) addEvent(raw []byte, i int) error {
	if len(raw) > MaxEventBytes {
		return fmt.Errorf("event %d: %d bytes, over 32 KB", i, len(raw))
	}
	if len(raw) == 0 || raw[0] != '{' {
		if raw = bytes.TrimLeft(raw, " \t\r\n"); len(raw) == 0 || raw[0] != '{' {
			return fmt.Errorf("event %d: not a JSON object", i)
		}
	}
	p.events = append(p.events, eventFields{})
	ev := &p.events[len(p.events)-1]
	if err := json.Unmarshal(raw, ev); err != nil {
		return fmt.Errorf("event %d: bad JSON: %w", i, err)
	}
	switch {
	case p.batch && ev.Type == typeNone:
		return fmt.Errorf("event %d: no type", i)
	case !p.batch && ev.Type == typeOther:
		return fmt.Errorf("event %d: a type other than \"identify\" on /v1/identify", i)
	case !bool(ev.UserID) && !bool(ev.AnonymousID):
		return fmt.Errorf("event %d: neither userId nor anonymousId", i)
	}
	p.raws = append(p.raws, raw)
	return nil
}
