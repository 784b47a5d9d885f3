package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Scenario 16 (issue 16): `segloop import` end to end on the same rows read
// from each kind of input: the bench's users CSV, the same CSV gzip'd, as
// zstd-compressed JSON Lines, as a Parquet file, and as a table queried in
// an SQLite file and, when $SEGLOOP_BENCH_POSTGRES_URL names a server, in
// PostgreSQL; rows/s of each against the CSV's, and the peak RSS of the
// larger size against issue 16's bound. bench/sourcegen writes the other
// inputs from the CSV, in a process of its own.
const (
	sourcesScenarioID = 16
	sourcesRSSTarget  = 64 // MiB: issue 16's bound on a 1M-row query and a 1M-row Parquet file
	// sourcesColumns are the columns every query reads: the CSV's, in its order.
	sourcesColumns = "id, email, first_name, last_name, plan, seats, signed_up"
)

// sourceKind is one input of scenario 16, run as a client of its own.
type sourceKind struct {
	client string // the client's name in the table and the JSON
	gen    string // bench/sourcegen's -kind; empty for the CSV itself
	ext    string // the generated file: the CSV's path with this in place of ".csv"
	query  bool   // a database: the input is its URL, with --query
	judged bool   // issue 16 bounds its peak RSS at the larger size
}

const clientSourceCSV = "CSV"

var sourceKinds = []sourceKind{
	{client: clientSourceCSV},
	{client: "gzip'd CSV", gen: "csv.gz", ext: ".csv.gz"},
	{client: "zstd NDJSON", gen: "ndjson.zst", ext: ".ndjson.zst"},
	{client: "Parquet", gen: "parquet", ext: ".parquet", judged: true},
	{client: "SQLite query", gen: "sqlite", ext: ".db", query: true, judged: true},
	{client: clientSourcePG, gen: "postgres", query: true, judged: true},
}

const clientSourcePG = "PostgreSQL query"

// sourcesScenario runs every kind on the throughput size and on the memory
// scenario's large size (200,000 and 1,000,000 rows; -quick: 20,000 and
// 100,000), each run against a fresh sandbox with no limit,
// `--batch 100 --rate 0`.
func sourcesScenario(sz sizes) *scenario {
	s := &sources{pgURL: os.Getenv(diffPostgres), made: make(map[string]bool)}
	var clients []clientConfig
	for _, k := range sourceKinds {
		if k.client == clientSourcePG && s.pgURL == "" {
			continue
		}
		clients = append(clients, clientConfig{Name: k.client, Batch: batchSize})
	}
	return &scenario{ID: sourcesScenarioID, Name: "inputs: CSV, gzip, zstd NDJSON, Parquet, SQL queries", Rows: []int{sz.throughput, sz.memLarge},
		Clients: clients, each: s.run, figures: sourcesFigures}
}

// sources makes scenario 16's inputs, each once per bench process.
type sources struct {
	pgURL string          // $SEGLOOP_BENCH_POSTGRES_URL; empty: no PostgreSQL client
	gen   string          // the built bench/sourcegen, once built
	made  map[string]bool // inputs written so far, by path or table
}

// run is one client run of scenario 16: its input (written on first use)
// through r.once.
func (s *sources) run(ctx context.Context, r *runner, srv serverConfig, c clientConfig, file string) (runResult, error) {
	k, ok := kindOf(c.Name)
	if !ok {
		return runResult{}, fmt.Errorf("scenario %d has no input kind %q", sourcesScenarioID, c.Name)
	}
	in, err := s.input(ctx, r, k, file)
	if err != nil {
		return runResult{}, err
	}
	cc := c
	if k.query {
		from := "users"
		if k.gen == "postgres" {
			from = pgTable(file)
		}
		cc.Extra = append([]string{"--query", "SELECT " + sourcesColumns + " FROM " + from}, c.Extra...)
	}
	return r.once(ctx, srv, cc, in)
}

func kindOf(client string) (sourceKind, bool) {
	for _, k := range sourceKinds {
		if k.client == client {
			return k, true
		}
	}
	return sourceKind{}, false
}

// input is what the client of kind k reads for the generated CSV file: the
// file itself, a file or table written from it (once), or a database URL.
func (s *sources) input(ctx context.Context, r *runner, k sourceKind, file string) (string, error) {
	if k.gen == "" {
		return file, nil
	}
	out, in := strings.TrimSuffix(file, ".csv")+k.ext, ""
	switch k.gen {
	case "postgres":
		out, in = pgTable(file), s.pgURL
	case "sqlite":
		in = "sqlite:" + out
	default:
		in = out
	}
	if s.made[out] {
		return in, nil
	}
	if err := s.generate(ctx, r, k.gen, file, out); err != nil {
		return "", err
	}
	s.made[out] = true
	return in, nil
}

// generate runs bench/sourcegen (building it on first use) to write out,
// of kind gen, from the CSV file.
func (s *sources) generate(ctx context.Context, r *runner, gen, file, out string) error {
	if s.gen == "" {
		bin := filepath.Join(filepath.Dir(file), "sourcegen")
		b, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/segloop/segloop/bench/sourcegen").CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build bench/sourcegen: %w\n%s", err, b)
		}
		s.gen = bin
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, s.gen, "-kind", gen, "-in", file, "-out", out)
	cmd.Env = append(os.Environ(), diffPostgres+"="+s.pgURL) // sourcegen reads the URL from there, not argv
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bench/sourcegen -kind %s: %w\n%s", gen, err, tail(b, 2000))
	}
	fmt.Fprintf(r.log, "bench: [%d] wrote %s from %s in %.1fs\n", sourcesScenarioID, filepath.Base(out), filepath.Base(file), time.Since(start).Seconds())
	return nil
}

// pgTable is the PostgreSQL table holding the rows of the generated CSV
// file: segloop_bench_users_N for users-N.csv. Tables are replaced by the
// next bench, not dropped.
func pgTable(file string) string {
	base := strings.TrimSuffix(filepath.Base(file), ".csv")
	return "segloop_bench_" + strings.ReplaceAll(base, "-", "_")
}

// sourcesFigures are, per input kind: rows/s, CPU seconds and peak RSS on
// the throughput size, rows/s and CPU seconds ÷ the CSV's (CPU is the
// steadier on a busy machine), peak RSS (judged for Parquet and
// the queries) and rows/s on the large size, and the rows delivered of
// both; then the bench process's own peak RSS, the floor of every client's.
func sourcesFigures(sc *scenario, runs []runResult) []figure {
	f := &figs{name: sc.Name}
	small, large := sc.Rows[0], sc.Rows[1]
	rate := func(r runResult) float64 { return delivered(r) / r.WallSec }
	csvRate := medianOf(runs, clientSourceCSV, small, rate)
	csvCPU := medianOf(runs, clientSourceCSV, small, cpu)
	pg := false
	for _, c := range sc.Clients {
		pg = pg || c.Name == clientSourcePG
		k, _ := kindOf(c.Name)
		perSec := medianOf(runs, c.Name, small, rate)
		f.info(fmt.Sprintf("%s: rows/s (%d rows)", c.Name, small), perSec, fmtPerSec)
		if c.Name != clientSourceCSV {
			f.info(c.Name+": rows/s ÷ CSV's", ratio(perSec, csvRate), fmtRatio)
		}
		cpuSec := medianOf(runs, c.Name, small, cpu)
		f.info(c.Name+": CPU seconds (user+sys)", cpuSec, fmtSec)
		if c.Name != clientSourceCSV {
			f.info(c.Name+": CPU seconds ÷ CSV's", ratio(cpuSec, csvCPU), fmtRatio)
		}
		f.info(fmt.Sprintf("%s: peak RSS (%d rows)", c.Name, small), medianOf(runs, c.Name, small, rssMiB), fmtMiB)
		rss := medianOf(runs, c.Name, large, rssMiB)
		metric := fmt.Sprintf("%s: peak RSS (%d rows)", c.Name, large)
		if k.judged {
			f.add(metric, rss, fmtMiB(rss), fmt.Sprintf("≤ %d MiB (issue 16)", sourcesRSSTarget), atMost(rss, sourcesRSSTarget))
		} else {
			f.info(metric, rss, fmtMiB)
		}
		f.info(fmt.Sprintf("%s: rows/s (%d rows)", c.Name, large), medianOf(runs, c.Name, large, rate), fmtPerSec)
		del := math.Min(medianOf(runs, c.Name, small, delivered)/float64(small), medianOf(runs, c.Name, large, delivered)/float64(large))
		f.add(c.Name+": rows delivered, both sizes", del, fmtPct(del), "100%", atLeast(del, 1))
	}
	if !pg {
		f.add(clientSourcePG, math.NaN(), "not run: $"+diffPostgres+" names no server", "", "")
	}
	if hwm := selfPeakRSSMiB(); hwm > 0 {
		f.info("the bench process's own peak RSS (every client's floor: a vfork'd child starts from it)", hwm, fmtMiB)
	}
	return f.list
}

// selfPeakRSSMiB is this process's peak resident memory (VmHWM), or 0 when
// /proc cannot tell.
func selfPeakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err == nil {
				return kib / 1024
			}
		}
	}
	return 0
}
