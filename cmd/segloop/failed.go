package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/source"
)

// failedWriter writes the failed and invalid items back out in the input's
// own format, with _status, _error and _messageId added, so the file can be
// fixed and re-run as is: the default mapping ignores columns that start with
// "_", and a re-run sends each item under its _messageId, so an item that
// Segment did accept before its answer was lost is deduplicated, not doubled.
// It is not safe for concurrent use.
type failedWriter struct {
	w      io.WriteCloser
	buf    *bufio.Writer
	format source.Format
	n      int // items written

	// CSV
	csv    *csv.Writer
	header []string // the input's header
	keep   []int    // positions of the input's columns that are copied (not _status/_error)
	row    []string
}

// newFailedWriter writes to w in format; for CSV, src gives the header and
// delimiter is the input's (0 for the format's default).
func newFailedWriter(w io.WriteCloser, format source.Format, delimiter rune, src source.Reader) *failedWriter {
	fw := &failedWriter{w: w, buf: bufio.NewWriter(w), format: format}
	if isCSV(format) {
		fw.format = source.CSV
		fw.csv = csv.NewWriter(fw.buf)
		if h, ok := src.(interface{ Header() []string }); ok {
			fw.header = h.Header()
		}
		switch {
		case delimiter != 0:
			fw.csv.Comma = delimiter
		case format == source.TSV:
			fw.csv.Comma = '\t'
		}
	}
	return fw
}

// Write writes r's item.
func (w *failedWriter) Write(r segloop.Result) error {
	defer func() { w.n++ }()
	msg := ""
	if r.Err != nil {
		msg = r.Err.Error()
	}
	switch w.format {
	case source.CSV:
		return w.writeCSV(r, msg)
	case source.JSON:
		sep := ",\n"
		if w.n == 0 {
			sep = "[\n"
		}
		w.buf.WriteString(sep)
		_, err := w.buf.Write(jsonWithStatus(r.Raw, string(r.Status), msg, r.MessageID))
		return err
	default:
		w.buf.Write(jsonWithStatus(r.Raw, string(r.Status), msg, r.MessageID))
		return w.buf.WriteByte('\n')
	}
}

func (w *failedWriter) writeCSV(r segloop.Result, msg string) error {
	if w.n == 0 {
		if len(w.header) == 0 {
			w.header = make([]string, len(r.Cells))
		}
		out := make([]string, 0, len(w.header)+2)
		for i, h := range w.header {
			if !isStatusColumn(h) {
				w.keep = append(w.keep, i)
				out = append(out, h)
			}
		}
		if err := w.csv.Write(append(out, "_status", "_error", "_messageId")); err != nil {
			return err
		}
	}
	w.row = w.row[:0]
	if r.Cells == nil && len(r.Raw) > 0 {
		// A row that could not be parsed: its text goes in the first column, as read.
		w.row = append(w.row, string(r.Raw))
		for range len(w.keep) - 1 {
			w.row = append(w.row, "")
		}
		return w.csv.Write(append(w.row, string(r.Status), msg, r.MessageID))
	}
	for _, i := range w.keep {
		cell := ""
		if i < len(r.Cells) {
			cell = r.Cells[i]
		}
		w.row = append(w.row, cell)
	}
	// Cells beyond the header (a ragged row) have no column: the message keeps them,
	// so nothing is lost and the status columns stay aligned.
	if len(r.Cells) > len(w.header) {
		msg += fmt.Sprintf(" (cells beyond the header: %q)", r.Cells[len(w.header):])
	}
	w.row = append(w.row, string(r.Status), msg, r.MessageID)
	return w.csv.Write(w.row)
}

// Close finishes the file and closes it, reporting the first error.
func (w *failedWriter) Close() error {
	var err error
	switch w.format {
	case source.CSV:
		w.csv.Flush()
		err = w.csv.Error()
	case source.JSON:
		if w.n == 0 {
			w.buf.WriteString("[")
		}
		w.buf.WriteString("\n]\n")
	}
	if ferr := w.buf.Flush(); err == nil {
		err = ferr
	}
	if cerr := w.w.Close(); err == nil {
		err = cerr
	}
	return err
}

// statusColumns are the columns and keys a failed-items file adds.
var statusColumns = [...]string{"_status", "_error", "_messageId"}

func isStatusColumn(name string) bool { return slices.Contains(statusColumns[:], name) }

// jsonWithStatus returns the JSON object raw with "_status", "_error" and
// "_messageId" set. An item that is not a JSON object (it failed to parse) is
// wrapped as {"_raw": "...", "_status": ..., "_error": ..., "_messageId": ...}.
func jsonWithStatus(raw []byte, status, msg, messageID string) []byte {
	var obj map[string]json.RawMessage
	raw = bytes.TrimSpace(raw)
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		out, _ := json.Marshal(struct {
			Raw       string `json:"_raw"`
			Status    string `json:"_status"`
			Error     string `json:"_error"`
			MessageID string `json:"_messageId"`
		}{string(raw), status, msg, messageID})
		return out
	}
	fresh := true
	for _, c := range statusColumns {
		if _, ok := obj[c]; ok {
			fresh = false
		}
	}
	if fresh {
		// Keep the item's own key order: splice the fields in before the closing brace.
		out := slices.Clone(raw[:len(raw)-1])
		out = bytes.TrimRight(out, " \t\r\n")
		if len(obj) > 0 {
			out = append(out, ',')
		}
		out = append(out, `"_status":`...)
		out = appendJSONString(out, status)
		out = append(out, `,"_error":`...)
		out = appendJSONString(out, msg)
		out = append(out, `,"_messageId":`...)
		out = appendJSONString(out, messageID)
		return append(out, '}')
	}
	obj["_status"], _ = json.Marshal(status)
	obj["_error"], _ = json.Marshal(msg)
	obj["_messageId"], _ = json.Marshal(messageID)
	out, _ := json.Marshal(obj)
	return out
}
