package sqlsource_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/segloop/segloop/internal/testserver"
)

// maxRSS is the peak resident memory allowed for reading 1M rows (issue 16).
const maxRSS = 64 << 20

// TestPeakRSS reads 1M rows from PostgreSQL, a Parquet file, an SQLite file
// and (for comparison) a CSV file, each through the default mapping in a
// child process of its own, and checks each child's peak resident memory
// stays within 64 MiB. The child reports its own VmHWM from /proc: getrusage's
// ru_maxrss would also count the parent's memory, which an exec'd child of a
// vfork inherits as its starting maximum. It is a measurement, slow
// (about half a minute) and skipped unless asked for; run it without -race:
//
//	SEGLOOP_MEMORY=1 go test ./source/sqlsource -run TestPeakRSS -v
func TestPeakRSS(t *testing.T) {
	if os.Getenv("SEGLOOP_MEMORY") == "" {
		t.Skip("a measurement: set SEGLOOP_MEMORY=1 to run it")
	}
	const n = 1_000_000
	url, _ := testserver.SharedPostgres(t)
	pgUsers(t, url, n)
	csvPath := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(csvPath, csvUsers(n), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs := []struct{ kind, where string }{
		{"none", ""}, // the test binary alone
		{"postgres", url},
		{"parquet", parquetUsers(t, n)},
		{"sqlite", sqliteUsers(t, n).URL},
		{"csv", csvPath},
	}
	for _, in := range inputs {
		for _, gogc := range []string{"100", "200"} { // the Go default, and the command's
			cmd := exec.Command(os.Args[0], "-test.run=^TestPeakRSSChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "SEGLOOP_MEMORY_CHILD="+in.kind+":"+in.where, "GOGC="+gogc)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", in.kind, err, out)
			}
			rows, rss := "?", int64(-1)
			for line := range strings.Lines(string(out)) {
				if r, ok := strings.CutPrefix(line, "rows "); ok {
					rows = strings.TrimSpace(r)
				}
				if r, ok := strings.CutPrefix(line, "hwm "); ok {
					rss, _ = strconv.ParseInt(strings.TrimSpace(r), 10, 64)
				}
			}
			if rss < 0 {
				t.Fatalf("%s: the child reported no peak RSS:\n%s", in.kind, out)
			}
			t.Logf("%-8s GOGC=%s: %s rows, peak RSS %.1f MiB, %.2fs user CPU", in.kind, gogc, rows,
				float64(rss)/(1<<20), cmd.ProcessState.UserTime().Seconds())
			if in.kind != "none" && rows != fmt.Sprint(n) {
				t.Errorf("%s: read %s rows, want %d", in.kind, rows, n)
			}
			if rss > maxRSS {
				t.Errorf("%s GOGC=%s: peak RSS %d MiB, over %d MiB", in.kind, gogc, rss>>20, maxRSS>>20)
			}
		}
	}
}

// TestPeakRSSChild is TestPeakRSS's child: it reads the input named by
// $SEGLOOP_MEMORY_CHILD (kind:where) through the default mapping.
func TestPeakRSSChild(t *testing.T) {
	spec := os.Getenv("SEGLOOP_MEMORY_CHILD")
	if spec == "" {
		t.Skip("run by TestPeakRSS")
	}
	kind, where, _ := strings.Cut(spec, ":")
	defer func() { fmt.Printf("hwm %d\n", peakRSS(t)) }()
	if kind == "none" {
		return
	}
	r, done, err := openInput(context.Background(), kind, where)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	n, err := mapAll(r)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("rows %d\n", n)
}

// peakRSS is this process's peak resident memory in bytes (VmHWM).
func peakRSS(t *testing.T) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kib << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}
