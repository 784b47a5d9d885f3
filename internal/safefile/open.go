package safefile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Open opens name for reading, like os.Open, except that opening a FIFO
// (which waits for a writer) gives up with context.Cause(ctx) when ctx ends.
// The file is pollable where the system allows it (pipes, FIFOs, terminals),
// so a read deadline can end a read that waits.
func Open(ctx context.Context, name string) (*os.File, error) {
	if st, err := os.Stat(name); err == nil && st.Mode()&fs.ModeNamedPipe != 0 {
		return openFIFO(ctx, name, os.O_RDONLY)
	}
	return os.Open(name)
}

// openOutput opens name write-only without truncating it, creating it with
// mode Perm when it does not exist; created reports that it did.
func openOutput(ctx context.Context, name string) (f *os.File, created bool, err error) {
	if fd, ok := descriptor(name); ok {
		f, err := dupForWriting(fd, name)
		return f, false, err
	}
	if st, err := os.Stat(name); err == nil && st.Mode()&fs.ModeNamedPipe != 0 {
		f, err := openFIFO(ctx, name, os.O_WRONLY)
		return f, false, err
	}
	f, err = os.OpenFile(name, os.O_WRONLY, 0)
	if !errors.Is(err, fs.ErrNotExist) {
		return f, false, err
	}
	f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, Perm)
	if errors.Is(err, fs.ErrExist) {
		// A dangling symlink (O_EXCL does not follow it): create its target.
		f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE, Perm)
		return f, false, err
	}
	return f, err == nil, err
}

// openFIFO opens the FIFO name with flag (os.O_RDONLY or os.O_WRONLY), which
// waits until the FIFO has its other end. When ctx ends first, it becomes
// that other end until the waiting open returns (a FIFO opened read-write
// never waits, and is both ends), closes both and returns
// context.Cause(ctx).
func openFIFO(ctx context.Context, name string, flag int) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() { // owned: openFIFO waits for it, unless the release below fails
		f, err := os.OpenFile(name, flag, 0)
		ch <- opened{f, err}
	}()
	select {
	case o := <-ch:
		return o.f, o.err
	case <-ctx.Done():
	}
	release, err := os.OpenFile(name, os.O_RDWR|syscall.O_NONBLOCK, 0)
	if err != nil {
		// Not a FIFO any more, or no waiter to meet: the goroutine's open
		// ends (or is left to end) on its own; its file, if any, leaks.
		return nil, context.Cause(ctx)
	}
	o := <-ch
	release.Close()
	if o.f != nil {
		o.f.Close()
	}
	return nil, context.Cause(ctx)
}

// descriptor reports whether name names a descriptor of this process:
// /dev/stdout, /dev/stderr, /dev/fd/N or /proc/self/fd/N.
func descriptor(name string) (int, bool) {
	switch name {
	case "/dev/stdout":
		return 1, true
	case "/dev/stderr":
		return 2, true
	}
	for _, prefix := range []string{"/dev/fd/", "/proc/self/fd/"} {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			if fd, err := strconv.Atoi(rest); err == nil && fd >= 0 && strconv.Itoa(fd) == rest {
				return fd, true
			}
		}
	}
	return 0, false
}

func isDescriptorName(name string) bool {
	_, ok := descriptor(name)
	return ok
}

// fstat is Stat of descriptor fd of this process.
func fstat(fd int, name string) (fs.FileInfo, error) {
	f, err := dup(fd, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

// dupForWriting duplicates descriptor fd, which must be open for writing.
func dupForWriting(fd int, name string) (*os.File, error) {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if fl&unix.O_ACCMODE == unix.O_RDONLY {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("descriptor %d is open for reading only", fd)}
	}
	return dup(fd, name)
}

// dup returns a duplicate of descriptor fd, close-on-exec, named name.
func dup(fd int, name string) (*os.File, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(nfd), name), nil
}
