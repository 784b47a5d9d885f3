package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/segloop/segloop/loop"
)

func TestConcurrencyFlags(t *testing.T) {
	csvFile := writeFile(t, "u.csv", genCSV(2))
	tests := []struct {
		name     string
		args     []string
		wantConc int // 0 = auto
		wantMax  int
	}{
		{"default", nil, 0, loop.DefaultMaxConcurrency},
		{"auto", []string{"--concurrency", "auto"}, 0, loop.DefaultMaxConcurrency},
		{"fixed", []string{"--concurrency", "32"}, 32, loop.DefaultMaxConcurrency},
		{"cap", []string{"--max-concurrency", "300"}, 0, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseImportFlags(append(append([]string{"--sandbox"}, tt.args...), csvFile), func(string) string { return "" }, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if int(f.concurrency) != tt.wantConc || f.maxConc != tt.wantMax {
				t.Errorf("concurrency %v, max %d; want %d, %d", &f.concurrency, f.maxConc, tt.wantConc, tt.wantMax)
			}
		})
	}
	for _, bad := range [][]string{{"--concurrency", "0"}, {"--concurrency", "many"}, {"--max-concurrency", "0"}} {
		t.Run(strings.Join(bad, " "), func(t *testing.T) {
			r := runCLI(t, context.Background(), nil, append(append([]string{"import", "--sandbox"}, bad...), csvFile)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, bad[0]) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d naming %s", r.code, r.stderr, exitUsage, bad[0])
			}
		})
	}
}
