package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/segment/segmenttest"
)

// TestMain stops the PostgreSQL server the tests share (testserver.SharedPostgres).
func TestMain(m *testing.M) { testserver.Main(m) }

// testWriteKey is the write key the tests use; no test output may contain it.
const testWriteKey = "wk_test_5ecr3t_DO_NOT_LEAK"

// cliRun is the outcome of one in-process run of the command.
type cliRun struct {
	code   int
	stdout string
	stderr string
}

// runCLI runs the command in-process with args and stdin, and checks that
// the write key appears in none of its output.
func runCLI(t *testing.T, ctx context.Context, stdin io.Reader, args ...string) cliRun {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, stdin, &stdout, &stderr)
	if err != nil && !strings.Contains(err.Error(), "reported") {
		fmt.Fprintf(&stderr, "segloop: %v\n", err)
	}
	r := cliRun{code: exitCode(err), stdout: stdout.String(), stderr: stderr.String()}
	for name, out := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
		if strings.Contains(out, testWriteKey) {
			t.Fatalf("the write key appears in %s:\n%s", name, out)
		}
	}
	return r
}

// newServer starts a segmenttest server that accepts only testWriteKey.
func newServer(t *testing.T, opts segmenttest.Options) *segmenttest.Server {
	t.Helper()
	opts.WriteKeys = []string{testWriteKey}
	opts.KeepEvents = true
	srv := segmenttest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

// resultLine is one parsed line of the results output.
type resultLine struct {
	Index      int64  `json:"index"`
	Line       int    `json:"line"`
	UserID     string `json:"userId"`
	MessageID  string `json:"messageId"`
	Status     string `json:"status"`
	Success    bool   `json:"success"`
	Attempts   int    `json:"attempts"`
	HTTPStatus int    `json:"httpStatus"`
	Error      string `json:"error"`
}

// parseResults parses results NDJSON and checks that every index appears
// exactly once.
func parseResults(t *testing.T, out string) []resultLine {
	t.Helper()
	var lines []resultLine
	seen := map[int64]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r resultLine
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("result line %q: %v", sc.Text(), err)
		}
		if seen[r.Index] {
			t.Fatalf("index %d has two result lines", r.Index)
		}
		seen[r.Index] = true
		lines = append(lines, r)
	}
	return lines
}

// byStatus counts result lines by status.
func byStatus(lines []resultLine) map[string]int {
	m := map[string]int{}
	for _, l := range lines {
		m[l.Status]++
	}
	return m
}

// writeFile writes a file in the test's temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// genCSV returns a CSV of n valid users u0..u(n-1).
func genCSV(n int) string {
	var b strings.Builder
	b.WriteString("id,email,plan\n")
	for i := range n {
		fmt.Fprintf(&b, "u%d,user%d@example.com,pro\n", i, i)
	}
	return b.String()
}

func TestVersion(t *testing.T) {
	r := runCLI(t, context.Background(), nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "segloop ") {
		t.Fatalf("got code %d stdout %q", r.code, r.stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Setenv("SEGMENT_WRITE_KEY", "")
	csvFile := writeFile(t, "u.csv", genCSV(2))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "usage"},
		{"unknown command", []string{"export"}, `unknown command "export"`},
		{"no file", []string{"import", "--sandbox"}, "no input file"},
		{"two files", []string{"import", "--sandbox", csvFile, csvFile}, "one input file at a time"},
		{"missing file", []string{"import", "--sandbox", "/nonexistent/users.csv"}, "no such file"},
		{"unknown format", []string{"import", "--sandbox", writeFile(t, "u.xml", "<x/>")}, "--format"},
		{"bad format flag", []string{"import", "--sandbox", "--format", "xml", csvFile}, "--format"},
		{"stdin without format", []string{"import", "--sandbox", "-"}, "--format"},
		{"no write key", []string{"import", csvFile}, "SEGMENT_WRITE_KEY"},
		{"bad flag", []string{"import", "--sandbox", "--bogus", csvFile}, "flag provided but not defined"},
		{"bad batch", []string{"import", "--sandbox", "--batch", "3000", csvFile}, "--batch"},
		{"bad concurrency", []string{"import", "--sandbox", "--concurrency", "0", csvFile}, "--concurrency"},
		{"bad rate", []string{"import", "--sandbox", "--rate", "-1", csvFile}, "--rate"},
		{"rate NaN", []string{"import", "--sandbox", "--rate", "NaN", csvFile}, "--rate"},
		{"rate Inf", []string{"import", "--sandbox", "--rate", "Inf", csvFile}, "--rate"},
		{"rate -Inf", []string{"import", "--sandbox", "--rate", "-inf", csvFile}, "--rate"},
		{"rate out of range", []string{"import", "--sandbox", "--rate", "1e400", csvFile}, "flag -rate"},
		{"rate hex", []string{"import", "--sandbox", "--rate", "0x10", csvFile}, "flag -rate"},
		{"burst negative", []string{"import", "--sandbox", "--burst", "-5", csvFile}, "--burst"},
		{"burst overflow", []string{"import", "--sandbox", "--burst", "99999999999999999999", csvFile}, "flag -burst"},
		{"concurrency huge", []string{"import", "--sandbox", "--concurrency", "1000000000", csvFile}, "--concurrency"},
		{"max attempts huge", []string{"import", "--sandbox", "--max-attempts", "1000000", csvFile}, "--max-attempts"},
		{"max attempts zero", []string{"import", "--sandbox", "--max-attempts", "0", csvFile}, "--max-attempts"},
		{"timeout huge", []string{"import", "--sandbox", "--timeout", "2562047h", csvFile}, "--timeout"},
		{"timeout negative", []string{"import", "--sandbox", "--timeout", "-1s", csvFile}, "--timeout"},
		{"checkpoint-every huge", []string{"import", "--sandbox", "--checkpoint-every", "1000h", csvFile}, "--checkpoint-every"},
		{"max failures NaN%", []string{"import", "--sandbox", "--max-failures", "NaN%", csvFile}, "max-failures"},
		{"max failures Inf%", []string{"import", "--sandbox", "--max-failures", "Inf%", csvFile}, "max-failures"},
		{"sandbox rate NaN", []string{"sandbox", "--rate", "NaN"}, "--rate"},
		{"sandbox fail rate over 1", []string{"sandbox", "--fail-rate", "1.5"}, "--fail-rate"},
		{"sandbox reset rate NaN", []string{"sandbox", "--reset-rate", "NaN"}, "--reset-rate"},
		{"sandbox latency negative", []string{"sandbox", "--latency", "-1s"}, "--latency"},
		{"sandbox burst negative", []string{"sandbox", "--burst", "-1"}, "--burst"},
		{"bad region", []string{"import", "--write-key", testWriteKey, "--region", "mars", csvFile}, "--region"},
		{"endpoint and region", []string{"import", "--write-key", testWriteKey, "--region", "eu", "--endpoint", "http://x", csvFile}, "not both"},
		{"bad max failures", []string{"import", "--sandbox", "--max-failures", "abc", csvFile}, "max-failures"},
		{"bad log format", []string{"import", "--sandbox", "--log-format", "xml", csvFile}, "--log-format"},
		{"bad mapping", []string{"import", "--sandbox", "--map", writeFile(t, "m.json", `{"userId": "{{item.id"}`), csvFile}, "--map"},
		{"unknown mapping key", []string{"import", "--sandbox", "--map", writeFile(t, "m.json", `{"userid": "{{item.id}}"}`), csvFile}, "--map"},
		{"bad trigger", []string{"import", "--sandbox", "--trigger", writeFile(t, "t.json", `[1]`), csvFile}, "--trigger"},
		{"bad delimiter", []string{"import", "--sandbox", "--delimiter", "ab", csvFile}, "--delimiter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, context.Background(), nil, tt.args...)
			if r.code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", r.code, exitUsage, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("stderr does not mention %q:\n%s", tt.want, r.stderr)
			}
			if r.stdout != "" && tt.name != "no command" {
				t.Fatalf("stdout not empty: %q", r.stdout)
			}
		})
	}
}
