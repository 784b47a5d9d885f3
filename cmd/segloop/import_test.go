package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segloop/segloop/segment/segmenttest"
)

// importArgs are the flags every test import shares: the test server, its key,
// no progress display.
func importArgs(srv string, extra ...string) []string {
	return append([]string{"import", "--endpoint", srv, "--write-key", testWriteKey, "--quiet"}, extra...)
}

func TestImportClean(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	file := writeFile(t, "users.csv", genCSV(250))
	r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--batch", "20", file)...)
	if r.code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
	}
	lines := parseResults(t, r.stdout)
	if len(lines) != 250 || byStatus(lines)["ok"] != 250 {
		t.Fatalf("got %d result lines %v, want 250 ok", len(lines), byStatus(lines))
	}
	st := srv.Stats()
	if st.Unique != 250 || st.Duplicates != 0 {
		t.Fatalf("server recorded %d unique, %d duplicates; want 250, 0", st.Unique, st.Duplicates)
	}
	for _, l := range lines {
		if srv.Delivered()[l.MessageID] != 1 || l.HTTPStatus != 200 || !l.Success || l.Line != int(l.Index)+2 {
			t.Fatalf("result %+v not delivered exactly once", l)
		}
	}
	users := map[string]bool{}
	for _, e := range srv.Events() {
		users[e.UserID] = true
		if e.Traits["email"] == nil || e.Traits["plan"] != "pro" {
			t.Fatalf("event %s lacks its traits: %v", e.UserID, e.Traits)
		}
	}
	if len(users) != 250 {
		t.Fatalf("server saw %d distinct users, want 250", len(users))
	}
}

func TestImportSingleEventMode(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	file := writeFile(t, "users.csv", genCSV(30))
	r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--batch", "1", file)...)
	if r.code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
	}
	for _, req := range srv.Requests() {
		if req.Path != "/v1/identify" {
			t.Fatalf("request to %s, want /v1/identify", req.Path)
		}
	}
	if st := srv.Stats(); st.Unique != 30 || st.Requests != 30 {
		t.Fatalf("stats %+v, want 30 requests of 30 unique events", st)
	}
}

func TestImportInvalidRowsAndRerun(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	dir := t.TempDir()
	failed := filepath.Join(dir, "failed.csv")
	results := filepath.Join(dir, "results.ndjson")
	input := writeFile(t, "users.csv", "id,email,plan\nu1,a@example.com,pro\n,b@example.com,free\nu3,not-an-email,pro\nu4,d@example.com,team\n")
	r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--results", results, "--failed", failed, input)...)
	if r.code != exitIncomplete {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	out, _ := os.ReadFile(results)
	lines := parseResults(t, string(out))
	if got := byStatus(lines); len(lines) != 4 || got["ok"] != 2 || got["invalid"] != 2 {
		t.Fatalf("results %v, want 2 ok and 2 invalid", got)
	}
	for _, l := range lines {
		switch l.Index {
		case 1:
			if l.Line != 3 || !strings.Contains(l.Error, "userId") {
				t.Errorf("row without id: %+v", l)
			}
		case 2:
			if l.Line != 4 || !strings.Contains(l.Error, "email") {
				t.Errorf("row with a bad email: %+v", l)
			}
		}
	}
	if st := srv.Stats(); st.Unique != 2 {
		t.Fatalf("server recorded %d events, want the 2 valid ones", st.Unique)
	}
	data, err := os.ReadFile(failed)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if strings.Contains(text+string(out), testWriteKey) {
		t.Fatal("the write key appears in the results or failed file")
	}
	if !strings.HasPrefix(text, "id,email,plan,_status,_error,_messageId\n") || strings.Count(text, "\n") != 3 ||
		!strings.Contains(text, "u3,not-an-email,pro,invalid,") {
		t.Fatalf("failed file:\n%s", text)
	}

	// Fix the failed rows and re-run the file as is: the _ columns are ignored.
	fixed := strings.Replace(strings.Replace(text, "\n,b@example.com", "\nu2,b@example.com", 1), "not-an-email", "c@example.com", 1)
	fixedFile := writeFile(t, "fixed.csv", fixed)
	r = runCLI(t, context.Background(), nil, importArgs(srv.URL, fixedFile)...)
	if r.code != exitOK {
		t.Fatalf("re-run exit code %d; stderr:\n%s\nstdout:\n%s", r.code, r.stderr, r.stdout)
	}
	if st := srv.Stats(); st.Unique != 4 {
		t.Fatalf("server recorded %d unique events after the re-run, want 4", st.Unique)
	}
	for _, e := range srv.Events() {
		for k := range e.Traits {
			if strings.HasPrefix(k, "_") {
				t.Fatalf("event %s carries trait %q from the failed file", e.UserID, k)
			}
		}
	}
}

func TestImportRateLimited(t *testing.T) {
	// Grace: a request already on its way when the 429 was written is not early; 300 ms
	// keeps a loaded CI machine's scheduling out of it, and any client that ignores a
	// whole-second Retry-After still shows.
	srv := newServer(t, segmenttest.Options{Rate: 20, Burst: 5, Grace: 300 * time.Millisecond})
	file := writeFile(t, "users.csv", genCSV(300))
	r := runCLI(t, context.Background(), nil, "import", "--endpoint", srv.URL, "--write-key", testWriteKey, "--batch", "10", "--rate", "200", file)
	if r.code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
	}
	lines := parseResults(t, r.stdout)
	st := srv.Stats()
	if len(lines) != 300 || byStatus(lines)["ok"] != 300 || st.Unique != 300 {
		t.Fatalf("results %v, server unique %d; want all 300 delivered", byStatus(lines), st.Unique)
	}
	if st.Throttled == 0 {
		t.Fatalf("the server never answered 429; the test proves nothing: %+v", st)
	}
	if st.EarlyRequests != 0 {
		t.Fatalf("%d requests arrived inside a Retry-After window", st.EarlyRequests)
	}
	if !strings.Contains(r.stderr, "answered 429") {
		t.Fatalf("summary does not report 429s:\n%s", r.stderr)
	}
}

func TestImportWrongWriteKey(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	file := writeFile(t, "users.csv", genCSV(500))
	r := runCLI(t, context.Background(), nil, "import", "--endpoint", srv.URL, "--write-key", "wrong-key", "--quiet", "--batch", "10", file)
	if r.code != exitAborted {
		t.Fatalf("exit code %d, want 3; stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "401") && !strings.Contains(strings.ToLower(r.stderr), "write key") {
		t.Fatalf("stderr does not explain the refused key:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "wrong-key") || strings.Contains(r.stdout, "wrong-key") {
		t.Fatal("the write key appears in the output")
	}
	lines := parseResults(t, r.stdout)
	if len(lines) == 0 {
		t.Fatal("no results for the rows read")
	}
	for _, l := range lines {
		if l.Status != "failed" {
			t.Fatalf("result %+v, want failed", l)
		}
	}
	if srv.Stats().Unique != 0 {
		t.Fatal("events delivered with a wrong key")
	}
}

func TestImportDryRun(t *testing.T) {
	t.Setenv("SEGMENT_WRITE_KEY", "")
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	file := writeFile(t, "users.csv", genCSV(40)+",nobody@example.com,free\n")
	r := runCLI(t, context.Background(), nil, "import", "--dry-run", "--quiet", "--endpoint", srv.URL, file)
	if r.code != exitIncomplete {
		t.Fatalf("exit code %d, want 1 (one invalid row); stderr:\n%s", r.code, r.stderr)
	}
	if got := byStatus(parseResults(t, r.stdout)); got["ok"] != 40 || got["invalid"] != 1 {
		t.Fatalf("results %v, want 40 ok and 1 invalid", got)
	}
	if hits.Load() != 0 {
		t.Fatalf("a dry run sent %d requests", hits.Load())
	}
}

func TestImportStdin(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	r := runCLI(t, context.Background(), strings.NewReader(genCSV(25)), importArgs(srv.URL, "--format", "csv", "-")...)
	if r.code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
	}
	if n := len(parseResults(t, r.stdout)); n != 25 || srv.Stats().Unique != 25 {
		t.Fatalf("%d results, %d delivered; want 25", n, srv.Stats().Unique)
	}
}

func TestImportJSONWithMapping(t *testing.T) {
	for _, input := range []string{"../../testdata/users.json", "../../testdata/users.ndjson"} {
		t.Run(filepath.Ext(input), func(t *testing.T) {
			srv := newServer(t, segmenttest.Options{})
			r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--map", "../../testdata/users.map.json", input)...)
			if r.code != exitOK {
				t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
			}
			if n := len(parseResults(t, r.stdout)); n != 20 {
				t.Fatalf("%d results, want 20", n)
			}
			events := srv.Events()
			if len(events) != 20 {
				t.Fatalf("%d events delivered, want 20", len(events))
			}
			e := events[0]
			for _, ev := range events {
				if ev.UserID == "u0001" {
					e = ev
				}
			}
			if e.UserID != "u0001" || e.Traits["name"] != "Donald Liskov" || e.Traits["company"] != "Acme" ||
				e.Traits["email"] != "donald.liskov1@example.com" || e.Timestamp == "" {
				t.Fatalf("event %+v not mapped as the mapping file says", e)
			}
			if seats, ok := e.Traits["seats"].(float64); !ok || seats != 334 {
				t.Fatalf("seats = %#v, want the number 334", e.Traits["seats"])
			}
		})
	}
}

func TestImportInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	inner := segmenttest.NewHandler(segmenttest.Options{WriteKeys: []string{testWriteKey}})
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 5 {
			cancel(errInterrupted) // as the first SIGINT does
		}
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	file := writeFile(t, "users.csv", genCSV(5000))
	r := runCLI(t, ctx, nil, importArgs(srv.URL, "--batch", "10", "--concurrency", "2", file)...)
	if r.code != exitInterrupted {
		t.Fatalf("exit code %d, want 130; stderr:\n%s", r.code, r.stderr)
	}
	lines := parseResults(t, r.stdout)
	if len(lines) == 0 || len(lines) >= 5000 {
		t.Fatalf("%d results; want one per row read, and the run stopped early", len(lines))
	}
	if read := summaryItems(t, r.stderr); read != len(lines) {
		t.Fatalf("%d results for %d items read", len(lines), read)
	}
	for _, l := range lines { // parseResults checked each index appears once
		if l.Index >= int64(len(lines)) {
			t.Fatalf("index %d among %d results: the items read are not 0..n-1", l.Index, len(lines))
		}
	}
	delivered := inner.Delivered()
	for _, l := range lines {
		if l.Status == "ok" && delivered[l.MessageID] != 1 {
			t.Fatalf("result %+v claims ok but the server has %d deliveries", l, delivered[l.MessageID])
		}
	}
	if got := byStatus(lines)["ok"]; got != len(delivered) {
		t.Fatalf("%d results ok, server delivered %d", got, len(delivered))
	}
	if !strings.Contains(r.stderr, "interrupted") {
		t.Fatalf("summary does not say it was interrupted:\n%s", r.stderr)
	}
}

func TestImportResultsUnwritable(t *testing.T) {
	tests := []struct {
		name    string
		results string
	}{
		{"disk full", "/dev/full"},
		{"a directory", t.TempDir()},
		{"no such directory", filepath.Join(t.TempDir(), "missing", "results.ndjson")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, segmenttest.Options{})
			file := writeFile(t, "users.csv", genCSV(3000))
			r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--batch", "50", "--results", tt.results, file)...)
			if r.code != exitAborted {
				t.Fatalf("exit code %d, want 3; stderr:\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "results") {
				t.Fatalf("stderr does not name the results file:\n%s", r.stderr)
			}
			if !strings.Contains(r.stderr, "import stopped: writing results") && !strings.Contains(r.stderr, "--results") {
				t.Fatalf("the summary does not say the run stopped:\n%s", r.stderr)
			}
		})
	}
}

func TestImportJSONLog(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	file := writeFile(t, "users.csv", genCSV(12)+",x@example.com,pro\n")
	r := runCLI(t, context.Background(), nil, "import", "--endpoint", srv.URL, "--write-key", testWriteKey, "--log-format", "json", file)
	if r.code != exitIncomplete {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	var rec struct {
		Msg     string `json:"msg"`
		OK      int    `json:"ok"`
		Invalid int    `json:"invalid"`
		Read    int    `json:"read"`
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rec); err != nil {
		t.Fatalf("last stderr line is not JSON: %v\n%s", err, r.stderr)
	}
	if rec.Msg != "import finished" || rec.OK != 12 || rec.Invalid != 1 || rec.Read != 13 {
		t.Fatalf("summary record %+v", rec)
	}
}

func TestImportTSVFailedFile(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	failed := filepath.Join(t.TempDir(), "failed.tsv")
	input := writeFile(t, "users.tsv", "id\temail\tplan\nu1\ta@example.com\tpro\n\tb@example.com\tfree\nu3\tc@example.com\tpro\tEXTRA\n")
	r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--failed", failed, input)...)
	if r.code != exitIncomplete {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(failed)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3 || lines[0] != "id\temail\tplan\t_status\t_error\t_messageId" || !strings.HasPrefix(lines[1], "\tb@example.com\tfree\tinvalid\t") {
		t.Fatalf("failed file:\n%s", data)
	}
}

func TestImportJSONFailedFileReruns(t *testing.T) {
	for _, tt := range []struct{ name, input string }{
		{"users.json", `[{"id":"u1","email":"a@example.com"},{"email":"b@example.com","plan":"pro"},{}]`},
		{"users.ndjson", "{\"id\":\"u1\"}\n{\"email\":\"b@example.com\"}\nnot json\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, segmenttest.Options{})
			failed := filepath.Join(t.TempDir(), "failed"+filepath.Ext(tt.name))
			r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--failed", failed, writeFile(t, tt.name, tt.input))...)
			if r.code != exitIncomplete {
				t.Fatalf("exit code %d, want 1; stderr:\n%s", r.code, r.stderr)
			}
			// The failed file is valid input of the same format: re-running it reads
			// every item (they are still invalid: no ids).
			again := runCLI(t, context.Background(), nil, importArgs(srv.URL, failed)...)
			if got := byStatus(parseResults(t, again.stdout)); again.code != exitIncomplete || got["invalid"] != 2 {
				t.Fatalf("re-run of the failed file: exit %d, %v\n%s", again.code, got, again.stderr)
			}
		})
	}
}

func TestImportSandbox(t *testing.T) {
	t.Setenv("SEGMENT_WRITE_KEY", "")
	r := runCLI(t, context.Background(), nil, "import", "--sandbox", "--batch", "5", "../../testdata/users.csv")
	if r.code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
	}
	if n := len(parseResults(t, r.stdout)); n != 100 {
		t.Fatalf("%d results, want 100", n)
	}
	if !strings.Contains(r.stderr, "sent to sandbox") || !strings.Contains(r.stderr, "100 unique messageIds") {
		t.Fatalf("the summary does not report the sandbox:\n%s", r.stderr)
	}
}

func TestSandboxCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stdoutW := io.Pipe()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"sandbox", "--addr", "127.0.0.1:0", "--rate", "0", "--fail-rate", "0", "--reset-rate", "0"}, nil, stdoutW, &stderr)
		stdoutW.Close()
	}()
	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url = strings.TrimSpace(url)
	go io.Copy(io.Discard, stdout)
	r := runCLI(t, context.Background(), nil, "import", "--endpoint", url, "--write-key", testWriteKey, "--quiet", writeFile(t, "u.csv", genCSV(10)))
	if r.code != exitOK {
		t.Fatalf("import against the sandbox command: exit %d\n%s", r.code, r.stderr)
	}
	resp, err := http.Get(url + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st segmenttest.Stats
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Unique != 10 {
		t.Fatalf("/stats says %d unique events, want 10", st.Unique)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("sandbox: %v", err)
	}
}
