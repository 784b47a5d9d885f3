package checkpoint

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers branch on them with errors.Is; the typed errors
// below carry the details and match the sentinels.
var (
	// ErrMismatch reports a checkpoint file that belongs to another run
	// (another input or mapping). It is matched by *MismatchError.
	ErrMismatch = errors.New("checkpoint belongs to another input or mapping")

	// ErrCorrupt reports a checkpoint file that cannot be trusted: a damaged
	// journal line followed by valid ones (a torn last line is not corruption),
	// no valid snapshot line, an unknown version, unreadable JSON, or ranges
	// that are out of order. It is matched by *CorruptError. A corrupt file is
	// never silently replaced.
	ErrCorrupt = errors.New("checkpoint file is corrupt")

	// ErrRunKeyConflict reports an attempt to replace the stored run key with
	// a different one. It is matched by *RunKeyError.
	ErrRunKeyConflict = errors.New("checkpoint has a different run key")

	// ErrLocked reports a checkpoint already open in another File, in this
	// process or another one (on systems with flock).
	ErrLocked = errors.New("checkpoint is in use")

	// ErrClosed is returned by Mark, Flush and SetRunKey after Close.
	ErrClosed = errors.New("checkpoint is closed")

	// ErrInvalid reports a bad argument: an empty path or fingerprint, a
	// negative index or interval, an empty run key.
	ErrInvalid = errors.New("invalid checkpoint argument")
)

// MismatchError reports that the checkpoint at Path was written for another
// run: its stored fingerprint differs from the one the caller passed to Open.
// It matches ErrMismatch.
type MismatchError struct {
	Path   string // the checkpoint file
	Stored string // the fingerprint stored in the file
	Want   string // the fingerprint of this run
}

// Error says which file is at fault and what the user can do about it.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("checkpoint %s belongs to another input or mapping "+
		"(stored fingerprint %s, this run %s): delete it or use another --checkpoint",
		e.Path, short(e.Stored), short(e.Want))
}

// Is reports whether target is ErrMismatch.
func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }

// CorruptError reports a checkpoint file that could not be parsed or failed
// validation. Err, when not nil, is the underlying decoding error. It matches
// ErrCorrupt.
type CorruptError struct {
	Path   string // the checkpoint file
	Reason string // what is wrong, in a few words
	Err    error  // the underlying error, if any
}

// Error names the file, the reason and the way out.
func (e *CorruptError) Error() string {
	msg := fmt.Sprintf("checkpoint %s is corrupt: %s", e.Path, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + " (delete it to start over, or restore a copy)"
}

// Unwrap returns the underlying decoding error, if any.
func (e *CorruptError) Unwrap() error { return e.Err }

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// RunKeyError reports that SetRunKey was asked to replace the run key stored
// in the checkpoint at Path. It matches ErrRunKeyConflict.
type RunKeyError struct {
	Path   string // the checkpoint file
	Stored string // the run key already stored
	Want   string // the run key the caller tried to set
}

// Error names both keys; run keys are identifiers, not secrets.
func (e *RunKeyError) Error() string {
	return fmt.Sprintf("checkpoint %s has run key %q, not %q: resume with the stored key "+
		"or use another --checkpoint", e.Path, e.Stored, e.Want)
}

// Is reports whether target is ErrRunKeyConflict.
func (e *RunKeyError) Is(target error) bool { return target == ErrRunKeyConflict }

// short abbreviates a long fingerprint for messages.
func short(s string) string {
	const n = 16
	if len(s) <= n {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q…", s[:n])
}
