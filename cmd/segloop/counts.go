package main

import (
	"sync/atomic"

	"github.com/segloop/segloop/loop"
)

// statusCounts counts results by status as they arrive; safe for concurrent
// use (the progress display reads while the run writes).
type statusCounts struct {
	ok, invalid, failed, skipped, unchanged atomic.Int64
}

func (c *statusCounts) add(s loop.Status) {
	switch s {
	case loop.StatusOK:
		c.ok.Add(1)
	case loop.StatusInvalid:
		c.invalid.Add(1)
	case loop.StatusFailed:
		c.failed.Add(1)
	case loop.StatusSkipped:
		c.skipped.Add(1)
	case loop.StatusUnchanged:
		c.unchanged.Add(1)
	}
}

// done is how many items have a result.
func (c *statusCounts) done() int64 {
	return c.ok.Load() + c.invalid.Load() + c.failed.Load() + c.skipped.Load() + c.unchanged.Load()
}

// judged is how many items count for --max-failures' share: the items this
// run tried to send or found invalid. Skipped items were judged by an
// earlier run and unchanged ones needed no sending: they do not dilute it.
func (c *statusCounts) judged() int64 { return c.done() - c.skipped.Load() - c.unchanged.Load() }

// bad is how many items failed or are invalid.
func (c *statusCounts) bad() int64 { return c.invalid.Load() + c.failed.Load() }
