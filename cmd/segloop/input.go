package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/segloop/segloop/internal/safefile"
	"golang.org/x/term"
)

// input is the run's input, opened so that an interrupt ends any read of it
// within moments, whatever it is: a file, a FIFO or pipe whose writer is
// silent, a terminal, or a device that never ends (/dev/zero).
type input struct {
	io.Reader          // gives up with ctx's cause once ctx ends
	size      int64    // in bytes, or 0 when unknown
	file      *os.File // the file itself, for reading at offsets (Parquet); nil when stdin is no file
	close     func()
}

// openInput opens the input file, or stdin for "-", and adds it to files.
//
// Reads are made to end with ctx in two ways: every Read first checks ctx
// (enough for inputs whose reads return, such as /dev/zero), and inputs whose
// reads wait (pipes, FIFOs, terminals) are made pollable, so that a read
// deadline set when ctx ends wakes the read that waits. A FIFO is opened
// with safefile.Open, which gives up waiting for a writer when ctx ends.
func openInput(ctx context.Context, name string, stdin io.Reader, files *safefile.Set) (*input, error) {
	if name == "-" {
		return openStdin(ctx, stdin, files)
	}
	file, err := safefile.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, err
	}
	if st.IsDir() {
		file.Close()
		return nil, fmt.Errorf("%s is a directory", name)
	}
	if err := files.Input("the input", name, file); err != nil {
		file.Close()
		return nil, err
	}
	size := st.Size()
	if !st.Mode().IsRegular() {
		size = 0
	}
	stop := unblockOnDone(ctx, file)
	return &input{Reader: ctxReader{ctx, file}, size: size, file: file, close: func() { stop(); file.Close() }}, nil
}

// openStdin prepares stdin as the input (see openInput). A pipe is switched
// to non-blocking mode, so the runtime can poll it; a terminal is reopened,
// so that the mode of the shell's own descriptor is left alone.
func openStdin(ctx context.Context, stdin io.Reader, files *safefile.Set) (*input, error) {
	f, ok := stdin.(*os.File)
	if !ok {
		return &input{Reader: ctxReader{ctx, stdin}, close: func() {}}, nil
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stdin: %w", err)
	}
	if err := files.Input("the input", "stdin", f); err != nil {
		return nil, err
	}
	switch {
	case st.Mode()&fs.ModeNamedPipe != 0:
		fd := f.Fd() // (puts it in blocking mode; made pollable below)
		if syscall.SetNonblock(int(fd), true) == nil {
			p := os.NewFile(fd, "stdin")
			stop := unblockOnDone(ctx, p)
			return &input{Reader: ctxReader{ctx, p}, close: func() {
				stop()
				_ = syscall.SetNonblock(int(fd), false) // as it was found
			}}, nil
		}
	case st.Mode()&fs.ModeCharDevice != 0 && term.IsTerminal(int(f.Fd())):
		// Reopening the terminal gives segloop a descriptor of its own,
		// which the runtime polls (and makes non-blocking) without touching
		// the shell's.
		if tty, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", f.Fd())); err == nil {
			stop := unblockOnDone(ctx, tty)
			return &input{Reader: ctxReader{ctx, tty}, close: func() { stop(); tty.Close() }}, nil
		}
	}
	in := &input{Reader: ctxReader{ctx, f}, file: f, close: func() {}}
	if st.Mode().IsRegular() {
		in.size = st.Size() // stdin redirected from a file
	}
	return in, nil
}

// unblockOnDone makes reads of f fail once ctx ends (for files the runtime
// poller handles, such as pipes, FIFOs and terminals; a no-op for regular
// files, whose reads do not wait). The returned func releases it.
func unblockOnDone(ctx context.Context, f *os.File) func() {
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
	return func() { stop() }
}

// ctxReader is a reader that gives up with context.Cause(ctx) once ctx has
// ended, before each read and instead of the deadline error that
// unblockOnDone causes.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	n, err := c.r.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && c.ctx.Err() != nil {
		err = context.Cause(c.ctx)
	}
	return n, err
}
