package segmenttest

import (
	"encoding/json"
	"hash/maphash"
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// Stats counts requests by outcome and the events they delivered. Every
// request counts in Requests and in at most one outcome; scripted answers
// count by the status given (2xx Accepted, 401 Unauthorized, 429 Throttled,
// 5xx Failed, other 4xx BadRequests, a reset Resets) and deliver nothing.
type Stats struct {
	Requests     int64 // every request received
	Accepted     int64 // answered 2xx
	Throttled    int64 // answered 429
	Failed       int64 // answered 5xx
	Resets       int64 // connection reset without an answer
	BadRequests  int64 // answered 400, 404 or 405 (or another 4xx, scripted)
	Unauthorized int64 // answered 401
	Scripted     int64 // answered from the script (also counted by outcome)

	Events        int64 // events in accepted requests, duplicates included
	Unique        int64 // distinct messageIds delivered (an event without one counts as distinct)
	Duplicates    int64 // events whose messageId was already delivered
	Dropped       int64 // events beyond MaxBatchEvents, answered 200 and dropped
	EarlyRequests int64 // requests inside an announced Retry-After window, more than Grace after the 429 that opened it
}

// Event is one delivered event, kept when [Options].KeepEvents is set.
type Event struct {
	MessageID   string
	UserID      string
	AnonymousID string
	Traits      map[string]any
	Timestamp   string
	Raw         json.RawMessage // the event exactly as sent (a copy)
}

// Request is one entry of the request log.
type Request struct {
	Time       time.Time // when the request arrived
	Path       string
	Status     int  // the status answered; 0 for a reset or a request abandoned by its client
	Reset      bool // the connection was reset without an answer
	Scripted   bool // answered from the script
	Authorized bool // the request carried an accepted write key (also checked for scripted answers)
	RetryCount int  // the X-Retry-Count header; -1 if absent or not a number
	UserAgent  string
	Events     int    // events found in the body (0 if it was not decoded)
	Error      string // why a 400 was answered; empty otherwise
}

// numShards spreads the messageId map over independent locks.
const numShards = 64

type shard struct {
	mu   sync.Mutex
	seen map[string]int
	_    [40]byte // keep neighbouring locks off one cache line
}

// counters are the Stats, updated atomically.
type counters struct {
	requests, accepted, throttled, failed, resets, bad, unauthorized, scripted atomic.Int64
	events, unique, duplicates, dropped, early                                 atomic.Int64
}

// recorder keeps what the server saw: counters, the messageId delivery
// counts (sharded), and the event and request logs (one mutex, held only to
// append or copy).
type recorder struct {
	c      counters
	seed   maphash.Seed
	shards [numShards]shard

	mu       sync.Mutex
	events   []Event
	requests []Request // the most recent logLimit are the log (all if 0)
	logLimit int
}

func newRecorder(logLimit int) *recorder {
	r := &recorder{seed: maphash.MakeSeed(), logLimit: logLimit}
	for i := range r.shards {
		r.shards[i].seen = make(map[string]int)
	}
	return r
}

// deliver records the accepted events of one request.
func (r *recorder) deliver(evs []eventFields) {
	var unique, dups int64
	for i := range evs {
		id := evs[i].MessageID
		if id == "" {
			unique++
			continue
		}
		s := &r.shards[maphash.String(r.seed, id)%numShards]
		s.mu.Lock()
		n := s.seen[id]
		s.seen[id] = n + 1
		s.mu.Unlock()
		if n == 0 {
			unique++
		} else {
			dups++
		}
	}
	r.c.events.Add(int64(len(evs)))
	r.c.unique.Add(unique)
	r.c.duplicates.Add(dups)
}

// keep appends full copies of the accepted events to the event log.
func (r *recorder) keep(raws []json.RawMessage) {
	kept := make([]Event, len(raws))
	for i, raw := range raws {
		var full struct {
			MessageID   string         `json:"messageId"`
			UserID      any            `json:"userId"`
			AnonymousID any            `json:"anonymousId"`
			Traits      map[string]any `json:"traits"`
			Timestamp   string         `json:"timestamp"`
		}
		_ = json.Unmarshal(raw, &full) // already decoded once without error
		kept[i] = Event{
			MessageID:   full.MessageID,
			UserID:      idString(full.UserID),
			AnonymousID: idString(full.AnonymousID),
			Traits:      full.Traits,
			Timestamp:   full.Timestamp,
			Raw:         append(json.RawMessage(nil), raw...),
		}
	}
	r.mu.Lock()
	r.events = append(r.events, kept...)
	r.mu.Unlock()
}

// idString renders a userId or anonymousId, which Segment also accepts as a number.
func idString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

func (r *recorder) log(req Request) {
	r.mu.Lock()
	if r.logLimit > 0 && len(r.requests) >= 2*r.logLimit {
		// Amortized O(1): drop the older half once the slice is twice the limit.
		n := copy(r.requests, r.requests[len(r.requests)-r.logLimit:])
		clear(r.requests[n:])
		r.requests = r.requests[:n]
	}
	r.requests = append(r.requests, req)
	r.mu.Unlock()
}

// Stats returns a snapshot of the counters. It is safe to call at any time;
// counters updated by requests still in flight may be mid-way.
func (h *Handler) Stats() Stats {
	c := &h.rec.c
	return Stats{
		Requests:      c.requests.Load(),
		Accepted:      c.accepted.Load(),
		Throttled:     c.throttled.Load(),
		Failed:        c.failed.Load(),
		Resets:        c.resets.Load(),
		BadRequests:   c.bad.Load(),
		Unauthorized:  c.unauthorized.Load(),
		Scripted:      c.scripted.Load(),
		Events:        c.events.Load(),
		Unique:        c.unique.Load(),
		Duplicates:    c.duplicates.Load(),
		Dropped:       c.dropped.Load(),
		EarlyRequests: c.early.Load(),
	}
}

// Delivered returns a copy of the delivery counts: messageId -> how many
// times an accepted request carried it. It costs a map copy; call it after
// the traffic under test.
func (h *Handler) Delivered() map[string]int {
	out := make(map[string]int)
	for i := range h.rec.shards {
		s := &h.rec.shards[i]
		s.mu.Lock()
		maps.Copy(out, s.seen)
		s.mu.Unlock()
	}
	return out
}

// Events returns a copy of every delivered event in the order recorded, or
// nil unless [Options].KeepEvents is set. Events of one request stay together.
func (h *Handler) Events() []Event {
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	if h.rec.events == nil {
		return nil
	}
	return append([]Event(nil), h.rec.events...)
}

// Requests returns a copy of the request log, in the order requests finished:
// every request, or the most recent [Options].LogLimit.
func (h *Handler) Requests() []Request {
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	reqs := h.rec.requests
	if lim := h.rec.logLimit; lim > 0 && len(reqs) > lim {
		reqs = reqs[len(reqs)-lim:]
	}
	return append([]Request(nil), reqs...)
}
