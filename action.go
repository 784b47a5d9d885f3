package segloop

import (
	"context"
	"sync"

	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/segment"
)

// sender is the loop.Action that delivers items through a Sender: one item
// per /v1/identify request when single, else one /v1/batch request per batch.
type sender struct {
	client Sender
	single bool
	events *sync.Pool // of *[][]byte: the event list of one batch request
}

func newSender(client Sender, single bool) sender {
	return sender{client: client, single: single, events: &sync.Pool{New: func() any { return new([][]byte) }}}
}

// Do makes one attempt at delivering batch.
func (s sender) Do(ctx context.Context, batch []loop.Item[payload], attempt int) (int, error) {
	if s.single && len(batch) == 1 {
		return s.client.Identify(ctx, batch[0].Value.event, attempt-1)
	}
	events := s.events.Get().(*[][]byte)
	defer func() {
		clear(*events)
		*events = (*events)[:0]
		s.events.Put(events)
	}()
	for i := range batch {
		*events = append(*events, batch[i].Value.event)
	}
	return s.client.Batch(ctx, *events, attempt-1)
}

// dryRun is the loop.Action of a dry run: every valid item would be sent.
type dryRun struct{}

func (dryRun) Do(context.Context, []loop.Item[payload], int) (int, error) { return 0, nil }

// classify maps Segment's reading of a failed attempt onto the loop's.
func classify(_ int, err error) loop.Verdict {
	v := segment.Classify(err)
	return loop.Verdict{Retry: v.Retry, Immediate: v.Immediate, RetryAfter: v.RetryAfter, Throttled: v.Throttled, Fatal: v.Fatal, Systemic: v.Endpoint}
}
