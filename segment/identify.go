// Package segment speaks Segment's HTTP Tracking API for the Identify action:
// the action's inputs and their validation, the wire payload, deterministic
// messageIds, batch packing, a one-attempt HTTP client and the classification
// of every answer Segment can give.
package segment

import "time"

// Identify holds the inputs of one Identify call, as mapped from one input item.
// Email and Name travel to Segment as traits.email and traits.name.
// The zero value is not valid: UserID or AnonymousID must be set.
type Identify struct {
	UserID       string
	AnonymousID  string
	Email        string
	Name         string
	Traits       map[string]any // nil: no traits
	Timestamp    time.Time      // zero: left out (Segment uses the receive time)
	MessageID    string         // empty: the caller fills in a deterministic one
	Context      map[string]any // nil: left out
	Integrations map[string]any // nil: left out
}
