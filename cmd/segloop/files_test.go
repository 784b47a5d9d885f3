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

// alias makes another name for the file at target, of the given kind, and
// returns it: a hard link, a symlink, a name through a symlinked directory,
// a relative name with "..", or a /proc/self/fd name of a descriptor the test
// holds open.
func alias(t *testing.T, kind, target string) string {
	t.Helper()
	dir := t.TempDir()
	switch kind {
	case "hard link":
		name := filepath.Join(dir, "hard.csv")
		if err := os.Link(target, name); err != nil {
			t.Fatal(err)
		}
		return name
	case "symlink":
		name := filepath.Join(dir, "sym.csv")
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
		return name
	case "symlinked directory":
		link := filepath.Join(dir, "dirlink")
		if err := os.Symlink(filepath.Dir(target), link); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(link, filepath.Base(target))
	case "dot-dot":
		return filepath.Join(filepath.Dir(target), "..", filepath.Base(filepath.Dir(target)), ".", filepath.Base(target))
	case "proc fd":
		f, err := os.Open(target)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	}
	t.Fatalf("unknown alias kind %q", kind)
	return ""
}

var aliasKinds = []string{"hard link", "symlink", "symlinked directory", "dot-dot", "proc fd"}

// TestOutputIsTheInputByAnotherName: no output may be the input, by any name;
// the run is refused before anything is opened for writing, and the input is
// left whole.
func TestOutputIsTheInputByAnotherName(t *testing.T) {
	content := genCSV(1000)
	for _, flag := range []string{"--results", "--failed", "--checkpoint"} {
		for _, kind := range aliasKinds {
			t.Run(flag+" "+kind, func(t *testing.T) {
				input := writeFile(t, "in.csv", content)
				r := runCLI(t, context.Background(), nil, "import", "--dry-run", "--quiet", flag, alias(t, kind, input), input)
				if r.code != exitUsage {
					t.Errorf("exit code %d, want 2; stderr:\n%s", r.code, r.stderr)
				}
				if !strings.Contains(r.stderr, "same file as the input") {
					t.Errorf("stderr does not say the output is the input:\n%s", r.stderr)
				}
				if got, _ := os.ReadFile(input); string(got) != content {
					t.Fatalf("the input changed: %d bytes, want %d", len(got), len(content))
				}
				if r.stdout != "" {
					t.Errorf("results written for a refused run: %.200s", r.stdout)
				}
			})
		}
	}
}

// TestOutputsAreOneFileByTwoNames: two outputs may not be one file either, and
// an output is not truncated before every check has passed.
func TestOutputsAreOneFileByTwoNames(t *testing.T) {
	for _, kind := range aliasKinds {
		t.Run(kind, func(t *testing.T) {
			input := writeFile(t, "in.csv", genCSV(10))
			results := writeFile(t, "results.ndjson", "precious\n")
			r := runCLI(t, context.Background(), nil, "import", "--dry-run", "--quiet", "--results", results, "--failed", alias(t, kind, results), input)
			if r.code != exitUsage || !strings.Contains(r.stderr, "same file as --results") {
				t.Errorf("exit code %d, want 2 naming --results; stderr:\n%s", r.code, r.stderr)
			}
			if got, _ := os.ReadFile(results); string(got) != "precious\n" {
				t.Fatalf("the results file was changed by a refused run: %q", got)
			}
		})
	}
	t.Run("not truncated before the input check", func(t *testing.T) {
		input := writeFile(t, "in.csv", genCSV(10))
		results := writeFile(t, "results.ndjson", "precious\n")
		r := runCLI(t, context.Background(), nil, "import", "--dry-run", "--quiet", "--results", results, "--failed", alias(t, "hard link", input), input)
		if r.code != exitUsage {
			t.Errorf("exit code %d, want 2; stderr:\n%s", r.code, r.stderr)
		}
		if got, _ := os.ReadFile(results); string(got) != "precious\n" {
			t.Fatalf("--results was truncated before --failed was checked: %q", got)
		}
	})
	t.Run("the mapping file", func(t *testing.T) {
		input := writeFile(t, "in.csv", genCSV(10))
		m := writeFile(t, "m.json", `{"userId":"{{item.id}}"}`)
		r := runCLI(t, context.Background(), nil, "import", "--dry-run", "--quiet", "--map", m, "--results", alias(t, "symlink", m), input)
		if r.code != exitUsage || !strings.Contains(r.stderr, "same file as --map") {
			t.Errorf("exit code %d, want 2 naming --map; stderr:\n%s", r.code, r.stderr)
		}
		if got, _ := os.ReadFile(m); string(got) != `{"userId":"{{item.id}}"}` {
			t.Fatalf("the mapping changed: %q", got)
		}
	})
}

// TestOutputsArePrivate: files holding user data are created 0600.
func TestOutputsArePrivate(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	dir := t.TempDir()
	input := writeFile(t, "in.csv", genCSV(5)+",nobody@example.com,free\n")
	paths := map[string]string{
		"--results":    filepath.Join(dir, "results.ndjson"),
		"--failed":     filepath.Join(dir, "failed.csv"),
		"--checkpoint": filepath.Join(dir, "run.ckpt"),
	}
	args := importArgs(srv.URL)
	for flag, p := range paths {
		args = append(args, flag, p)
	}
	if r := runCLI(t, context.Background(), nil, append(args, input)...); r.code != exitIncomplete {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	for flag, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s created with mode %v, want 0600", flag, perm)
		}
	}
}

// TestSymlinkedOutputsWrittenThrough: a symlinked output is written through
// to its target, existing or not yet, and stays a symlink.
func TestSymlinkedOutputsWrittenThrough(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	input := writeFile(t, "in.csv", genCSV(20)+",nobody@example.com,free\n")
	targets := t.TempDir()
	links := t.TempDir()
	flags := []string{"--results", "--failed", "--checkpoint"}
	args := importArgs(srv.URL)
	for i, flag := range flags {
		target := filepath.Join(targets, strings.TrimPrefix(flag, "--"))
		if i%2 == 0 { // an existing target, and a dangling link
			if err := os.WriteFile(target, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		link := filepath.Join(links, strings.TrimPrefix(flag, "--"))
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		args = append(args, flag, link)
	}
	for run := range 2 { // the second run resumes through the symlinked checkpoint
		r := runCLI(t, context.Background(), nil, append(args, input)...)
		if r.code != exitIncomplete {
			t.Fatalf("run %d: exit code %d, want 1; stderr:\n%s", run, r.code, r.stderr)
		}
	}
	for _, flag := range flags {
		link := filepath.Join(links, strings.TrimPrefix(flag, "--"))
		st, err := os.Lstat(link)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s: the symlink was replaced by a %v", flag, st.Mode().Type())
		}
		data, err := os.ReadFile(filepath.Join(targets, strings.TrimPrefix(flag, "--")))
		if err != nil || len(data) == 0 {
			t.Errorf("%s: the target holds %d bytes (%v), want the output", flag, len(data), err)
		}
	}
	lines := readResults(t, filepath.Join(targets, "results"))
	if got := byStatus(lines); got["skipped"] != 20 || got["invalid"] != 1 {
		t.Fatalf("second run through the symlinked checkpoint: %v, want 20 skipped, 1 invalid", got)
	}
}
