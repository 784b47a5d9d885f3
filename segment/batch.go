package segment

import (
	"time"
)

// LibraryName and Version name this library in the batch envelope's
// context.library and in the default User-Agent.
const (
	LibraryName = "segloop"
	Version     = "0.1.0"
)

// Batch envelope pieces; AppendBatch writes
// batchHead e1,e2,… batchMid sentAt batchTail.
const (
	batchHead = `{"batch":[`
	batchMid  = `],"sentAt":"`
	batchTail = `","context":{"library":{"name":"` + LibraryName + `","version":"` + Version + `"}}}`
	// maxTimeLen is the longest RFC3339Nano UTC time of a year in 0-9999:
	// "2006-01-02T15:04:05.999999999Z".
	maxTimeLen = len("2006-01-02T15:04:05.999999999Z")
)

// BatchOverhead is an upper bound of the bytes a /v1/batch body spends on
// its envelope (everything but the events and the commas between them).
// Each event then costs len(event)+1 bytes (the event and at most one
// comma), so a group of events fits in one request when
//
//	BatchOverhead + Σ (len(event)+1) ≤ MaxBatchBytes  and  count ≤ MaxBatchEvents.
//
// Packer applies this rule.
const BatchOverhead = len(batchHead) + len(batchMid) + maxTimeLen + len(batchTail)

// AppendBatch appends the /v1/batch body for events, which must each be one
// serialized event as AppendJSON makes it (they are copied verbatim, not
// re-encoded), to dst:
//
//	{"batch":[e1,e2,…],"sentAt":"…","context":{"library":{"name":"segloop","version":"…"}}}
//
// sentAt is written in UTC with nanoseconds. The body is at most
// BatchOverhead + Σ (len(event)+1) bytes long. AppendBatch does not check
// the limits; group events with a Packer (or the rule on BatchOverhead) first.
func AppendBatch(dst []byte, events [][]byte, sentAt time.Time) []byte {
	dst = append(dst, batchHead...)
	for i, ev := range events {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, ev...)
	}
	dst = append(dst, batchMid...)
	dst = sentAt.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, batchTail...)
}

// Packer groups a stream of serialized events into batches that respect
// both a byte bound and an event-count bound. Use it as
//
//	for each event:
//	    if !p.Add(ev) { send(p.Take()); p.Add(ev) }
//	    if p.Full()   { send(p.Take()) }
//	send(p.Take()) // the rest, if p.Len() > 0
//
// A Packer keeps references to the added slices (it does not copy them)
// until Take. It is not safe for concurrent use. The zero value is not
// usable; call NewPacker.
type Packer struct {
	maxBytes  int
	maxEvents int
	size      int // BatchOverhead + Σ (len(event)+1) of the pending events
	events    [][]byte
}

// NewPacker returns a Packer whose batches hold at most maxEvents events and
// maxBytes body bytes. Zero, negative or larger values mean Segment's limits,
// MaxBatchEvents and MaxBatchBytes.
func NewPacker(maxEvents, maxBytes int) *Packer {
	if maxEvents <= 0 || maxEvents > MaxBatchEvents {
		maxEvents = MaxBatchEvents
	}
	if maxBytes <= 0 || maxBytes > MaxBatchBytes {
		maxBytes = MaxBatchBytes
	}
	return &Packer{maxBytes: maxBytes, maxEvents: maxEvents, size: BatchOverhead}
}

// Add appends event to the pending batch and reports true when it fits under
// both bounds. It reports false, and adds nothing, when the pending batch
// is already at the event bound or the event would push the body over the
// byte bound: Take the pending batch, then Add again. An event too large
// for even an empty batch is refused by an empty Packer too; events that
// passed AppendJSON (≤ MaxEventBytes) always fit an empty default Packer.
func (p *Packer) Add(event []byte) bool {
	if len(p.events) >= p.maxEvents || p.size+len(event)+1 > p.maxBytes {
		return false
	}
	if p.events == nil {
		p.events = make([][]byte, 0, min(p.maxEvents, 256))
	}
	p.events = append(p.events, event)
	p.size += len(event) + 1
	return true
}

// Full reports whether the pending batch has reached the event bound, or
// has no room left for even a one-byte event.
func (p *Packer) Full() bool {
	return len(p.events) >= p.maxEvents || p.size+2 > p.maxBytes
}

// Len returns the number of pending events.
func (p *Packer) Len() int { return len(p.events) }

// Size returns an upper bound of the body AppendBatch would make of the
// pending events.
func (p *Packer) Size() int { return p.size }

// Take returns the pending events and starts a new, empty batch. The
// returned slice is the caller's; the Packer does not touch it again.
func (p *Packer) Take() [][]byte {
	evs := p.events
	p.events = nil
	p.size = BatchOverhead
	return evs
}
