package segloop_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/source"
)

func TestFailedWriterJSONLines(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{"splice keeps key order", `{"b":1,"a":2}`, `{"b":1,"a":2,"_status":"failed","_error":"e \"x\"","_messageId":"sl-1"}`},
		{"empty object", `{}`, `{"_status":"failed","_error":"e \"x\"","_messageId":"sl-1"}`},
		{"replaces earlier status", `{"id":"u1","_status":"invalid","_error":"old"}`, `{"_error":"e \"x\"","_messageId":"sl-1","_status":"failed","id":"u1"}`},
		{"not an object", `not json`, `{"_raw":"not json","_status":"failed","_error":"e \"x\"","_messageId":"sl-1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			w := segloop.NewFailedWriter(&b, source.NDJSON, 0, nil)
			r := segloop.Result{Status: loop.StatusFailed, Err: errors.New(`e "x"`), MessageID: "sl-1", Raw: []byte(tt.raw)}
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got := strings.TrimSuffix(b.String(), "\n")
			if got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Fatalf("%s is not valid JSON", got)
			}
		})
	}
}

// TestFailedWriterTypedRecords: a Parquet or database row (Fields, no Raw or
// Cells) is written as a JSON object of its fields, types kept, and an item
// nothing of which was kept as an object of the added keys.
func TestFailedWriterTypedRecords(t *testing.T) {
	for _, format := range []source.Format{source.NDJSON, source.JSON} {
		t.Run(string(format), func(t *testing.T) {
			var b strings.Builder
			w := segloop.NewFailedWriter(&b, format, 0, nil)
			rows := []segloop.Result{
				{Status: loop.StatusFailed, Err: errors.New("503"), MessageID: "m1", Fields: map[string]any{
					"id": json.Number("12"), "ok": true, "plan": "a<b&c", "tags": []any{"x", nil}, "meta": map[string]any{"n": json.Number("1.50")},
				}},
				{Status: loop.StatusOK, Fields: map[string]any{"id": json.Number("13")}},
				{Status: loop.StatusInvalid, Err: errors.New("line 3: invalid UTF-8 in column name")},
			}
			for _, r := range rows {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			first := `{"id":12,"meta":{"n":1.50},"ok":true,"plan":"a<b&c","tags":["x",null],"_status":"failed","_error":"503","_messageId":"m1"}`
			second := `{"_status":"invalid","_error":"line 3: invalid UTF-8 in column name","_messageId":""}`
			want := first + "\n" + second + "\n"
			if format == source.JSON {
				want = "[\n" + first + ",\n" + second + "\n]\n"
			}
			if b.String() != want {
				t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
			}
		})
	}
}

func TestFailedWriterSkipsSuccesses(t *testing.T) {
	var b strings.Builder
	w := segloop.NewFailedWriter(&b, source.CSV, ';', []string{"id", "_status", "plan"})
	for _, r := range []segloop.Result{
		{Status: loop.StatusOK, Cells: []string{"u1", "", "pro"}},
		{Status: loop.StatusSkipped, Cells: []string{"u2", "", "pro"}},
		{Status: loop.StatusInvalid, Cells: []string{"u3", "old", "free"}, Err: errors.New("bad"), MessageID: "m3"},
	} {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "id;plan;_status;_error;_messageId\nu3;free;invalid;bad;m3\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

func TestResultLine(t *testing.T) {
	tests := []struct {
		name string
		r    segloop.Result
		want string
	}{
		{"ok", segloop.Result{Index: 0, Line: 2, UserID: "u1", MessageID: "sl-1", Status: loop.StatusOK, Attempts: 1, Code: 200},
			`{"index":0,"line":2,"userId":"u1","messageId":"sl-1","status":"ok","success":true,"attempts":1,"httpStatus":200,"durationMs":0}`},
		{"invalid", segloop.Result{Index: 3, Line: 5, Status: loop.StatusInvalid, Err: errors.New("userId is required")},
			`{"index":3,"line":5,"userId":"","status":"invalid","success":false,"attempts":0,"error":"userId is required"}`},
		{"skipped", segloop.Result{Index: 4, Line: 6, UserID: "ü\"<", MessageID: "m", Status: loop.StatusSkipped},
			`{"index":4,"line":6,"userId":"ü\"\u003c","messageId":"m","status":"skipped","success":true,"attempts":0}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(tt.r.AppendJSON([]byte("x")))
			if got != "x"+tt.want+"\n" {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			m, _ := json.Marshal(tt.r)
			if string(m) != tt.want {
				t.Fatalf("MarshalJSON = %s, want %s", m, tt.want)
			}
		})
	}
}
