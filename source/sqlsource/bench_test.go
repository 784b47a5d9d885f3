package sqlsource_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/segloop/segloop/internal/testserver"
)

// BenchmarkRows reads the same 100k generated users from PostgreSQL (over
// loopback), SQLite, Parquet and CSV files, through the default mapping, and
// reports rows/s:
//
//	go test ./source/sqlsource -run '^$' -bench Rows -count 6
func BenchmarkRows(b *testing.B) {
	const n = 100_000
	url, _ := testserver.SharedPostgres(b)
	pgUsers(b, url, n)
	csvPath := filepath.Join(b.TempDir(), "users.csv")
	if err := os.WriteFile(csvPath, csvUsers(n), 0o644); err != nil {
		b.Fatal(err)
	}
	inputs := []struct{ kind, where string }{
		{"postgres", url},
		{"sqlite", sqliteUsers(b, n).URL},
		{"parquet", parquetUsers(b, n)},
		{"csv", csvPath},
	}
	for _, in := range inputs {
		b.Run(in.kind, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, done, err := openInput(context.Background(), in.kind, in.where)
				if err != nil {
					b.Fatal(err)
				}
				got, err := mapAll(r)
				done()
				if err != nil || got != n {
					b.Fatalf("%d rows: %v", got, err)
				}
			}
			b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}
