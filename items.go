package segloop

import (
	"context"
	"fmt"

	"github.com/segloop/segloop/internal/arena"
	"github.com/segloop/segloop/ledger"
	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/segment"
)

// payload is one item on its way through the loop: the encoded event and what
// the result line and the failed-items file need to know about it.
type payload struct {
	event     []byte // the serialized Identify; nil for invalid items
	userID    string
	messageID string
	cells     []string       // CSV cells, kept only with Config.KeepSource
	raw       []byte         // JSON bytes, kept only with Config.KeepSource
	fields    map[string]any // a typed record's values (no raw, no cells), kept only with Config.KeepSource

	// Diff mode (Config.Ledger): the Sum of the event, and whether its
	// messageId is still to be derived from the content (the event holds a
	// placeholder until then; see diffItems).
	hash   ledger.Hash
	derive bool
}

// items adapts a source.Reader to loop.Source: it maps, validates and encodes
// each record, marks items that an earlier run finished as skipped, and keys
// each item by its user (userId, else anonymousId) so that the loop keeps a
// user's items in order.
type items struct {
	cfg     *Config
	mapping *mapping.Mapping
	scratch []byte      // the event being encoded, then copied into values
	values  arena.Arena // each item's event and generated messageId
	ids     messageIDs  // mapped and re-sent messageIds seen: a repeat is invalid

	// The mapping bound to the header of the rows read (see forHeader).
	header    []string
	bound     *mapping.Mapping
	resentCol int // column of resentMessageID in header, -1 if none
}

// forHeader returns the mapping bound to a row's header, binding it when the
// header is not the one of the row before (the rows of a reader share one
// header slice).
func (s *items) forHeader(header []string) *mapping.Mapping {
	if len(header) != len(s.header) || (len(header) > 0 && &header[0] != &s.header[0]) || s.bound == nil {
		s.header, s.bound, s.resentCol = header, s.mapping.ForHeader(header), -1
		for i, name := range header {
			if name == resentMessageID {
				s.resentCol = i
			}
		}
	}
	return s.bound
}

// Next returns the next item to process. A record that cannot be read, mapped,
// validated or encoded becomes an item with Err set; one that an earlier run
// finished (Config.Done) is settled as skipped; a read error that ends the
// source is returned as is.
func (s *items) Next(ctx context.Context) (loop.Item[payload], error) {
	if err := ctx.Err(); err != nil {
		return loop.Item[payload]{}, context.Cause(ctx)
	}
	rec, err := s.cfg.Source.Next()
	if err != nil {
		return loop.Item[payload]{}, err
	}
	it := loop.Item[payload]{Index: rec.Index, Line: rec.Line}
	if s.cfg.KeepSource {
		it.Value.cells = rec.Cells
		it.Value.raw = rec.Raw // the reader's copy: ours to keep
		if rec.Raw == nil && rec.Cells == nil {
			it.Value.fields = rec.Fields // a typed record: its values are its source
		}
	}
	if rec.Err != nil {
		it.Err = rec.Err
		return it, nil
	}
	env := mapping.Env{Item: rec.Fields, Trigger: s.cfg.Trigger, Index: rec.Index}
	m, resent := s.mapping, ""
	if rec.Fields == nil && rec.Header != nil { // a row: mapped by column position
		m, env.Row = s.forHeader(rec.Header), rec.Cells
		if s.resentCol >= 0 && s.resentCol < len(rec.Cells) {
			resent = rec.Cells[s.resentCol]
		}
	} else {
		resent, _ = rec.Fields[resentMessageID].(string)
	}
	in, err := m.Apply(env)
	it.Value.userID = in.UserID
	if err != nil {
		it.Err = err
		return it, nil
	}
	it.Key = in.UserID
	if it.Key == "" {
		it.Key = in.AnonymousID
	}
	if resent != "" && in.MessageID == "" {
		in.MessageID = resent // a failed-items file re-run: the first attempt's id
	}
	if it.Value.messageID, it.Err = in.MessageID, s.ids.check(in.MessageID, rec.Line); it.Err != nil {
		return it, nil
	}
	diff := s.cfg.Ledger != nil
	switch {
	case in.MessageID != "":
	case diff:
		it.Value.derive = true // from the content, once the ledger is read
	default:
		// Cut from s.values, as the event is: no allocation of its own.
		s.values.Append(segment.AppendMessageID(s.scratch[:0], s.cfg.RunKey, rec.Index, it.Key))
		in.MessageID = s.values.Text()
	}
	it.Value.messageID = in.MessageID
	if s.cfg.Done != nil && s.cfg.Done(rec.Index) {
		it.Settled = loop.StatusSkipped
		return it, nil
	}
	if it.Value.derive {
		in.MessageID = placeholderMessageID
	}
	event, err := in.AppendJSON(s.scratch[:0]) // validates as it encodes
	if err != nil {
		it.Err = err
		return it, nil
	}
	s.scratch = event
	if diff {
		if it.Value.hash, err = ledger.Sum(event); err != nil {
			it.Err = fmt.Errorf("diff: %w", err) // never: the event is segment's own JSON
			return it, nil
		}
	}
	s.values.Append(event)
	it.Value.event = s.values.Bytes()
	it.Size = len(event) + 1
	return it, nil
}
