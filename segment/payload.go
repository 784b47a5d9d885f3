package segment

import (
	"maps"
	"sync"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"
)

// Segment's size and count limits, as this project applies them.
const (
	// MaxEventBytes bounds one serialized event (Segment documents 32 KB).
	MaxEventBytes = 32000
	// MaxBatchBytes bounds one /v1/batch body, envelope included
	// (Segment documents 500 KB; this leaves headroom).
	MaxBatchBytes = 475000
	// MaxBatchEvents bounds the events of one batch; Segment answers 200 to
	// larger batches and silently drops the excess.
	MaxBatchEvents = 2500
)

// AppendJSON validates the event (see Validate) and appends its wire form
// to dst, returning the extended slice. On error dst is returned unchanged
// (same length) with a *ValidationError.
//
// The keys come in a fixed order, and empty fields are left out:
//
//	{"type":"identify","messageId":…,"userId":…,"anonymousId":…,
//	 "traits":{…,"email":…,"name":…},"timestamp":…,"context":{…},"integrations":{…}}
//
// Inside traits come the traits of Columns (in name order), then the keys of
// Traits (sorted), then the members of TraitsJSON (in their own order), then
// Email and Name; a key is written once, with the value Identify's
// precedence gives it. Map values are encoded exactly as encoding/json would
// encode them. TraitsJSON is checked as JSON and copied member by member as
// it would be encoded once decoded (strings re-escaped, numbers as written,
// white space dropped), so the event has the size it would have had through
// Traits; a TraitsJSON that is not an object, or repeats a key, is decoded
// and merged in sorted order instead; one that is not a JSON object is the
// error reported even when other fields are at fault too (as when the
// mapping decoded it). Timestamp is RFC 3339 with nanoseconds in UTC. A
// result over MaxEventBytes is an error with Field "event".
//
// AppendJSON does not modify in and is safe to call concurrently on distinct
// or shared inputs as long as nobody writes to them. Appending into a reused
// buffer keeps the cost at zero allocations for string, number and bool
// traits, for Columns and for TraitsJSON.
func (in *Identify) AppendJSON(dst []byte) ([]byte, error) {
	if err := in.validateFields(); err != nil {
		if in.TraitsJSON != "" {
			// A traits cell that is not an object is the first fault, as
			// it was when the mapping decoded it.
			if _, terr := decodeTraitsJSON(in.TraitsJSON); terr != nil {
				return dst, terr
			}
		}
		return dst, err
	}
	start := len(dst)
	dst = append(dst, `{"type":"identify"`...)
	if in.MessageID != "" {
		dst = append(dst, `,"messageId":`...)
		dst = appendString(dst, in.MessageID)
	}
	if in.UserID != "" {
		dst = append(dst, `,"userId":`...)
		dst = appendString(dst, in.UserID)
	}
	if in.AnonymousID != "" {
		dst = append(dst, `,"anonymousId":`...)
		dst = appendString(dst, in.AnonymousID)
	}
	var err error
	if dst, err = in.appendTraits(dst); err != nil {
		return dst[:start], err
	}
	if !in.Timestamp.IsZero() {
		dst = append(dst, `,"timestamp":"`...)
		dst = in.Timestamp.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	if len(in.Context) > 0 {
		dst = append(dst, `,"context":`...)
		if dst, err = appendMap(dst, "context", in.Context); err != nil {
			return dst[:start], err
		}
	}
	if len(in.Integrations) > 0 {
		dst = append(dst, `,"integrations":`...)
		if dst, err = appendMap(dst, "integrations", in.Integrations); err != nil {
			return dst[:start], err
		}
	}
	dst = append(dst, '}')
	if n := len(dst) - start; n > MaxEventBytes {
		return dst[:start], &ValidationError{Field: "event",
			Msg: "serialized event is " + commaInt(n) + " bytes, over Segment's " + commaInt(MaxEventBytes) + "-byte limit"}
	}
	return dst, nil
}

// traitWriter writes the members of the traits object, opening it before
// the first one; n counts the members written.
type traitWriter struct {
	dst []byte
	n   int
}

// sep writes what comes before a member.
func (t *traitWriter) sep() {
	if t.n == 0 {
		t.dst = append(t.dst, `,"traits":{`...)
	} else {
		t.dst = append(t.dst, ',')
	}
	t.n++
}

// overridden reports whether a trait named k (not from Columns) is given a
// value by an earlier source: Email, Name or Row. key is k as a JSON string.
func (in *Identify) overridden(k string, key []byte) bool {
	return (k == "email" && in.Email != "") || (k == "name" && in.Name != "") ||
		(in.Columns != nil && in.Columns.has(in.Row, key))
}

// appendTraits writes `,"traits":{…}` with every source of traits merged
// (see AppendJSON), or nothing when there is no trait at all.
func (in *Identify) appendTraits(dst []byte) ([]byte, error) {
	e := getEncoder("traits")
	defer putEncoder(e)
	t := traitWriter{dst: dst}
	if c := in.Columns; c != nil {
		for i := range c.names {
			v := c.value(in.Row, i)
			if v == "" || (i == c.email && in.Email != "") || (i == c.name && in.Name != "") {
				continue
			}
			t.sep()
			t.dst = append(t.dst, c.keys[i]...)
			t.dst = appendString(t.dst, v)
		}
	}
	for _, k := range e.sortedKeys(in.Traits, 0) {
		if in.Columns != nil {
			e.key = appendString(e.key[:0], k)
		}
		if in.overridden(k, e.key) {
			continue
		}
		t.sep()
		t.dst = appendString(t.dst, k)
		t.dst = append(t.dst, ':')
		var err error
		if t.dst, err = e.appendValue(t.dst, in.Traits[k], 1); err != nil {
			return t.dst, err
		}
	}
	if in.TraitsJSON != "" {
		if err := t.splice(e, in); err != nil {
			return t.dst, err
		}
	}
	for _, kv := range [2][2]string{{"email", in.Email}, {"name", in.Name}} {
		if kv[1] == "" {
			continue
		}
		t.sep()
		t.dst = appendString(t.dst, kv[0])
		t.dst = append(t.dst, ':')
		t.dst = appendString(t.dst, kv[1])
	}
	if t.n > 0 {
		t.dst = append(t.dst, '}')
	}
	return t.dst, nil
}

func appendMap(dst []byte, field string, m map[string]any) ([]byte, error) {
	e := getEncoder(field)
	defer putEncoder(e)
	return e.appendObject(dst, m, 0)
}

// Message returns the event as analytics-go v3.3.0's message type, for
// callers that hand events to analytics.Client. Traits is a new map of
// AllTraits with Email and Name merged in (they win over traits keys of the
// same name); a TraitsJSON that is not a JSON object is left out (Validate
// reports it). Context is carried in analytics.Context.Extra, which that
// type inlines.
//
// AppendJSON does not serialize through this type: its Timestamp has no
// omitzero and would put "0001-01-01T00:00:00Z" on every event without a
// timestamp, its key order is not ours, and encoding/json's reflection
// costs several allocations per event.
func (in *Identify) Message() analytics.Identify {
	msg := analytics.Identify{
		Type:        "identify",
		MessageId:   in.MessageID,
		AnonymousId: in.AnonymousID,
		UserId:      in.UserID,
		Timestamp:   in.Timestamp,
	}
	traits, _ := in.AllTraits()
	if len(traits) > 0 || in.Email != "" || in.Name != "" {
		msg.Traits = make(analytics.Traits, len(traits)+2)
		for k, v := range traits {
			msg.Traits[k] = v
		}
		if in.Email != "" {
			msg.Traits.SetEmail(in.Email)
		}
		if in.Name != "" {
			msg.Traits.SetName(in.Name)
		}
	}
	if len(in.Context) > 0 {
		msg.Context = &analytics.Context{Extra: in.Context}
	}
	if len(in.Integrations) > 0 {
		msg.Integrations = analytics.Integrations(in.Integrations)
	}
	return msg
}

// AllTraits returns the traits of Row, Traits and TraitsJSON merged into
// one new map by Identify's precedence (Email and Name aside), with
// TraitsJSON's numbers as json.Number; nil when there are none. The error is
// TraitsJSON's, a *ValidationError, when it is not a JSON object; the map
// then holds the other traits.
func (in *Identify) AllTraits() (map[string]any, error) {
	var out map[string]any
	var err error
	if in.TraitsJSON != "" {
		out, err = decodeTraitsJSON(in.TraitsJSON)
	}
	if len(in.Traits) > 0 || in.Columns != nil {
		if out == nil {
			out = make(map[string]any, len(in.Traits)+8)
		}
		maps.Copy(out, in.Traits)
	}
	if c := in.Columns; c != nil {
		for i := range c.names {
			if v := c.value(in.Row, i); v != "" {
				out[c.names[i]] = v
			}
		}
	}
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

// bufPool holds scratch buffers for Validate and request bodies.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

// putBuf returns a buffer to the pool unless it grew past what is worth keeping.
func putBuf(b *[]byte) {
	if cap(*b) > 2*MaxBatchBytes {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
