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

// resume opens the run's checkpoint (--checkpoint) and chooses its run key:
// --run-key, else the one the checkpoint keeps, else one derived from the
// run's fingerprint, so that a re-run of an unchanged file sends the same
// messageIds. A stream and a query get a new random key instead: a stream
// cannot be told from another, and a query's rows may change while its text
// stays the same (a derived key would have Segment drop a changed row's
// event as the duplicate of an earlier run's). The key is made durable in
// the checkpoint before anything is sent. ck is nil without --checkpoint.
func resume(f *importFlags, spec *runSpec, files *safefile.Set) (ck *runCheckpoint, runKey string, err error) {
	fingerprint, err := runFingerprint(f, spec)
	if err != nil {
		return nil, "", err
	}
	ck, err = openCheckpoint(f.checkpoint, segloop.DestinationFingerprint(fingerprint, destinationName(f)), f.ckptEvery, files)
	if err != nil {
		return nil, "", err
	}
	switch {
	case f.runKey != "":
		runKey = f.runKey
	case ck != nil && ck.RunKey() != "":
		runKey = ck.RunKey()
	case f.file == "-" || f.query != nil:
		runKey = segloop.NewRunKey()
	default:
		runKey = segloop.DerivedRunKey(fingerprint)
	}
	if ck != nil {
		if err := ck.SetRunKey(runKey); err != nil {
			return nil, "", err
		}
	}
	return ck, runKey, nil
}

// runFingerprint is segloop.Fingerprint of the run f describes: the input
// (a file by its identity, a stream or query by what --run-key names it, a
// query by its database without the password, key and text), the mapping
// and the trigger.
func runFingerprint(f *importFlags, spec *runSpec) (string, error) {
	var input string
	switch {
	case f.query != nil:
		input = segloop.QueryInput(f.query.Description(), f.runKey)
	case f.file == "-":
		input = segloop.StreamInput(f.runKey, f.format, f.delimiter)
	default:
		var err error
		if input, err = segloop.FileInput(f.file, f.format, f.delimiter); err != nil {
			return "", usageError("import: %v", err)
		}
	}
	return segloop.Fingerprint(input, spec.mapBytes, spec.trigBytes), nil
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

// Close makes the checkpoint durable; it may be called more than once, and
// on a nil *runCheckpoint (no --checkpoint), where it does nothing.
func (c *runCheckpoint) Close() error {
	if c == nil {
		return nil
	}
	return c.f.Close()
}
