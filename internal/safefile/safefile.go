// Package safefile opens the files of a run so that no output is, by any
// name, one of the run's inputs or another of its outputs, and so that no
// file is truncated before every check has passed.
//
// Files are told apart by identity (device and inode, as os.SameFile
// compares them) after following links, never by their names: a hard link, a
// symlink, a name through a symlinked directory, "..", and /dev/fd/N or
// /proc/self/fd/N names all reach the same file. Character devices
// (/dev/null, a terminal) may be named any number of times: writing to them
// destroys nothing.
//
// A run registers its inputs, checks its outputs' names early, creates them,
// and commits once all are open:
//
//	var files safefile.Set
//	_ = files.Input("the input", in)          // an open *os.File, or InputPath for a name
//	err := files.Check("--results", results)  // before anything is written anywhere
//	out, err := files.Create(ctx, "--results", results) // opened, not yet truncated
//	err = files.Commit()                      // every check passed: truncate the outputs
//	// ... write out ...
//
// Outputs are opened write-only (a FIFO opened read-write would hold its own
// read end and never let its reader see the end), through symlinks (the
// link is kept and its target written), and created 0600 (they hold user
// data). Opening a FIFO waits for its other end, as the kernel wants, but
// gives up when the context ends.
//
// A Set is not safe for concurrent use.
package safefile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Perm is the mode of the files Create creates: their owner's only.
const Perm fs.FileMode = 0o600

// ErrSameFile is matched by errors.Is for every *SameFileError.
var ErrSameFile = errors.New("safefile: one file by two names")

// SameFileError reports that the file Name given for Role is the file that
// OtherName already is for OtherRole.
type SameFileError struct {
	Role, Name           string // the file refused: "--failed", "f.csv"
	OtherRole, OtherName string // the file it is: "the input", "in.csv"
}

// Error says which two names are one file, for example
// "--failed f.csv is the same file as the input in.csv: refusing to write to it".
func (e *SameFileError) Error() string {
	return fmt.Sprintf("%s %s is the same file as %s %s: refusing to write to it", e.Role, e.Name, e.OtherRole, e.OtherName)
}

// Is reports whether target is ErrSameFile.
func (e *SameFileError) Is(target error) bool { return target == ErrSameFile }

// Set is the files of one run, by identity. The zero value is an empty set,
// ready to use.
type Set struct {
	files   []member   // inputs, and outputs opened
	checked []member   // outputs checked by name, not opened yet
	pending []*os.File // outputs opened by Create, truncated by Commit
}

// member is one file of the set. path is set for an output checked by name
// that does not exist yet: the cleaned absolute path its creation would
// make; info is nil then.
type member struct {
	role, name string
	info       fs.FileInfo
	path       string
}

// Input adds the open file f, an input of the run, under role ("the input",
// "--map"). name is how the user called it, for messages.
func (s *Set) Input(role, name string, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s %s: %w", role, name, err)
	}
	s.files = append(s.files, member{role: role, name: name, info: fi})
	return nil
}

// InputPath adds the file at name, an input the caller reads by name.
func (s *Set) InputPath(role, name string) error {
	fi, err := statName(name)
	if err != nil {
		return fmt.Errorf("%s %s: %w", role, name, err)
	}
	s.files = append(s.files, member{role: role, name: name, info: fi})
	return nil
}

// Output adds an output the caller opened itself (info is its f.Stat()), such
// as a checkpoint, after checking that it is none of the files already in the
// set. It returns a *SameFileError otherwise.
func (s *Set) Output(role, name string, info fs.FileInfo) error {
	if err := s.conflict(role, name, info); err != nil {
		return err
	}
	s.opened(role)
	s.files = append(s.files, member{role: role, name: name, info: info})
	return nil
}

// Check refuses, with a *SameFileError, an output name that is a file already
// in the set, or that another checked output is or would create. It opens
// nothing, so it can run before any file is written. Create checks again on
// the open file.
func (s *Set) Check(role, name string) error {
	fi, err := statName(name)
	switch {
	case err == nil:
		if err := s.conflict(role, name, fi); err != nil {
			return err
		}
		s.checked = append(s.checked, member{role: role, name: name, info: fi})
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %s: %w", role, name, err)
	}
	path := plannedPath(name)
	for _, m := range s.checked {
		if m.path == path && m.role != role {
			return &SameFileError{Role: role, Name: name, OtherRole: m.role, OtherName: m.name}
		}
	}
	s.checked = append(s.checked, member{role: role, name: name, path: path})
	return nil
}

// Create opens name for writing as the output role: write-only, through
// symlinks, created with mode Perm if it does not exist, and without
// truncating it. Then it checks the open file against the set, refusing with
// a *SameFileError a file already in it (and removing the file again if
// Create made it). Commit truncates the outputs once all are open.
//
// /dev/stdout, /dev/stderr, /dev/fd/N and /proc/self/fd/N name a descriptor
// of this process: it is duplicated, never reopened, so whatever it is (a
// pipe, a file opened for appending) is written where it stands and is not
// truncated. Opening a FIFO waits for its reader until ctx ends.
func (s *Set) Create(ctx context.Context, role, name string) (*os.File, error) {
	f, created, err := openOutput(ctx, name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := s.conflict(role, name, fi); err != nil {
		f.Close()
		if created {
			removeIfSame(name, fi)
		}
		return nil, err
	}
	s.opened(role)
	s.files = append(s.files, member{role: role, name: name, info: fi})
	if fi.Mode().IsRegular() && !created && !isDescriptorName(name) {
		s.pending = append(s.pending, f)
	}
	return f, nil
}

// Commit truncates every regular file Create opened by name: the outputs
// start empty. Call it once every output is open and every check has passed.
func (s *Set) Commit() error {
	for _, f := range s.pending {
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("truncate %s: %w", f.Name(), err)
		}
	}
	s.pending = nil
	return nil
}

// conflict returns a *SameFileError when info is a file already in the set,
// or one that another role's output was checked as.
func (s *Set) conflict(role, name string, info fs.FileInfo) error {
	if info.Mode()&fs.ModeCharDevice != 0 {
		return nil // /dev/null, a terminal: any number of names may write there
	}
	for _, m := range s.files {
		if os.SameFile(m.info, info) {
			return &SameFileError{Role: role, Name: name, OtherRole: m.role, OtherName: m.name}
		}
	}
	for _, m := range s.checked {
		if m.info != nil && m.role != role && os.SameFile(m.info, info) {
			return &SameFileError{Role: role, Name: name, OtherRole: m.role, OtherName: m.name}
		}
	}
	return nil
}

// opened forgets what role was checked as: it is open now, and what Check
// saw may be stale (a file replaced by a rename frees its inode, which a new
// file may get).
func (s *Set) opened(role string) {
	s.checked = slices.DeleteFunc(s.checked, func(m member) bool { return m.role == role })
}

// statName is os.Stat (links followed), and fstat for descriptor names.
func statName(name string) (fs.FileInfo, error) {
	if fd, ok := descriptor(name); ok {
		return fstat(fd, name)
	}
	return os.Stat(name)
}

// plannedPath is the cleaned absolute path that creating name would make,
// with the links of its directory followed.
func plannedPath(name string) string {
	abs, err := filepath.Abs(name)
	if err != nil {
		return name
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(dir, filepath.Base(abs))
	}
	return abs
}

// removeIfSame removes name if it is still the file fi describes.
func removeIfSame(name string, fi fs.FileInfo) {
	if now, err := os.Stat(name); err == nil && os.SameFile(now, fi) {
		_ = os.Remove(name)
	}
}
