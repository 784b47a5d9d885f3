// Package segloop is the Loop node for Segment Identify as a Go library: it
// reads items from a source, maps each onto the Identify inputs, validates and
// encodes it, and sends it to Segment through package loop's rate-limited,
// retrying worker pool, reporting one Result per item.
//
// It is the wiring of the project's packages for callers who want all of it
// in one call, such as a workflow engine's loop step or the segloop command:
// package source reads CSV, JSON arrays, JSON Lines (plain, gzip or zstd) and
// Parquet, and package source/sqlsource the rows of a database query; package
// mapping turns an item into a segment.Identify; package segment validates,
// encodes and sends; package loop paces, retries, batches and accounts;
// package ratelimit supplies the adaptive limiter and the shared Retry-After
// gate; package ledger is diff mode's memory of what Segment already has.
package segloop

import (
	"context"
	"errors"
	"time"

	"github.com/segloop/segloop/ledger"
	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/source"
)

// DefaultBatchSize is the BatchSize Run uses for a zero Config.BatchSize.
// Every other default is the engine's (package loop's Default constants).
const DefaultBatchSize = 100

// Sender delivers serialized Identify events to Segment, one attempt per call.
// *segment.Client satisfies it. retry counts the earlier attempts of the same
// request (0 on the first).
type Sender interface {
	Identify(ctx context.Context, event []byte, retry int) (status int, err error)
	Batch(ctx context.Context, events [][]byte, retry int) (status int, err error)
}

// Config describes one run. Source and RunKey are required, and Client unless
// DryRun is set; every other zero field means the documented default.
type Config struct {
	Source  source.Reader    // the items, read once, one at a time
	Mapping *mapping.Mapping // nil: mapping.Default()
	Trigger map[string]any   // run-level values for {{trigger.x}}; may be nil

	// RunKey seeds the deterministic messageIds: the same key, index and
	// userId give the same messageId, so Segment drops a re-sent duplicate.
	RunKey string

	Client    Sender
	BatchSize int // items per request; 0 = DefaultBatchSize; 1 sends /v1/identify
	// Concurrency fixes the requests in flight; 0 adapts them to the round
	// trip, up to MaxConcurrency (see loop.Options.Concurrency).
	Concurrency     int
	MaxConcurrency  int           // cap of the adaptive concurrency; 0 = loop.DefaultMaxConcurrency
	MaxAttempts     int           // per request; 0 = loop.DefaultMaxAttempts
	Limiter         loop.Limiter  // paces every attempt; nil = unlimited
	RateLimitBudget time.Duration // total Retry-After waiting; 0 = loop.DefaultRateLimitBudget
	DrainTimeout    time.Duration // in-flight grace after cancellation; 0 = loop.DefaultDrainTimeout

	// DryRun maps and validates every item and sends nothing: valid items get
	// status ok ("would be sent").
	DryRun bool

	// KeepSource keeps each item's source in its Result (Result.Cells,
	// Result.Raw, or for typed records Result.Fields), for writing failed
	// items back out.
	KeepSource bool

	// Done, when set, reports items finished by an earlier run (a checkpoint);
	// they are not sent and get status skipped.
	Done func(index int64) bool

	// Ledger, when set, turns on diff mode (see diff.go): an item whose event
	// the ledger holds for its user gets status unchanged and is not sent;
	// the others are sent under messageIds that cover their content, and
	// each item Segment accepted is committed to the ledger (never in a dry
	// run). *ledger.Ledger, opened for the destination Client sends to,
	// satisfies it.
	Ledger Ledger

	// OnResult receives every item's Result, one call at a time, as items
	// finish. It must not block for long: it holds up the run.
	OnResult func(Result)
}

// Ledger is diff mode's memory of what Segment already has: the hash of
// each user's last accepted event, for one destination. *ledger.Ledger
// satisfies it. Run calls it from two goroutines at once (lookups while
// reading, commits as results come), so it must be safe for concurrent use.
type Ledger interface {
	// LookupStates sets states[i] for batch[i], in one query.
	LookupStates(ctx context.Context, batch []ledger.Entry, states []ledger.State) error
	// Commit records the entries of accepted events, all or none.
	Commit(ctx context.Context, batch []ledger.Entry) error
}

// Result is what happened to one item. Items of one user (the userId, or
// without one the anonymousId) reach Segment in input order: a later one is
// sent only once the earlier ones have their final result.
type Result struct {
	Index  int64  // 0-based position in the source
	Line   int    // 1-based source line where the item starts
	UserID string // as mapped; may be empty for invalid items
	// MessageID is the item's messageId. It is empty for an item that could
	// not be mapped, for an unchanged item, and in diff mode for a skipped
	// one: nothing was sent in this run.
	MessageID string
	Status    loop.Status // ok, invalid, failed, skipped or unchanged
	Attempts  int         // requests that carried the item
	Code      int         // last HTTP status, 0 if none
	Err       error       // why it is invalid or failed
	Duration  time.Duration

	Cells []string // with KeepSource: a CSV item's cells
	Raw   []byte   // with KeepSource: a JSON item's bytes
	// Fields, with KeepSource, holds the values of a typed record (a Parquet
	// row, a database row): a source.Record with Fields but neither Raw nor
	// Cells. It is nil for CSV and JSON items, whose Cells or Raw say it all.
	Fields map[string]any
}

// Summary counts a run.
type Summary struct {
	loop.Summary
}

// ErrConfig marks a Config that Run refuses before reading anything.
var ErrConfig = errors.New("segloop: bad config")
