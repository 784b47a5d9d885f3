package segloop

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/source"
)

// Columns (CSV) and keys (JSON) a failed-items file adds to each item. A run
// over such a file sends each item under its resentMessageID, so that an item
// Segment accepted after all (its answer was lost) is deduplicated, not
// doubled; the default mapping ignores every column that starts with "_".
const (
	failedStatus    = "_status"
	failedError     = "_error"
	resentMessageID = "_messageId"
)

var failedColumns = [...]string{failedStatus, failedError, resentMessageID}

func isFailedColumn(name string) bool { return slices.Contains(failedColumns[:], name) }

// FailedWriter writes the failed and invalid items of a run back out in the
// input's own format (CSV with its delimiter, a JSON array, JSON Lines) with
// _status, _error and _messageId added, so the file can be fixed and run
// again as it is. The items need their source (Config.KeepSource).
//
// Inputs whose own format cannot be written back (Parquet, a database query)
// give typed records (Result.Fields): give such a writer source.NDJSON, and
// each item becomes one JSON object of its fields (numbers exact, nested
// values as they were read, keys sorted), which segloop reads back with the
// same types and the same mapping. An item with no source kept (one that
// could not be read) is written as an object of the three added keys only.
//
// A FailedWriter is not safe for concurrent use; Run's OnResult calls are
// one at a time.
type FailedWriter struct {
	buf    *bufio.Writer
	format source.Format
	n      int // items written

	fields bytes.Buffer  // a typed record's fields as JSON
	enc    *json.Encoder // writes to fields

	// CSV
	csv    *csv.Writer
	header []string // the input's header
	keep   []int    // positions of the input's columns copied (not the failed columns)
	row    []string
}

// NewFailedWriter returns a writer of the failed items of an input in format
// to w. For CSV and TSV, header is the input's header row (nil: unknown,
// columns are numbered) and delimiter its delimiter (0: the format's own).
func NewFailedWriter(w io.Writer, format source.Format, delimiter rune, header []string) *FailedWriter {
	fw := &FailedWriter{buf: bufio.NewWriter(w), format: format, header: header}
	if format == source.CSV || format == source.TSV {
		fw.format = source.CSV
		fw.csv = csv.NewWriter(fw.buf)
		switch {
		case delimiter != 0:
			fw.csv.Comma = delimiter
		case format == source.TSV:
			fw.csv.Comma = '\t'
		}
	}
	return fw
}

// Write writes r's item if it failed or is invalid, and ignores it
// otherwise. It returns the first write error.
func (w *FailedWriter) Write(r Result) error {
	if r.Status != loop.StatusFailed && r.Status != loop.StatusInvalid {
		return nil
	}
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
		_, err := w.buf.Write(jsonWithStatus(w.object(r), string(r.Status), msg, r.MessageID))
		return err
	default:
		w.buf.Write(jsonWithStatus(w.object(r), string(r.Status), msg, r.MessageID))
		return w.buf.WriteByte('\n')
	}
}

// object returns r's item as JSON: its bytes as read, or a typed record's
// fields encoded ({} when nothing of the item was kept).
func (w *FailedWriter) object(r Result) []byte {
	if r.Raw != nil || r.Cells != nil {
		return r.Raw
	}
	if r.Fields == nil {
		return []byte("{}")
	}
	if w.enc == nil {
		w.enc = json.NewEncoder(&w.fields)
		w.enc.SetEscapeHTML(false) // the values as they were: <, > and & unescaped
	}
	w.fields.Reset()
	if err := w.enc.Encode(r.Fields); err != nil {
		// Fields hold only what JSON carries (readers give json.Number, not
		// floats): this is a value no reader makes. Keep the message.
		out, _ := json.Marshal(map[string]string{"_raw": fmt.Sprint(r.Fields)})
		return out
	}
	return w.fields.Bytes()
}

func (w *FailedWriter) writeCSV(r Result, msg string) error {
	if w.n == 0 {
		if len(w.header) == 0 {
			w.header = make([]string, len(r.Cells))
		}
		out := make([]string, 0, len(w.header)+len(failedColumns))
		for i, h := range w.header {
			if !isFailedColumn(h) {
				w.keep = append(w.keep, i)
				out = append(out, h)
			}
		}
		if err := w.csv.Write(append(out, failedColumns[:]...)); err != nil {
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

// Close finishes the file (a JSON array's closing bracket) and flushes it;
// it does not close the underlying writer. It reports the first error.
func (w *FailedWriter) Close() error {
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
	return err
}

// jsonWithStatus returns the JSON object raw with _status, _error and
// _messageId set. An item that is not a JSON object (it failed to parse) is
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
	for _, c := range failedColumns {
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
		out = appendField(out, failedStatus, status)
		out = append(out, ',')
		out = appendField(out, failedError, msg)
		out = append(out, ',')
		out = appendField(out, resentMessageID, messageID)
		return append(out, '}')
	}
	obj[failedStatus], _ = json.Marshal(status)
	obj[failedError], _ = json.Marshal(msg)
	obj[resentMessageID], _ = json.Marshal(messageID)
	out, _ := json.Marshal(obj)
	return out
}

func appendField(b []byte, key, value string) []byte {
	b = segment.AppendJSONString(b, key)
	b = append(b, ':')
	return segment.AppendJSONString(b, value)
}
