package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// clientTimeout bounds one client process; a run that takes longer is
// killed and reported as an error.
const clientTimeout = 10 * time.Minute

// outputLimit is how much of a child's stdout and stderr is kept.
const outputLimit = 1 << 20

// usage is what one client process cost, from the kernel's accounting.
type usage struct {
	Wall      time.Duration // from start to exit, as seen by the bench
	CPU       time.Duration // user + system time of the process
	MaxRSSKiB int64         // peak resident set size (Linux reports KiB)
	ExitCode  int           // -1 when killed by a signal
	Stdout    []byte        // the first outputLimit bytes of stdout
	Stderr    []byte        // the first outputLimit bytes of stderr
}

// runMeasured runs bin with args to completion and measures it. A non-zero
// exit code is not an error (the caller judges it); failing to start, or
// running past clientTimeout, is.
func runMeasured(ctx context.Context, bin string, args ...string) (usage, error) {
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	var stdout, stderr capped
	stdout.limit, stderr.limit = outputLimit, outputLimit
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return usage{}, fmt.Errorf("starting %s: %w", bin, err)
	}
	waitErr := cmd.Wait()
	u := usage{Wall: time.Since(start), Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if cmd.ProcessState == nil {
		return u, fmt.Errorf("running %s: %w", bin, waitErr)
	}
	u.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	u.ExitCode = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		u.MaxRSSKiB = ru.Maxrss
	}
	if ctx.Err() != nil {
		return u, fmt.Errorf("running %s: %w", bin, context.Cause(ctx))
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return u, fmt.Errorf("running %s: %w", bin, waitErr)
	}
	return u, nil
}

// capped is a bytes.Buffer that keeps only its first limit bytes and
// silently discards the rest, so a chatty child cannot grow the bench.
type capped struct {
	bytes.Buffer
	limit int
}

// Write implements io.Writer; it never fails.
func (c *capped) Write(p []byte) (int, error) {
	if room := c.limit - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
