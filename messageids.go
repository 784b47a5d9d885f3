package segloop

import (
	"errors"
	"fmt"
	"hash/maphash"
)

// ErrDuplicateMessageID is matched by errors.Is for every
// *DuplicateMessageIDError.
var ErrDuplicateMessageID = errors.New("duplicate messageId")

// DuplicateMessageIDError is the error of an item whose messageId, from the
// mapping or from a failed-items file's _messageId, an earlier item of the
// run already has. Segment would silently drop the later one as a duplicate,
// so it is invalid instead.
type DuplicateMessageIDError struct {
	MessageID string
	FirstLine int // the line of the item that has it first
}

func (e *DuplicateMessageIDError) Error() string {
	return fmt.Sprintf("messageId: %q is the messageId of the item on line %d too; Segment would drop this item as a duplicate (give each item its own messageId)",
		e.MessageID, e.FirstLine)
}

// Is reports whether target is ErrDuplicateMessageID.
func (e *DuplicateMessageIDError) Is(target error) bool { return target == ErrDuplicateMessageID }

// messageIDs remembers the messageIds a run's items got from their mapping
// or their failed-items file, to refuse a repeated one. The messageIds the
// run derives itself (segment.MessageID of run key, index and user) differ by
// construction and are not tracked, so a run without mapped messageIds pays
// nothing.
//
// Each id is kept as a 64-bit hash (maphash, seeded per run) with the line of
// its first item: about 20 to 40 bytes per tracked id, whatever the ids'
// length (some 40 MB for a million). Two different ids collide with a
// probability of about n²/2⁶⁵ for n ids (3 in 100 million for a million):
// the later item would then be reported invalid although its id is unique.
// The zero value is ready to use; it is not safe for concurrent use (the
// source is read by one goroutine).
type messageIDs struct {
	seed  maphash.Seed
	first map[uint64]int // hash of a messageId -> the line of its first item
}

// check returns a *DuplicateMessageIDError when an earlier item has id, and
// otherwise remembers that the item on line has it. An empty id (one the run
// will derive) is not checked.
func (m *messageIDs) check(id string, line int) error {
	if id == "" {
		return nil
	}
	if m.first == nil {
		m.seed = maphash.MakeSeed()
		m.first = make(map[uint64]int)
	}
	h := maphash.String(m.seed, id)
	if l, ok := m.first[h]; ok {
		return &DuplicateMessageIDError{MessageID: id, FirstLine: l}
	}
	m.first[h] = line
	return nil
}
