package loop

import (
	"context"
	"time"
)

// Item is one unit of work read from a Source, with its identity in that source.
type Item[T any] struct {
	Index int64 // 0-based position in the source
	Line  int   // 1-based source line where the item starts
	Size  int   // bytes the item adds to a batch (0 = not counted)
	// Key orders the items that share it: a later item of a key is never given to the
	// action before the earlier ones have their final result (retries, backoff and
	// Retry-After pauses included), so at most one item per key is in flight. Items of
	// other keys are not held up. "" means unordered.
	Key   string
	Value T
	Err   error // non-nil: invalid; reported with StatusInvalid, never given to the action
	// Settled, when not empty, is the outcome of an item that needs no work (StatusSkipped,
	// StatusUnchanged): Run reports it with that status and 0 attempts, and never gives it
	// to the action. Err takes precedence.
	Settled Status
}

// Source yields the items of a run, one at a time.
type Source[T any] interface {
	// Next returns the next item, io.EOF at the end. Any other error is fatal for reading:
	// Run stops reading, finishes the items already read, and returns the error. Next must
	// return promptly once ctx is done. Run calls Next from one goroutine at a time.
	Next(ctx context.Context) (Item[T], error)
}

// Status is the outcome of one item.
type Status string

// The statuses of a Result. Run emits StatusOK and StatusFailed for the items it sends,
// StatusInvalid for items with Err set, and an item's Settled status as it is.
const (
	StatusOK        Status = "ok"        // the action accepted the item
	StatusInvalid   Status = "invalid"   // Item.Err was set; never sent
	StatusFailed    Status = "failed"    // sent and refused or given up on, or never sent
	StatusSkipped   Status = "skipped"   // done in an earlier run; never sent
	StatusUnchanged Status = "unchanged" // the remote end already has it; a success, never sent
)

// Success reports whether s counts as a success: ok, skipped or unchanged.
func (s Status) Success() bool {
	return s == StatusOK || s == StatusSkipped || s == StatusUnchanged
}

// Result is the outcome of one item. Run emits exactly one Result per item read.
type Result[T any] struct {
	Item     Item[T]
	Status   Status
	Attempts int           // requests that carried the item (0: never sent)
	Code     int           // status code of the last attempt (0 if none)
	Err      error         // why the item is not ok; nil for a success
	Duration time.Duration // from a worker first taking up the item's batch to its outcome
}

// Summary counts what a run did.
type Summary struct {
	Read         int64         // items read from the source
	OK           int64         // results with StatusOK
	Invalid      int64         // results with StatusInvalid
	Failed       int64         // results with StatusFailed
	Skipped      int64         // results with StatusSkipped
	Unchanged    int64         // results with StatusUnchanged
	Requests     int64         // calls of Action.Do
	Retries      int64         // calls of Action.Do beyond the first of each request
	Throttled    int64         // failed attempts the classifier marked Throttled
	Splits       int64         // batches bisected after a permanent refusal
	Paused       time.Duration // time every worker was held by the Retry-Afters this run passed on
	PeakInFlight int           // most requests in flight at once (waiting on the limiter included)
	Elapsed      time.Duration // wall time of Run
}
