package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/segment/segmenttest"
)

// maxRSS is the peak resident memory allowed for a 1M-row query or Parquet
// file through the whole command (issue 16).
const maxRSS = 64 << 20

// TestPeakRSS runs the real binary over 1M rows from PostgreSQL, from a
// Parquet file and (for comparison) from a CSV file, each sent in batches of
// 100 to a segmenttest server in this process, and reports each run's peak
// resident memory, as GNU time measures it (its fork, unlike os/exec's
// vfork, gives the child a fresh maximum), and CPU time. Each input runs with
// GOMAXPROCS=1 and with every CPU, without and with a GOMEMLIMIT. The bound
// is asserted for GOMAXPROCS=1 (see source/sqlsource's TestPeakRSS for why
// runs on every CPU of a busy machine vary).
//
// It is a measurement, slow (minutes) and skipped unless asked for; run it
// without -race:
//
//	SEGLOOP_MEMORY=1 go test ./cmd/segloop -run TestPeakRSS -v -timeout 30m
//
// SEGLOOP_MEMORY_LIMITS="48MiB 32MiB" adds runs with those GOMEMLIMITs,
// SEGLOOP_MEMORY_ONLY=postgres,parquet picks inputs, SEGLOOP_MEMORY_DRY=1
// runs --dry-run (no HTTP), SEGLOOP_MEMORY_ROWS=N another row count.
func TestPeakRSS(t *testing.T) {
	if os.Getenv("SEGLOOP_MEMORY") == "" {
		t.Skip("a measurement: set SEGLOOP_MEMORY=1 to run it")
	}
	if raceEnabled {
		t.Skip("run it without -race")
	}
	timeBin, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		t.Skip("needs GNU time (Debian's time package)")
	}
	n := 1_000_000
	if s := os.Getenv("SEGLOOP_MEMORY_ROWS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	bin := segloopBinary(t)
	url, _ := testserver.SharedPostgres(t)
	testserver.MustExec(t, url, `CREATE TABLE users (id bigint PRIMARY KEY, email text, name text, plan text, seats int, active bool, created timestamptz)`,
		fmt.Sprintf(`INSERT INTO users SELECT i, 'u' || i || '@example.com', 'Love, lace', 'pro', i %% 50, i %% 2 = 0,
			to_timestamp(1704067200 + i) FROM generate_series(0, %d) i`, n-1))
	dir := t.TempDir()
	pq := filepath.Join(dir, "users.parquet")
	writeMemoryParquet(t, pq, n)
	csvFile := filepath.Join(dir, "users.csv")
	writeMemoryCSV(t, csvFile, n)

	inputs := map[string][]string{
		"postgres": {"--query", "SELECT * FROM users ORDER BY id", url},
		"parquet":  {pq},
		"csv":      {csvFile},
	}
	kinds := []string{"postgres", "parquet", "csv"}
	if only := os.Getenv("SEGLOOP_MEMORY_ONLY"); only != "" {
		kinds = strings.Split(only, ",")
	}
	dry := os.Getenv("SEGLOOP_MEMORY_DRY") != ""                 // --dry-run: nothing sent, no HTTP
	limits := strings.Fields(os.Getenv("SEGLOOP_MEMORY_LIMITS")) // GOMEMLIMIT values to try, e.g. "48MiB"
	limits = append([]string{""}, limits...)
	for _, kind := range kinds {
		for _, procs := range []string{"1", ""} {
			for _, limit := range limits {
				srv := segmenttest.NewServer(segmenttest.Options{WriteKeys: []string{testWriteKey}, LogLimit: 100})
				args := []string{"-f", "rss %M user %U sys %S wall %e", bin, "import", "--endpoint", srv.URL, "--rate", "0",
					"--batch", "100", "--quiet", "--results", os.DevNull}
				if dry {
					args = append(args, "--dry-run")
				}
				args = append(args, inputs[kind]...)
				cmd := exec.Command(timeBin, args...)
				cmd.Env = append(os.Environ(), "SEGMENT_WRITE_KEY="+testWriteKey, "GOMEMLIMIT="+limit, "GOMAXPROCS="+procs) // empty: the default
				start := time.Now()
				out, err := cmd.CombinedOutput()
				wall := time.Since(start)
				st := srv.Stats()
				srv.Close()
				if err != nil {
					t.Fatalf("%s: %v\n%s", kind, err, out)
				}
				var rss int64
				var user, sys, twall float64
				lines := strings.Split(strings.TrimSpace(string(out)), "\n")
				if _, err := fmt.Sscanf(lines[len(lines)-1], "rss %d user %f sys %f wall %f", &rss, &user, &sys, &twall); err != nil {
					t.Fatalf("%s: no figures from time: %v\n%s", kind, err, out)
				}
				procsName, limitName := procs, limit
				if procsName == "" {
					procsName = "all"
				}
				if limitName == "" {
					limitName = "off"
				}
				t.Logf("%-8s GOMAXPROCS=%-3s GOMEMLIMIT=%-6s peak RSS %5.1f MiB, CPU %.2fs (user %.2f sys %.2f), wall %.1fs, %d events delivered",
					kind, procsName, limitName, float64(rss)/1024, user+sys, user, sys, wall.Seconds(), st.Unique)
				if !dry && st.Unique != int64(n) {
					t.Errorf("%s: the server has %d events, want %d", kind, st.Unique, n)
				}
				if rss<<10 > maxRSS && procs == "1" && kind != "csv" {
					t.Errorf("%s GOMAXPROCS=1 GOMEMLIMIT=%s: peak RSS %d MiB, over %d MiB", kind, limitName, rss>>10, maxRSS>>20)
				}
			}
		}
	}
}

type memUser struct {
	ID      int64     `parquet:"id"`
	Email   string    `parquet:"email"`
	Name    string    `parquet:"name"`
	Plan    string    `parquet:"plan"`
	Seats   int32     `parquet:"seats"`
	Active  bool      `parquet:"active"`
	Created time.Time `parquet:"created,timestamp(microsecond)"`
}

func memoryUser(i int) memUser {
	return memUser{ID: int64(i), Email: fmt.Sprintf("u%d@example.com", i), Name: "Love, lace", Plan: "pro",
		Seats: int32(i % 50), Active: i%2 == 0, Created: time.Unix(1704067200+int64(i), 0).UTC()}
}

// writeMemoryParquet writes n users in row groups of 100k rows.
func writeMemoryParquet(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := parquet.NewGenericWriter[memUser](f, parquet.MaxRowsPerRowGroup(100_000))
	batch := make([]memUser, 0, 10_000)
	for i := range n {
		batch = append(batch, memoryUser(i))
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := w.Write(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeMemoryCSV(t *testing.T, path string, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,email,name,plan,seats,active,created\n")
	for i := range n {
		u := memoryUser(i)
		fmt.Fprintf(&b, "%d,%s,\"%s\",%s,%d,%t,%s\n", u.ID, u.Email, u.Name, u.Plan, u.Seats, u.Active, u.Created.Format(time.RFC3339))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}
