package checkpoint

import (
	"errors"
	"fmt"
	"os"
)

// journal is the checkpoint file on disk, written in place: records are
// appended and fsynced, and a compaction rewrites the file without ever
// leaving it without a complete, durable snapshot. Writing in place (never
// replacing the file by a rename) keeps the file's identity: a symlinked
// checkpoint is written through to its target, hard links stay one file,
// and the lock taken on the open file holds for every name of it.
//
// A journal is not safe for concurrent use; File serialises its writes.
type journal struct {
	fh        *os.File
	path      string
	end       int64 // where the next record goes: the end of the last good one
	snapSize  int64 // the size of the last snapshot written
	sinceSnap int64 // bytes of mark records written since it
	tail      bool  // the file may hold bytes after end (a write that failed): cut them first

	// fault, when set (tests only), is called before each I/O operation
	// ("write", "sync", "truncate") and fails it with its error.
	fault func(op string) error
	// minCompact, when set (tests only), replaces the 1 MiB of compactAfter.
	minCompact int64
}

// compactAfter is how many bytes of mark records may follow a snapshot
// before the writer compacts the journal: at least 1 MiB, and at least four
// snapshots' worth, so compaction costs little against the marks it folds.
func (j *journal) compactAfter() int64 {
	if j.minCompact > 0 {
		return j.minCompact
	}
	return max(1<<20, 4*j.snapSize)
}

// appendRecord writes line at the end of the file and fsyncs it. On failure
// the file is cut back to its last good record (so a partial write leaves no
// garbage for the next record to follow), and the record counts as unwritten.
func (j *journal) appendRecord(line []byte) error {
	if j.tail {
		if err := j.truncate(j.end); err != nil {
			return err
		}
		j.tail = false
	}
	if err := j.writeAt(line, j.end); err != nil {
		j.cutBack()
		return err
	}
	if err := j.sync(); err != nil {
		j.cutBack()
		return err
	}
	j.end += int64(len(line))
	j.sinceSnap += int64(len(line))
	return nil
}

// writeSnapshot makes the snapshot line the file's state and compacts the
// file to it:
//
//  1. append the snapshot and fsync: from here on it is the state, whatever
//     happens to the lines before it; when the file before it is shorter
//     than the snapshot, append it once more, so that one copy lies beyond
//     the start of the file that step 2 overwrites;
//  2. write it at the start of the file, fsync, cut the file after it and
//     fsync: a crash in between leaves a damaged start and an appended copy
//     last, which wins.
//
// A failure in step 2 leaves a valid file, only not compacted. An empty file
// (a new checkpoint) gets the snapshot once.
func (j *journal) writeSnapshot(line []byte) error {
	size := int64(len(line))
	for {
		at := j.end
		if err := j.appendRecord(line); err != nil {
			return err
		}
		j.snapSize, j.sinceSnap = size, 0
		if at == 0 {
			return nil
		}
		if at >= size {
			break
		}
	}
	if err := j.writeAt(line, 0); err != nil {
		return err
	}
	if err := j.sync(); err != nil {
		return err
	}
	if err := j.truncate(size); err != nil {
		return err
	}
	if err := j.sync(); err != nil {
		return err
	}
	j.end = size
	return nil
}

// cutBack cuts the file after its last good record; when it cannot, the
// next append tries again first.
func (j *journal) cutBack() { j.tail = j.truncate(j.end) != nil }

func (j *journal) writeAt(b []byte, off int64) error {
	if err := j.injected("write"); err != nil {
		return err
	}
	if _, err := j.fh.WriteAt(b, off); err != nil {
		return fmt.Errorf("write checkpoint %s: %w", j.path, err)
	}
	return nil
}

func (j *journal) sync() error {
	if err := j.injected("sync"); err != nil {
		return err
	}
	if err := j.fh.Sync(); err != nil {
		return fmt.Errorf("sync checkpoint %s: %w", j.path, err)
	}
	return nil
}

func (j *journal) truncate(size int64) error {
	if err := j.injected("truncate"); err != nil {
		return err
	}
	if err := j.fh.Truncate(size); err != nil {
		return fmt.Errorf("truncate checkpoint %s: %w", j.path, err)
	}
	return nil
}

func (j *journal) injected(op string) error {
	if j.fault == nil {
		return nil
	}
	if err := j.fault(op); err != nil {
		return fmt.Errorf("%s checkpoint %s: %w", op, j.path, err)
	}
	return nil
}

// errNotRegular refuses a checkpoint path that is not a regular file.
var errNotRegular = errors.New("not a regular file")
