package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"

	"github.com/segloop/segloop/segment/segmenttest"
)

// These tests run the command over the inputs beyond plain files:
// compressed files and streams, Parquet, and database queries
// (postgres_test.go, sqlite_test.go).

func gzipped(t *testing.T, data string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(data))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstded(t *testing.T, data string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, err := zstd.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write([]byte(data))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func genNDJSON(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"u%d","email":"user%d@example.com","seats":%d}`+"\n", i, i, i%7)
	}
	return b.String()
}

// TestImportCompressed: gzip and zstd files, and gzip on stdin, are read
// as the format inside, every item delivered once.
func TestImportCompressed(t *testing.T) {
	const n = 300
	dir := t.TempDir()
	csvGz := filepath.Join(dir, "users.csv.gz")
	ndZst := filepath.Join(dir, "users.ndjson.zst")
	os.WriteFile(csvGz, gzipped(t, genCSV(n)), 0o600)
	os.WriteFile(ndZst, zstded(t, genNDJSON(n)), 0o600)
	tests := []struct {
		name  string
		stdin []byte
		args  []string
		line  int // the line of item 0
	}{
		{"csv.gz", nil, []string{csvGz}, 2},
		{"ndjson.zst", nil, []string{ndZst}, 1},
		{"gzip on stdin", gzipped(t, genCSV(n)), []string{"--format", "csv", "-"}, 2},
		{"zstd on stdin", zstded(t, genNDJSON(n)), []string{"--format", "ndjson", "-"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, segmenttest.Options{})
			r := runCLI(t, context.Background(), bytes.NewReader(tt.stdin), importArgs(srv.URL, append([]string{"--batch", "50"}, tt.args...)...)...)
			if r.code != exitOK {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			lines := parseResults(t, r.stdout)
			if len(lines) != n || byStatus(lines)["ok"] != n {
				t.Fatalf("%d results %v, want %d ok", len(lines), byStatus(lines), n)
			}
			for _, l := range lines {
				if l.Line != int(l.Index)+tt.line || l.UserID != fmt.Sprintf("u%d", l.Index) {
					t.Fatalf("result %+v: line or user wrong", l)
				}
			}
			if st := srv.Stats(); st.Unique != n || st.Duplicates != 0 {
				t.Fatalf("server: %d unique, %d duplicates; want %d, 0", st.Unique, st.Duplicates, n)
			}
		})
	}
	t.Run("a corrupt gzip file aborts after the items before the fault", func(t *testing.T) {
		data := gzipped(t, genCSV(n))
		bad := filepath.Join(t.TempDir(), "cut.csv.gz")
		os.WriteFile(bad, data[:len(data)/2], 0o600)
		r := runCLI(t, context.Background(), nil, "import", "--dry-run", "--quiet", bad)
		if r.code != exitAborted || !strings.Contains(r.stderr, "gzip input") {
			t.Fatalf("exit %d, want 3 naming the gzip fault\n%s", r.code, r.stderr)
		}
		if lines := parseResults(t, r.stdout); len(lines) == 0 || len(lines) >= n {
			t.Fatalf("%d results, want those of the rows before the cut", len(lines))
		}
	})
}

type pqAddress struct {
	City string `parquet:"city"`
}

type pqUser struct {
	ID      string     `parquet:"id"`
	Email   *string    `parquet:"email,optional"`
	Seats   int32      `parquet:"seats"`
	Active  bool       `parquet:"active"`
	Created time.Time  `parquet:"created,timestamp(millisecond)"`
	Tags    []string   `parquet:"tags,list"`
	Address *pqAddress `parquet:"address,optional"`
}

// writeParquet writes n users: every 50th has no email (NULL), every 100th
// (from 7) an invalid one; row groups of 128 rows.
func writeParquet(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := parquet.NewGenericWriter[pqUser](f, parquet.MaxRowsPerRowGroup(128))
	for i := range n {
		u := pqUser{ID: fmt.Sprintf("u%d", i), Seats: int32(i % 9), Active: i%2 == 0,
			Created: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
			Tags:    []string{"a", fmt.Sprint(i)}}
		switch {
		case i%100 == 7:
			u.Email = new("not-an-email")
		case i%50 != 0:
			u.Email = new(fmt.Sprintf("user%d@example.com", i))
		}
		if i%3 == 0 {
			u.Address = &pqAddress{City: "Lyon"}
		}
		if _, err := w.Write([]pqUser{u}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// traitsOf decodes the traits of each delivered event, numbers as
// json.Number, by userId.
func traitsOf(t *testing.T, srv *segmenttest.Server) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, e := range srv.Events() {
		var ev struct {
			Traits map[string]any `json:"traits"`
		}
		dec := json.NewDecoder(bytes.NewReader(e.Raw))
		dec.UseNumber()
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("event %s: %v", e.Raw, err)
		}
		out[e.UserID] = ev.Traits
	}
	return out
}

// TestImportParquet: a Parquet file's rows reach Segment with their types
// (numbers, booleans, timestamps, lists, nested objects; NULL absent); the
// failed rows go to a JSON Lines file that re-runs as is, with their
// messageIds.
func TestImportParquet(t *testing.T) {
	const n = 400
	dir := t.TempDir()
	file := filepath.Join(dir, "users.parquet")
	writeParquet(t, file, n)
	failed := filepath.Join(dir, "failed.ndjson")
	srv := newServer(t, segmenttest.Options{})
	r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--failed", failed, file)...)
	if r.code != exitIncomplete {
		t.Fatalf("exit %d, want 1 (some rows invalid)\n%s", r.code, r.stderr)
	}
	lines := parseResults(t, r.stdout)
	if got := byStatus(lines); len(lines) != n || got["invalid"] != n/100 || got["ok"] != n-n/100 {
		t.Fatalf("%d results %v, want %d ok and %d invalid", len(lines), got, n-n/100, n/100)
	}
	for _, l := range lines {
		if l.Line != int(l.Index)+1 {
			t.Fatalf("result %+v: line is not the row number", l)
		}
	}
	traits := traitsOf(t, srv)
	u3 := traits["u3"]
	if u3["seats"] != json.Number("3") || u3["active"] != false || u3["created"] != "2024-05-01T12:00:03.000Z" ||
		u3["email"] != "user3@example.com" || fmt.Sprint(u3["tags"]) != "[a 3]" || fmt.Sprint(u3["address"]) != "map[city:Lyon]" {
		t.Fatalf("u3's traits lost their types: %#v", u3)
	}
	if _, ok := traits["u50"]["email"]; ok {
		t.Fatalf("a NULL email reached Segment: %#v", traits["u50"])
	}
	if _, ok := traits["u4"]["address"]; ok {
		t.Fatalf("a NULL group reached Segment: %#v", traits["u4"])
	}

	// The failed file: one JSON object per invalid row, its fields typed.
	data, err := os.ReadFile(failed)
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(rows) != n/100 {
		t.Fatalf("failed file has %d lines, want %d:\n%s", len(rows), n/100, data)
	}
	want := `{"active":false,"created":"2024-05-01T12:00:07.000Z","email":"not-an-email","id":"u7","seats":7,"tags":["a","7"],"_status":"invalid","_error":`
	if !strings.Contains(string(data), "\n"+want) && !strings.HasPrefix(string(data), want) {
		t.Fatalf("failed rows\n%s\nwant one to start\n%s", data, want)
	}
	ids := map[string]string{} // userId -> _messageId
	for _, row := range rows {
		var v struct {
			ID        string `json:"id"`
			MessageID string `json:"_messageId"`
		}
		json.Unmarshal([]byte(row), &v)
		ids[v.ID] = v.MessageID
	}
	fixed := filepath.Join(dir, "fixed.ndjson")
	os.WriteFile(fixed, bytes.ReplaceAll(data, []byte("not-an-email"), []byte("fixed@example.com")), 0o600)
	again := runCLI(t, context.Background(), nil, importArgs(srv.URL, fixed)...)
	if again.code != exitOK {
		t.Fatalf("re-run of the fixed failed file: exit %d\n%s", again.code, again.stderr)
	}
	for _, l := range parseResults(t, again.stdout) {
		if want := ids[l.UserID]; want != "" && l.MessageID != want {
			t.Fatalf("re-run sent %s under %s, not its _messageId %s", l.UserID, l.MessageID, want)
		}
	}
	if u7 := traitsOf(t, srv)["u7"]; u7["seats"] != json.Number("7") || u7["email"] != "fixed@example.com" || fmt.Sprint(u7["tags"]) != "[a 7]" {
		t.Fatalf("the re-run lost the types: %#v", u7)
	}

	t.Run("named by --format", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "export.bin")
		writeParquet(t, other, 5)
		r := runCLI(t, context.Background(), nil, "import", "--dry-run", "--quiet", "--format", "parquet", other)
		if r.code != exitOK || len(parseResults(t, r.stdout)) != 5 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
	})
	for _, tc := range []struct {
		name  string
		stdin []byte
		args  []string
		want  string
	}{
		{"stdin", data, []string{"--format", "parquet", "-"}, "standard input and pipes cannot be read as Parquet"},
		{"a failed file named .parquet", nil, []string{"--failed", filepath.Join(t.TempDir(), "failed.parquet"), file}, "written as JSON Lines"},
		{"compressed", nil, []string{writeFile(t, "x.parquet.gz", "x")}, "Parquet compresses its own pages"},
		{"delimiter", nil, []string{"--delimiter", ";", file}, "CSV input only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, context.Background(), bytes.NewReader(tc.stdin), append([]string{"import", "--dry-run", "--quiet"}, tc.args...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, want 2 saying %q\n%s", r.code, tc.want, r.stderr)
			}
		})
	}
}

// TestProcessCompressedStdin: the real binary reads gzip from a pipe on
// stdin, and refuses Parquet from one (exit 2).
func TestProcessCompressedStdin(t *testing.T) {
	const n = 1000
	c := startChildWith(t, func(cmd *exec.Cmd) { cmd.Stdin = bytes.NewReader(gzipped(t, genCSV(n))) },
		"import", "--dry-run", "--quiet", "--format", "csv", "-")
	if code := c.wait(t); code != exitOK {
		t.Fatalf("exit %d\n%s", code, c.stderr.String())
	}
	if lines := parseResults(t, c.stdout.String()); len(lines) != n || byStatus(lines)["ok"] != n {
		t.Fatalf("%d results %v, want %d ok", len(lines), byStatus(lines), n)
	}
	file := filepath.Join(t.TempDir(), "users.parquet")
	writeParquet(t, file, 10)
	data, _ := os.ReadFile(file)
	c = startChildWith(t, func(cmd *exec.Cmd) { cmd.Stdin = bytes.NewReader(data) }, "import", "--dry-run", "--quiet", "--format", "parquet", "-")
	if code := c.wait(t); code != exitUsage || !strings.Contains(c.stderr.String(), "cannot be read as Parquet") {
		t.Fatalf("Parquet from a pipe: exit %d, want 2\n%s", code, c.stderr.String())
	}
	redirected, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer redirected.Close()
	c = startChildWith(t, func(cmd *exec.Cmd) { cmd.Stdin = redirected }, "import", "--dry-run", "--quiet", "--format", "parquet", "-")
	if code := c.wait(t); code != exitIncomplete || len(parseResults(t, c.stdout.String())) != 10 {
		t.Fatalf("Parquet from stdin redirected from the file: exit %d, want 1 (one invalid row)\n%s", code, c.stderr.String())
	}
}
