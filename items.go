package segloop

import (
	"bytes"
	"context"

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
	cells     []string // CSV cells, kept only with Config.KeepSource
	raw       []byte   // JSON bytes, kept only with Config.KeepSource
}

// items adapts a source.Reader to loop.Source: it maps, validates and encodes
// each record, marks items that an earlier run finished as skipped, and keys
// each item by its user (userId, else anonymousId) so that the loop keeps a
// user's items in order.
type items struct {
	cfg     *Config
	mapping *mapping.Mapping
	scratch []byte     // the event being encoded; copied out at its exact size
	ids     messageIDs // mapped and re-sent messageIds seen: a repeat is invalid
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
	}
	if rec.Err != nil {
		it.Err = rec.Err
		return it, nil
	}
	in, err := s.mapping.Apply(mapping.Env{Item: rec.Fields, Trigger: s.cfg.Trigger, Index: rec.Index})
	it.Value.userID = in.UserID
	if err != nil {
		it.Err = err
		return it, nil
	}
	it.Key = in.UserID
	if it.Key == "" {
		it.Key = in.AnonymousID
	}
	if id, ok := rec.Fields[resentMessageID].(string); ok && in.MessageID == "" {
		in.MessageID = id // a failed-items file re-run: the first attempt's id
	}
	if it.Value.messageID, it.Err = in.MessageID, s.ids.check(in.MessageID, rec.Line); it.Err != nil {
		return it, nil
	}
	if in.MessageID == "" {
		in.MessageID = segment.MessageID(s.cfg.RunKey, rec.Index, it.Key)
	}
	it.Value.messageID = in.MessageID
	if s.cfg.Done != nil && s.cfg.Done(rec.Index) {
		it.Settled = loop.StatusSkipped
		return it, nil
	}
	event, err := in.AppendJSON(s.scratch[:0]) // validates as it encodes
	if err != nil {
		it.Err = err
		return it, nil
	}
	s.scratch = event
	it.Value.event = bytes.Clone(event)
	it.Size = len(event) + 1
	return it, nil
}
