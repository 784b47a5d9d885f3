package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segloop/segloop/segment/segmenttest"
)

// BenchmarkImport measures the whole command per row: read, map, encode,
// send in batches of 100 to a segmenttest server on loopback (in this
// process, so its cost is included), and write the results. bench/ measures
// the same end to end with the server in its own process.
func BenchmarkImport(b *testing.B) {
	const rows = 20000
	var sb strings.Builder
	sb.WriteString("id,email,first_name,last_name,plan,seats\n")
	for i := range rows {
		fmt.Fprintf(&sb, "u%07d,user%d@example.com,First%d,Last%d,pro,%d\n", i, i, i, i, i%500)
	}
	file := filepath.Join(b.TempDir(), "users.csv")
	if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	srv := segmenttest.NewServer(segmenttest.Options{LogLimit: 1})
	defer srv.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		err := run(context.Background(), []string{"import", "--endpoint", srv.URL, "--write-key", "k", "--rate", "0", "--quiet", file},
			strings.NewReader(""), io.Discard, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}
