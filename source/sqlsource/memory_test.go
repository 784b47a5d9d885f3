package sqlsource_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segloop/segloop/internal/testserver"
)

// maxRSS is the peak resident memory allowed for reading 1M rows (issue 16).
const maxRSS = 64 << 20

// TestPeakRSS reads 1M rows from PostgreSQL, a Parquet file, an SQLite file
// and (for comparison) a CSV file, each through the default mapping in a
// child process of its own, and checks each child's peak resident memory
// stays within 64 MiB. The child reports its own VmHWM from /proc: getrusage's
// ru_maxrss would also count the parent's memory, which an exec'd child of a
// vfork inherits as its starting maximum.
//
// The bound is checked with GOMAXPROCS=1; runs with every CPU are logged.
// On a machine whose CPUs other processes keep busy, the concurrent GC's
// mark worker can go unscheduled for 100 ms while the reading goroutine,
// on another CPU, goes on allocating: GODEBUG=gctrace=1 then shows cycles
// such as "3->47->43 MB, 4 MB goal" (0.3 ms of mark CPU in 102 ms), and the
// peak RSS of every reader, CSV included, varies from 30 to 190 MiB from
// one run to the next. With one P the mark worker and the reader share a
// thread and the figure is the readers' own.
//
// It is a measurement, slow (about a minute) and skipped unless asked for;
// run it without -race:
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
	type run struct{ procs, gogc string }
	runs := []run{{"1", "100"}, {"1", "200"}, {"", "100"}, {"", "200"}} // GOGC: Go's default, and the command's
	for _, in := range inputs {
		for _, run := range runs {
			cmd := exec.Command(os.Args[0], "-test.run=^TestPeakRSSChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "SEGLOOP_MEMORY_CHILD="+in.kind+":"+in.where, "GOGC="+run.gogc)
			procs := "all"
			if run.procs != "" {
				cmd.Env = append(cmd.Env, "GOMAXPROCS="+run.procs)
				procs = run.procs
			}
			gogc := run.gogc + " GOMAXPROCS=" + procs
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", in.kind, err, out)
			}
			rows, rss := "?", int64(-1)
			for line := range strings.Lines(string(out)) {
				if r, ok := strings.CutPrefix(line, "rows "); ok {
					rows = strings.TrimSpace(r)
				}
				if r, ok := strings.CutPrefix(line, "metrics "); ok {
					t.Logf("%-8s GOGC=%s: %s", in.kind, gogc, strings.TrimSpace(r))
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
			if rss > maxRSS && run.procs == "1" {
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
	stop := make(chan struct{})
	sampled := make(chan string)
	go func() { // owned: joined through sampled below
		samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/goal:bytes"}, {Name: "/memory/classes/total:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
		var peak [3]uint64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				metrics.Read(samples)
				sampled <- fmt.Sprintf("heap objects peak %.1f MiB, goal peak %.1f MiB, runtime total peak %.1f MiB, %d GCs",
					float64(peak[0])/(1<<20), float64(peak[1])/(1<<20), float64(peak[2])/(1<<20), samples[3].Value.Uint64())
				return
			case <-tick.C:
				metrics.Read(samples)
				for i := range peak {
					peak[i] = max(peak[i], samples[i].Value.Uint64())
				}
			}
		}
	}()
	n, err := mapAll(r)
	close(stop)
	fmt.Println("metrics", <-sampled)
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
