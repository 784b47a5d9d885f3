package segmenttest

import (
	"math"
	"time"
)

// Limits the server enforces, as Segment documents them for the HTTP Tracking API.
const (
	// MaxBodyBytes is the largest request body accepted (after gzip decoding).
	// Segment documents 500 KB; a larger body is answered 400.
	MaxBodyBytes = 512_000
	// MaxEventBytes is the largest single event accepted, as sent. Segment
	// documents 32 KB; a larger event makes the whole request a 400.
	MaxEventBytes = 32 * 1024
	// MaxBatchEvents is the most events of one batch that are recorded. Like
	// Segment, the server answers 200 for a longer batch and silently drops
	// the excess, which it counts in [Stats].Dropped.
	MaxBatchEvents = 2500
)

// DefaultGrace is the Grace used when [Options].Grace is zero.
const DefaultGrace = 50 * time.Millisecond

// Options configures a [Handler]. The zero value is a server that accepts any
// non-empty write key, never throttles and injects no faults.
type Options struct {
	// WriteKeys lists the accepted write keys; empty accepts any non-empty key.
	// A key travels as the Basic auth user name (empty password) or as a
	// "writeKey" field of the JSON body; a request without an accepted key is
	// answered 401.
	WriteKeys []string
	// Rate is how many requests per second the server allows (a token bucket
	// shared by every client); 0 means unlimited.
	Rate float64
	// Burst is the bucket size; 0 means max(1, ceil(Rate)).
	Burst int
	// FailRate is the fraction of otherwise acceptable requests answered 503.
	FailRate float64
	// ResetRate is the fraction of otherwise acceptable requests whose
	// connection is reset without an answer.
	ResetRate float64
	// Latency is added to every request before it is answered; a request whose
	// context ends while it waits gets no answer.
	Latency time.Duration
	// Seed seeds the fault randomness: the same Seed and the same request order
	// give the same faults.
	Seed int64
	// Grace is how long after a 429 requests may still arrive inside the
	// announced Retry-After window without counting in [Stats].EarlyRequests
	// (they were in flight already); 0 means [DefaultGrace].
	Grace time.Duration
	// KeepEvents keeps every delivered event for [Handler.Events]. Without it
	// only the per-messageId delivery counts are kept.
	KeepEvents bool
	// LogLimit bounds the request log to the most recent LogLimit requests,
	// for a long-running server; 0 keeps every request (about 150 bytes each).
	LogLimit int
}

// withDefaults returns o with every zero field that has a default filled in.
func (o Options) withDefaults() Options {
	if o.Burst <= 0 {
		o.Burst = max(1, int(math.Ceil(o.Rate)))
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	return o
}
