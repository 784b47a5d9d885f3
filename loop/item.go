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
	Value T
	Err   error // non-nil: invalid; reported with StatusInvalid, never given to the action
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

// The statuses of a Result. Run emits StatusOK, StatusInvalid and StatusFailed;
// StatusSkipped is declared for callers that resume a run from a checkpoint.
const (
	StatusOK      Status = "ok"      // the action accepted the item
	StatusInvalid Status = "invalid" // Item.Err was set; never sent
	StatusFailed  Status = "failed"  // sent and refused or given up on, or never sent
	StatusSkipped Status = "skipped" // done in an earlier run
)

// Result is the outcome of one item. Run emits exactly one Result per item read.
type Result[T any] struct {
	Item     Item[T]
	Status   Status
	Attempts int           // requests that carried the item (0: never sent)
	Code     int           // status code of the last attempt (0 if none)
	Err      error         // why the item is not ok; nil for StatusOK
	Duration time.Duration // from a worker taking the item up to its outcome
}

// Summary counts what a run did.
type Summary struct {
	Read      int64         // items read from the source
	OK        int64         // results with StatusOK
	Invalid   int64         // results with StatusInvalid
	Failed    int64         // results with StatusFailed
	Requests  int64         // calls of Action.Do
	Retries   int64         // calls of Action.Do beyond the first of each request
	Throttled int64         // failed attempts the classifier marked Throttled
	Splits    int64         // batches bisected after a permanent refusal
	Paused    time.Duration // time all workers were held by Retry-After
	Elapsed   time.Duration // wall time of Run
}
