package segment

import (
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
// Traits keys are sorted; Email and Name are written last inside traits and
// replace traits keys of the same name. Map values are encoded exactly as
// encoding/json would encode them. Timestamp is RFC 3339 with nanoseconds in
// UTC. A result over MaxEventBytes is an error with Field "event".
//
// AppendJSON does not modify in and is safe to call concurrently on distinct
// or shared inputs as long as nobody writes to them. Appending into a reused
// buffer keeps the cost at zero allocations for string, number and bool
// traits.
func (in *Identify) AppendJSON(dst []byte) ([]byte, error) {
	if err := in.validateFields(); err != nil {
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

// appendTraits writes `,"traits":{…}` with Email and Name merged in, or
// nothing when there is no trait at all.
func (in *Identify) appendTraits(dst []byte) ([]byte, error) {
	e := getEncoder("traits")
	defer putEncoder(e)
	keys := e.sortedKeys(in.Traits, 0)
	n := 0
	for _, k := range keys {
		if (k == "email" && in.Email != "") || (k == "name" && in.Name != "") {
			continue
		}
		dst = append(dst, ',')
		if n == 0 {
			dst = append(dst, `"traits":{`...)
		}
		n++
		dst = appendString(dst, k)
		dst = append(dst, ':')
		var err error
		if dst, err = e.appendValue(dst, in.Traits[k], 1); err != nil {
			return dst, err
		}
	}
	for _, kv := range [2][2]string{{"email", in.Email}, {"name", in.Name}} {
		if kv[1] == "" {
			continue
		}
		if n == 0 {
			dst = append(dst, `,"traits":{`...)
		} else {
			dst = append(dst, ',')
		}
		n++
		dst = appendString(dst, kv[0])
		dst = append(dst, ':')
		dst = appendString(dst, kv[1])
	}
	if n > 0 {
		dst = append(dst, '}')
	}
	return dst, nil
}

func appendMap(dst []byte, field string, m map[string]any) ([]byte, error) {
	e := getEncoder(field)
	defer putEncoder(e)
	return e.appendObject(dst, m, 0)
}

// Message returns the event as analytics-go v3.3.0's message type, for
// callers that hand events to analytics.Client. Traits is a new map with
// Email and Name merged in (they win over traits keys of the same name);
// Context is carried in analytics.Context.Extra, which that type inlines.
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
	if len(in.Traits) > 0 || in.Email != "" || in.Name != "" {
		msg.Traits = make(analytics.Traits, len(in.Traits)+2)
		for k, v := range in.Traits {
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
