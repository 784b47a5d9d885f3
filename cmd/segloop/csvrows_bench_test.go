package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/segloop/segloop/segment/segmenttest"
)

// benchRows is the row count of BenchmarkImportRows; SEGLOOP_BENCH_ROWS
// overrides it (for a profile over a million rows, say).
func benchRows(b *testing.B) int {
	if s := os.Getenv("SEGLOOP_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("SEGLOOP_BENCH_ROWS=%q", s)
		}
		return n
	}
	return 20000
}

// usersCSV is rows in bench/'s users shape (one column per trait).
func usersCSV(rows int) string {
	var sb strings.Builder
	sb.WriteString("id,email,first_name,last_name,plan,seats,signed_up\n")
	for i := range rows {
		n := strconv.Itoa(i)
		sb.WriteString("u" + n + ",ada.lovelace" + n + "@example.com,Ada,Lovelace,team," + strconv.Itoa(1+i%500) + ",2025-03-0" + strconv.Itoa(1+i%9) + "T09:00:00Z\n")
	}
	return sb.String()
}

// traitsCSV is rows in bench/'s traits-column shape: a JSON object cell.
func traitsCSV(rows int) string {
	var sb strings.Builder
	sb.WriteString("id,email,name,plan,traits\n")
	companies := [...]string{"Acme", "Globex", "Initech", "Stark Industries"}
	for i := range rows {
		n := strconv.Itoa(i)
		sb.WriteString("u" + n + ",user" + n + "@example.com,Grace Hopper,pro,\"{\"\"company\"\":\"\"" + companies[i%4] +
			"\"\",\"\"seats\"\":" + strconv.Itoa(1+i%500) + ",\"\"beta\"\":" + strconv.FormatBool(i%2 == 0) + ",\"\"tags\"\":[\"\"a\"\",\"\"b\"\"]}\"\n")
	}
	return sb.String()
}

// BenchmarkImportRows runs the whole command per row on the two CSV shapes of
// bench/, sending in batches of 100 to a segmenttest server in this process
// (send), or mapping and validating only (dry-run: everything but the HTTP
// client and the server). allocs/row counts every allocation of the
// process, the server's included in send mode.
func BenchmarkImportRows(b *testing.B) {
	rows := benchRows(b)
	inputs := []struct{ name, data string }{{"users", usersCSV(rows)}, {"traits", traitsCSV(rows)}}
	srv := segmenttest.NewServer(segmenttest.Options{LogLimit: 1})
	defer srv.Close()
	for _, in := range inputs {
		file := filepath.Join(b.TempDir(), in.name+".csv")
		if err := os.WriteFile(file, []byte(in.data), 0o644); err != nil {
			b.Fatal(err)
		}
		for _, mode := range []string{"send", "dry-run"} {
			b.Run(in.name+"/"+mode, func(b *testing.B) {
				args := []string{"import", "--endpoint", srv.URL, "--write-key", "k", "--rate", "0", "--quiet", "--results", os.DevNull}
				if mode == "dry-run" {
					args = []string{"import", "--dry-run", "--quiet", "--results", os.DevNull}
				}
				args = append(args, file)
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				b.ReportAllocs()
				for b.Loop() {
					if err := run(context.Background(), args, strings.NewReader(""), io.Discard, io.Discard); err != nil {
						b.Fatal(err)
					}
				}
				runtime.ReadMemStats(&ms1)
				total := float64(b.N) * float64(rows)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/row")
				b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/total, "allocs/row")
			})
		}
	}
}
