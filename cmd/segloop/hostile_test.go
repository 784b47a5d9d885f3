package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportHostileInputs feeds hostile files through the whole command (a
// dry run: mapping and validation included). Each must end in per-item or
// whole-run errors, never a panic, a hang or unbounded memory; and the good
// rows around a bad one still go through.
func TestImportHostileInputs(t *testing.T) {
	big := strings.Repeat("x", 3<<20) // over the 1 MiB item bound
	tests := []struct {
		name     string
		file     string // name decides the format
		content  string
		mapping  string
		wantCode int
		wantOK   int    // results ok (other rows are invalid)
		wantErr  string // in some result's error, or in stderr for whole-run errors
	}{
		{"huge CSV field", "h.csv", "id,email\nu1,a@example.com\nu2," + big + "\nu3,c@example.com\n", "", exitIncomplete, 2, "line 3"},
		{"1 MB+ JSON line", "h.ndjson", `{"id":"u1"}` + "\n" + `{"id":"u2","blob":"` + big + `"}` + "\n" + `{"id":"u3"}` + "\n", "", exitIncomplete, 2, "line 2"},
		{"deeply nested JSON line", "h.ndjson", `{"id":"u1"}` + "\n" + `{"id":"u2","n":` + strings.Repeat("[", 200000) + strings.Repeat("]", 200000) + "}\n" + `{"id":"u3"}` + "\n", "", exitIncomplete, 2, "line 2"},
		{"deeply nested JSON array element", "h.json", `[{"id":"u1"},{"id":"u2","n":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `},{"id":"u3"}]`, "", exitAborted, 1, "max depth"},
		{"NUL bytes", "h.csv", "id,email,plan\nu1,a@example.com,p\x00ro\nu\x002,b@example.com,pro\n", "", exitOK, 2, ""},
		{"invalid UTF-8", "h.csv", "id,email\nu1,a@example.com\nu2,\xff\xfe@example.com\nu3,c@example.com\n", "", exitIncomplete, 2, "UTF-8"},
		{"broken quote", "h.csv", "id,email\nu1,a@example.com\nu2,\"b@example.com\nu3,c@example.com\n", "", -1, 1, ""},
		{"binary garbage as CSV", "h.csv", "\x00\x01\x02\xff\n\xfe\xfd,\x00\n", "", -1, 0, ""},
		{"JSON array broken mid-stream", "h.json", `[{"id":"u1"},{"id":"u2"},{"id":`, "", exitAborted, 2, "line 1"},
		{"not JSON at all", "h.json", `hello`, "", exitAborted, 0, ""},
		{"array element not an object", "h.json", `[{"id":"u1"},42,"x",{"id":"u4"}]`, "", exitIncomplete, 2, "object"},
		{"huge numbers", "h.ndjson", `{"id":"u1","n":1e400}` + "\n" + `{"id":1e30}` + "\n", "", -1, -1, ""},
		{"template repetition (billion laughs)", "h.ndjson", `{"id":"u1","x":"` + strings.Repeat("ha", 200000) + `"}` + "\n" + `{"id":"u2","x":"ok"}` + "\n",
			`{"userId":"{{item.id}}","traits":{"t":"` + strings.Repeat("{{item.x}}", 200) + `"}}`, exitIncomplete, 1, "traits.t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, tt.file, tt.content)
			args := []string{"import", "--dry-run", "--quiet", file}
			if tt.mapping != "" {
				args = append(args[:len(args)-1], "--map", writeFile(t, "m.json", tt.mapping), file)
			}
			r := runCLI(t, context.Background(), nil, args...)
			if tt.wantCode >= 0 && r.code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			if r.code == exitUsage {
				t.Fatalf("exit code 2 on hostile input; stderr:\n%s", r.stderr)
			}
			lines := parseResults(t, r.stdout)
			if tt.wantOK >= 0 && byStatus(lines)["ok"] != tt.wantOK {
				t.Fatalf("results %v, want %d ok; stderr:\n%s", byStatus(lines), tt.wantOK, r.stderr)
			}
			if tt.wantErr != "" {
				found := strings.Contains(r.stderr, tt.wantErr)
				for _, l := range lines {
					found = found || strings.Contains(l.Error, tt.wantErr)
				}
				if !found {
					t.Fatalf("no error mentions %q; stderr:\n%s\nresults:\n%.2000s", tt.wantErr, r.stderr, r.stdout)
				}
			}
			seen := make([]bool, len(lines))
			for _, l := range lines {
				if l.Index < 0 || l.Index >= int64(len(lines)) || seen[l.Index] {
					t.Fatalf("indexes are not 0..%d, each once: %d", len(lines)-1, l.Index)
				}
				seen[l.Index] = true
			}
		})
	}
}

// TestImportHostileCorpus runs every file of testdata/hostile through a dry
// run (with NAME.map.json as the mapping where there is one): each ends in
// per-item errors or a whole-run error naming the line, never a panic, a
// hang or a usage error.
func TestImportHostileCorpus(t *testing.T) {
	files, err := filepath.Glob("../../testdata/hostile/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no hostile corpus: %v", err)
	}
	for _, file := range files {
		if strings.HasSuffix(file, ".map.json") {
			continue
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			args := []string{"import", "--dry-run", "--quiet"}
			if m := strings.TrimSuffix(file, filepath.Ext(file)) + ".map.json"; fileExists(m) {
				args = append(args, "--map", m)
			}
			r := runCLI(t, context.Background(), nil, append(args, file)...)
			switch r.code {
			case exitOK, exitIncomplete:
			case exitAborted:
				if !strings.Contains(r.stderr, "line") {
					t.Fatalf("a whole-run error that names no line:\n%s", r.stderr)
				}
			default:
				t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
			}
			lines := parseResults(t, r.stdout)
			for _, l := range lines {
				if l.Index >= int64(len(lines)) {
					t.Fatalf("index %d among %d results", l.Index, len(lines))
				}
				if l.Status == "invalid" && (l.Error == "" || l.Line < 1) {
					t.Fatalf("invalid result without a line or reason: %+v", l)
				}
			}
			t.Logf("exit %d, results %v", r.code, byStatus(lines))
		})
	}
}

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}
