package main

import (
	"errors"
	"fmt"
)

// Exit codes: a contract with scripts and schedulers (see DESIGN.md).
const (
	exitOK          = 0
	exitIncomplete  = 1 // the run completed; some items are invalid or failed
	exitUsage       = 2 // usage or configuration error; nothing sent
	exitAborted     = 3 // bad write key, unreadable input, failure threshold, unwritable output
	exitInterrupted = 130
)

var (
	// errInterrupted is the cause of a run stopped by SIGINT or SIGTERM.
	errInterrupted = errors.New("interrupted")
	// errReported marks an error whose message was already printed.
	errReported = errors.New("reported")
)

// exitError carries the process exit code for an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError is a bad flag, argument or configuration: exit 2.
func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// withCode attaches an exit code to err.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// exitCode maps run's error to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	if errors.Is(err, errInterrupted) {
		return exitInterrupted
	}
	return exitAborted
}
