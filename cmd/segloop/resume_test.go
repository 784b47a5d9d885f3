package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
