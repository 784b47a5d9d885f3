package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/segloop/segloop/checkpoint"
	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/segment/segmenttest"
)

func TestImportMaxFailures(t *testing.T) {
	// Every row lacks an id: a broken export. The run must stop long before the end.
	var b strings.Builder
	b.WriteString("name,email\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "n%d,user%d@example.com\n", i, i)
	}
	file := writeFile(t, "broken.csv", b.String())
	for _, limit := range []string{"10", "5%"} {
		t.Run(limit, func(t *testing.T) {
			srv := newServer(t, segmenttest.Options{})
			r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--batch", "10", "--max-failures", limit, file)...)
			if r.code != exitAborted {
				t.Fatalf("exit code %d, want 3; stderr:\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "--max-failures") {
				t.Fatalf("stderr does not name the limit:\n%s", r.stderr)
			}
			lines := parseResults(t, r.stdout)
			if len(lines) >= 5000 || len(lines) < 11 {
				t.Fatalf("%d results; want the run stopped soon after the limit", len(lines))
			}
		})
	}
	t.Run("under the limit", func(t *testing.T) {
		srv := newServer(t, segmenttest.Options{})
		mixed := writeFile(t, "mixed.csv", genCSV(300)+",bad@example.com,pro\n")
		r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--max-failures", "1%", mixed)...)
		if r.code != exitIncomplete {
			t.Fatalf("exit code %d, want 1; stderr:\n%s", r.code, r.stderr)
		}
	})
}

func TestImportCheckpointResume(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	dir := t.TempDir()
	ck := filepath.Join(dir, "run.ckpt")
	file := writeFile(t, "users.csv", genCSV(200))

	first := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--checkpoint", ck, file)...)
	if first.code != exitOK {
		t.Fatalf("first run: exit %d\n%s", first.code, first.stderr)
	}
	again := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--checkpoint", ck, file)...)
	if again.code != exitOK {
		t.Fatalf("second run: exit %d\n%s", again.code, again.stderr)
	}
	lines := parseResults(t, again.stdout)
	if len(lines) != 200 || byStatus(lines)["skipped"] != 200 {
		t.Fatalf("second run results %v, want 200 skipped", byStatus(lines))
	}
	firstIDs := map[int64]string{}
	for _, l := range parseResults(t, first.stdout) {
		firstIDs[l.Index] = l.MessageID
	}
	for _, l := range lines {
		if l.MessageID != firstIDs[l.Index] {
			t.Fatalf("item %d: messageId %q on resume, %q before", l.Index, l.MessageID, firstIDs[l.Index])
		}
	}
	if data, _ := os.ReadFile(ck); strings.Contains(string(data), testWriteKey) {
		t.Fatal("the write key appears in the checkpoint")
	}
	if st := srv.Stats(); st.Events != 200 {
		t.Fatalf("the server got %d events, want 200 (nothing re-sent)", st.Events)
	}

	t.Run("another mapping is refused", func(t *testing.T) {
		m := writeFile(t, "m.json", `{"userId":"{{item.id}}","traits":{"plan":"{{item.plan}}"}}`)
		r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--checkpoint", ck, "--map", m, file)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "another input or mapping") {
			t.Fatalf("exit %d, want 2 with a clear message; stderr:\n%s", r.code, r.stderr)
		}
	})
	t.Run("another input is refused", func(t *testing.T) {
		other := writeFile(t, "other.csv", genCSV(10))
		r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--checkpoint", ck, other)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "another input or mapping") {
			t.Fatalf("exit %d, want 2 with a clear message; stderr:\n%s", r.code, r.stderr)
		}
	})
	t.Run("a corrupt checkpoint is refused", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.ckpt")
		os.WriteFile(bad, []byte("{not json"), 0o644)
		r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--checkpoint", bad, file)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "checkpoint") {
			t.Fatalf("exit %d, want 2; stderr:\n%s", r.code, r.stderr)
		}
	})
}

func TestImportCheckpointAndDestination(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	ck := filepath.Join(t.TempDir(), "run.ckpt")
	file := writeFile(t, "users.csv", genCSV(50))

	// A dry run previews against the real run's checkpoint but marks nothing.
	dry := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--dry-run", "--checkpoint", ck, file)...)
	if dry.code != exitOK {
		t.Fatalf("dry run: exit %d\n%s", dry.code, dry.stderr)
	}
	real := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--checkpoint", ck, file)...)
	if got := byStatus(parseResults(t, real.stdout)); real.code != exitOK || got["ok"] != 50 || srv.Stats().Unique != 50 {
		t.Fatalf("the run after a dry run: exit %d, %v, %d delivered; want all 50 sent", real.code, got, srv.Stats().Unique)
	}
	// Items delivered to one endpoint are not skipped when sending to another.
	other := newServer(t, segmenttest.Options{})
	r := runCLI(t, context.Background(), nil, importArgs(other.URL, "--checkpoint", ck, file)...)
	if r.code != exitUsage || !strings.Contains(r.stderr, "another input or mapping") {
		t.Fatalf("a checkpoint of another endpoint: exit %d, want 2\n%s", r.code, r.stderr)
	}
}

func TestImportCheckpointStdin(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	ck := filepath.Join(t.TempDir(), "run.ckpt")
	r := runCLI(t, context.Background(), strings.NewReader(genCSV(5)), importArgs(srv.URL, "--format", "csv", "--checkpoint", ck, "-")...)
	if r.code != exitUsage || !strings.Contains(r.stderr, "--run-key") {
		t.Fatalf("stdin with --checkpoint and no --run-key: exit %d, want 2 naming --run-key\n%s", r.code, r.stderr)
	}
	args := importArgs(srv.URL, "--format", "csv", "--checkpoint", ck, "--run-key", "export-2026-11-29", "-")
	if r := runCLI(t, context.Background(), strings.NewReader(genCSV(5)), args...); r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	r = runCLI(t, context.Background(), strings.NewReader(genCSV(8)), args...)
	if got := byStatus(parseResults(t, r.stdout)); r.code != exitOK || got["skipped"] != 5 || got["ok"] != 3 {
		t.Fatalf("resumed stream: exit %d, %v; want 5 skipped, 3 ok", r.code, got)
	}
}

func TestImportFailedFileKeepsMessageIDs(t *testing.T) {
	down := newServer(t, segmenttest.Options{FailRate: 1})
	failed := filepath.Join(t.TempDir(), "failed.csv")
	file := writeFile(t, "users.csv", genCSV(20))
	first := runCLI(t, context.Background(), nil, importArgs(down.URL, "--max-attempts", "1", "--failed", failed, file)...)
	if first.code != exitIncomplete {
		t.Fatalf("exit %d, want 1\n%s", first.code, first.stderr)
	}
	ids := map[string]bool{}
	for _, l := range parseResults(t, first.stdout) {
		ids[l.MessageID] = true
	}
	up := newServer(t, segmenttest.Options{})
	again := runCLI(t, context.Background(), nil, importArgs(up.URL, failed)...)
	if again.code != exitOK {
		t.Fatalf("re-run: exit %d\n%s", again.code, again.stderr)
	}
	for id, n := range up.Delivered() {
		if !ids[id] || n != 1 {
			t.Fatalf("re-run delivered messageId %s (%d times), not one of the first run's", id, n)
		}
	}
	if len(up.Delivered()) != 20 {
		t.Fatalf("re-run delivered %d, want 20", len(up.Delivered()))
	}
}

// TestImportDiskFullCheckpointClaimsOnlyDelivered: with the results on a full
// disk the run stops (exit 3), and the checkpoint it leaves marks only items
// the server really has.
func TestImportDiskFullCheckpointClaimsOnlyDelivered(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	ck := filepath.Join(t.TempDir(), "run.ckpt")
	file := writeFile(t, "users.csv", genCSV(5000))
	r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--batch", "20", "--results", "/dev/full", "--checkpoint", ck, file)...)
	if r.code != exitAborted || !strings.Contains(r.stderr, "writing results") {
		t.Fatalf("exit %d, want 3 naming the results; stderr:\n%s", r.code, r.stderr)
	}
	doc, err := checkpoint.Read(ck)
	if err != nil {
		t.Fatal(err)
	}
	delivered := srv.Delivered()
	marked := 0
	for _, rg := range doc.Ranges {
		for i := rg[0]; i < rg[1]; i++ {
			marked++
			if id := segment.MessageID(doc.RunKey, i, fmt.Sprintf("u%d", i)); delivered[id] != 1 {
				t.Fatalf("the checkpoint marks item %d done; the server has it %d times", i, delivered[id])
			}
		}
	}
	if marked == 0 {
		t.Fatal("the checkpoint marks nothing: the test proves nothing (items delivered before the write error are marked)")
	}
	t.Logf("%d items marked, %d delivered", marked, len(delivered))
}

// TestSummarySaysWhatWasRead: a run stopped after its input was read to the
// end says so; one stopped earlier names the line reading stopped after.
func TestSummarySaysWhatWasRead(t *testing.T) {
	noIDs := func(n int) string {
		var b strings.Builder
		b.WriteString("name,email\n")
		for i := range n {
			fmt.Fprintf(&b, "n%d,user%d@example.com\n", i, i)
		}
		return b.String()
	}
	t.Run("read to the end", func(t *testing.T) {
		r := runCLI(t, context.Background(), nil, "import", "--dry-run", "--quiet", "--max-failures", "0", writeFile(t, "in.csv", noIDs(5)))
		if r.code != exitAborted {
			t.Fatalf("exit %d, want 3:\n%s", r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "not read") || !strings.Contains(r.stderr, "read to its end") {
			t.Fatalf("the summary does not say the input was read to its end:\n%s", r.stderr)
		}
		j := runCLI(t, context.Background(), nil, "import", "--dry-run", "--quiet", "--log-format", "json", "--max-failures", "0", writeFile(t, "in.csv", noIDs(5)))
		if strings.Contains(j.stderr, "notReadAfterLine") || !strings.Contains(j.stderr, `"readToEnd":true`) {
			t.Fatalf("the JSON summary:\n%s", j.stderr)
		}
	})
	t.Run("stopped early", func(t *testing.T) {
		r := runCLI(t, context.Background(), nil, "import", "--dry-run", "--quiet", "--batch", "10", "--max-failures", "10", writeFile(t, "in.csv", noIDs(50000)))
		if r.code != exitAborted {
			t.Fatalf("exit %d, want 3:\n%s", r.code, r.stderr)
		}
		m := regexp.MustCompile(`reading stopped after line (\d+)`).FindStringSubmatch(r.stderr)
		if m == nil {
			t.Fatalf("the summary does not say where reading stopped:\n%s", r.stderr)
		}
		last := 0
		for _, l := range parseResults(t, r.stdout) {
			last = max(last, l.Line)
		}
		if m[1] != strconv.Itoa(last) {
			t.Fatalf("reading stopped after line %s, the last result is of line %d", m[1], last)
		}
	})
}
