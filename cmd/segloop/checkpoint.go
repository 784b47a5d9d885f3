package main

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/checkpoint"
	"github.com/segloop/segloop/internal/safefile"
	"github.com/segloop/segloop/loop"
)

// runCheckpoint is --checkpoint: it marks delivered items in the checkpoint
// file and tells the run which items an earlier run delivered. Only items
// with status ok or unchanged (Segment has them: diff mode) count as
// finished; a resumed run reports them skipped. Failed items are retried and
// invalid items re-validated by the next run.
type runCheckpoint struct {
	f *checkpoint.File
}

// openCheckpoint opens the checkpoint at path for the run fingerprint,
// after checking that it is none of the run's other files; it returns nil
// when path is empty.
func openCheckpoint(path, fingerprint string, every time.Duration, files *safefile.Set) (*runCheckpoint, error) {
	if path == "" {
		return nil, nil
	}
	f, err := checkpoint.Open(path, fingerprint, checkpoint.Options{
		Interval: every,
		Verify:   func(fi fs.FileInfo) error { return files.Output("--checkpoint", path, fi) },
	})
	if err != nil {
		if errors.Is(err, checkpoint.ErrMismatch) || errors.Is(err, checkpoint.ErrCorrupt) ||
			errors.Is(err, checkpoint.ErrInvalid) || errors.Is(err, safefile.ErrSameFile) {
			return nil, usageError("import: --checkpoint: %v", err)
		}
		return nil, withCode(exitAborted, fmt.Errorf("import: --checkpoint: %w", err))
	}
	return &runCheckpoint{f: f}, nil
}

func (c *runCheckpoint) RunKey() string { return c.f.RunKey() }

func (c *runCheckpoint) SetRunKey(key string) error {
	if err := c.f.SetRunKey(key); err != nil {
		c.f.Close()
		return usageError("import: --checkpoint: %v", err)
	}
	return nil
}

// Done reports whether an earlier run delivered item index.
func (c *runCheckpoint) Done(index int64) bool { return c.f.Done(index) }

// Record marks r's item finished when it was delivered.
func (c *runCheckpoint) Record(r segloop.Result) error {
	if r.Status != loop.StatusOK && r.Status != loop.StatusUnchanged {
		return nil
	}
	return c.f.Mark(r.Index)
}

// Flush makes the marks so far durable now.
func (c *runCheckpoint) Flush() error { return c.f.Flush() }

// Close makes the checkpoint durable; it may be called more than once.
func (c *runCheckpoint) Close() error { return c.f.Close() }
