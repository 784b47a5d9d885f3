package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/loop"
)

// resultWriter writes one NDJSON line per item result:
//
//	{"index":0,"line":2,"userId":"u1","messageId":"…","status":"ok","success":true,"attempts":1,"httpStatus":200,"durationMs":12}
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
	w.b = appendResult(w.b[:0], r)
	if _, err := w.buf.Write(w.b); err != nil {
		return err
	}
	if now := time.Now(); now.Sub(w.flushed) >= resultFlushEvery {
		w.flushed = now
		return w.buf.Flush()
	}
	return nil
}

// Close flushes the lines and closes the output, reporting the first error.
func (w *resultWriter) Close() error {
	err := w.buf.Flush()
	if cerr := w.w.Close(); err == nil {
		err = cerr
	}
	return err
}

// appendResult appends r as one JSON line.
func appendResult(b []byte, r segloop.Result) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, r.Index, 10)
	b = append(b, `,"line":`...)
	b = strconv.AppendInt(b, int64(r.Line), 10)
	b = append(b, `,"userId":`...)
	b = appendJSONString(b, r.UserID)
	if r.MessageID != "" {
		b = append(b, `,"messageId":`...)
		b = appendJSONString(b, r.MessageID)
	}
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(r.Status))
	b = append(b, `,"success":`...)
	b = strconv.AppendBool(b, r.Status == loop.StatusOK || r.Status == loop.StatusSkipped)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(r.Attempts), 10)
	if r.Code != 0 {
		b = append(b, `,"httpStatus":`...)
		b = strconv.AppendInt(b, int64(r.Code), 10)
	}
	if r.Status == loop.StatusOK || r.Status == loop.StatusFailed {
		b = append(b, `,"durationMs":`...)
		b = strconv.AppendInt(b, r.Duration.Milliseconds(), 10)
	}
	if r.Err != nil {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, r.Err.Error())
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string. Plain printable ASCII, the
// common case, is copied as is; anything else goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// createOutput creates the named output file, or returns stdout (never
// closed) when name is empty.
func createOutput(name string, stdout io.Writer) (io.WriteCloser, error) {
	if name == "" || name == "-" {
		return nopCloser{stdout}, nil
	}
	return os.Create(name)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
