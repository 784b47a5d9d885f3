package sqlsource_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/segloop/segloop/internal/testserver"
)

// BenchmarkRows reads the same 100k generated users from PostgreSQL (over
// loopback), SQLite, Parquet and CSV files, through the default mapping, and
// reports rows/s and this process's CPU time per row (user + system, from
// getrusage: less disturbed than wall time by other work on the machine;
// PostgreSQL's own CPU is not in it):
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
			cpu0 := cpuTime()
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
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*n), "cpu-ns/row")
		})
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
