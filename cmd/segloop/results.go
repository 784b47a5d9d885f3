package main

import (
	"bufio"
	"io"
	"time"

	"github.com/segloop/segloop"
)

// resultWriter writes one NDJSON line per item result (segloop.Result.AppendJSON).
//
// It is not safe for concurrent use; segloop.Run calls OnResult one at a time.
type resultWriter struct {
	w       io.WriteCloser
	buf     *bufio.Writer
	b       []byte    // the line being built, reused
	flushed time.Time // last flush: lines reach the output at most resultFlushEvery late
}

// resultFlushEvery bounds how long a result line waits in the buffer, so a
// reader of the output (a workflow engine, tail -f) sees results as they come.
const resultFlushEvery = 200 * time.Millisecond

func newResultWriter(w io.WriteCloser) *resultWriter {
	return &resultWriter{w: w, buf: bufio.NewWriterSize(w, 64<<10), flushed: time.Now()}
}

// Write appends r's line. It returns the first write error of the output.
func (w *resultWriter) Write(r segloop.Result) error {
	w.b = r.AppendJSON(w.b[:0])
	if _, err := w.buf.Write(w.b); err != nil {
		return err
	}
	if now := time.Now(); now.Sub(w.flushed) >= resultFlushEvery {
		w.flushed = now
		return w.buf.Flush()
	}
	return nil
}

// Flush writes out the buffered lines.
func (w *resultWriter) Flush() error {
	w.flushed = time.Now()
	return w.buf.Flush()
}

// deadline bounds the writes to the output from now on, where it allows
// one (a pipe or FIFO the runtime polls); elsewhere it does nothing.
func (w *resultWriter) deadline(t time.Time) {
	if d, ok := w.w.(interface{ SetWriteDeadline(time.Time) error }); ok {
		_ = d.SetWriteDeadline(t)
	}
}

// Close flushes the lines and closes the output, reporting the first error.
func (w *resultWriter) Close() error {
	err := w.buf.Flush()
	if cerr := w.w.Close(); err == nil {
		err = cerr
	}
	return err
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
