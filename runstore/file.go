package runstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// applicationID marks a SQLite file as a segloop database ("SGLP" in the
// header's application_id field, bytes 68-71).
const applicationID = 0x53474C50

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// ErrNotStore is wrapped by Open for a file that exists and is not a segloop
// database (another program's data): Open never writes to it.
var ErrNotStore = errors.New("not a segloop database")

// ErrLocked is wrapped by Open when another process has the database open.
var ErrLocked = errors.New("database in use by another segloop serve")

// prepareFile makes sure path may be opened as the store: it creates a new
// file 0600 (never replacing one), or checks that an existing regular file is
// empty or a segloop database. It returns the file, open, with an exclusive
// lock (flock) held for as long as it stays open: flock locks the file, not
// the name, so the lock holds for every name of it (symlinks, hard links).
// created reports a new file. A database readable by others is reported in
// wide.
func prepareFile(path string) (f *os.File, created bool, wide fs.FileMode, err error) {
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		created = true
	case errors.Is(err, fs.ErrExist):
		f, err = os.OpenFile(path, os.O_RDWR, 0)
		if errors.Is(err, syscall.EISDIR) {
			return nil, false, 0, fmt.Errorf("%s: %w: a directory", path, ErrNotStore)
		}
		if err != nil {
			return nil, false, 0, err
		}
	default:
		return nil, false, 0, err
	}
	fail := func(err error) (*os.File, bool, fs.FileMode, error) {
		f.Close()
		if created {
			os.Remove(path)
		}
		return nil, false, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if !st.Mode().IsRegular() {
		return fail(fmt.Errorf("%s: %w: not a regular file", path, ErrNotStore))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fail(fmt.Errorf("%s: %w", path, ErrLocked))
	}
	if !created && st.Size() > 0 {
		if err := checkHeader(f); err != nil {
			return fail(fmt.Errorf("%s: %w", path, err))
		}
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		wide = perm
	}
	return f, created, wide, nil
}

// checkHeader reads the SQLite header of f and accepts only a segloop
// database. (Open writes the application_id before anything else, so a new
// database that crashed before its schema was made still carries it.)
func checkHeader(f *os.File) error {
	var head [100]byte
	if _, err := f.ReadAt(head[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: too short for a SQLite database", ErrNotStore)
		}
		return err
	}
	if !bytes.Equal(head[:16], []byte(sqliteMagic)) {
		return fmt.Errorf("%w: not a SQLite database", ErrNotStore)
	}
	id := uint32(head[68])<<24 | uint32(head[69])<<16 | uint32(head[70])<<8 | uint32(head[71])
	if id != applicationID {
		return fmt.Errorf("%w: a SQLite database of another application (application_id %#x)", ErrNotStore, id)
	}
	return nil
}
