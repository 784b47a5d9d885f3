package main

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func sourcesOf(t *testing.T, quick bool) *scenario {
	t.Helper()
	for _, sc := range plan(quick) {
		if sc.ID == sourcesScenarioID {
			return sc
		}
	}
	t.Fatalf("no scenario %d", sourcesScenarioID)
	return nil
}

// TestSourcesClients: one client per input kind, PostgreSQL's only when
// $SEGLOOP_BENCH_POSTGRES_URL names a server, and the figures say so.
func TestSourcesClients(t *testing.T) {
	t.Setenv(diffPostgres, "")
	sc := sourcesOf(t, false)
	if len(sc.Clients) != len(sourceKinds)-1 || sc.Rows[0] != 200_000 || sc.Rows[1] != 1_000_000 {
		t.Fatalf("without PostgreSQL: %d clients on %v rows", len(sc.Clients), sc.Rows)
	}
	found := false
	for _, f := range sc.figures(sc, nil) {
		if f.Metric == clientSourcePG && strings.Contains(f.Text, "not run") {
			found = true
		}
	}
	if !found {
		t.Errorf("without PostgreSQL the figures do not say it did not run")
	}
	t.Setenv(diffPostgres, "postgres://bench@127.0.0.1:1/postgres")
	if sc := sourcesOf(t, true); len(sc.Clients) != len(sourceKinds) || sc.Rows[0] != 20_000 {
		t.Errorf("with PostgreSQL, quick: %d clients on %v rows", len(sc.Clients), sc.Rows)
	}
}

// TestSourcesInput: what each client reads for a generated CSV, once
// written.
func TestSourcesInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users-100.csv")
	s := &sources{pgURL: "postgres://bench@127.0.0.1:1/postgres", made: make(map[string]bool)}
	want := map[string]string{
		clientSourceCSV: file,
		"gzip'd CSV":    filepath.Join(dir, "users-100.csv.gz"),
		"zstd NDJSON":   filepath.Join(dir, "users-100.ndjson.zst"),
		"Parquet":       filepath.Join(dir, "users-100.parquet"),
		"SQLite query":  "sqlite:" + filepath.Join(dir, "users-100.db"),
		clientSourcePG:  s.pgURL,
	}
	for _, out := range []string{"users-100.csv.gz", "users-100.ndjson.zst", "users-100.parquet", "users-100.db"} {
		s.made[filepath.Join(dir, out)] = true
	}
	s.made["segloop_bench_users_100"] = true
	for _, k := range sourceKinds {
		got, err := s.input(context.Background(), &runner{}, k, file)
		if err != nil || got != want[k.client] {
			t.Errorf("%s: %q, %v; want %q", k.client, got, err, want[k.client])
		}
	}
	if got := pgTable(file); got != "segloop_bench_users_100" {
		t.Errorf("pgTable: %q", got)
	}
}

func TestSourcesFigures(t *testing.T) {
	t.Setenv(diffPostgres, "postgres://bench@127.0.0.1:1/postgres")
	sc := sourcesOf(t, false)
	small, large := sc.Rows[0], sc.Rows[1]
	var runs []runResult
	for _, c := range sc.Clients {
		wall, cpu, rss := 2.0, 1.0, 40.0 // 100,000 rows/s; MiB at the large size
		switch c.Name {
		case "Parquet":
			wall, cpu, rss = 4.0, 1.5, 70
		case clientSourcePG:
			rss = 64
		}
		for _, rows := range sc.Rows {
			unique := int64(rows)
			if c.Name == "SQLite query" && rows == large {
				unique--
			}
			runs = append(runs, runResult{Client: c.Name, Rows: rows, WallSec: wall * float64(rows) / float64(small),
				CPUSec: cpu, MaxRSSKiB: int64(rss * 1024), Server: serverStats{Unique: unique}})
		}
	}
	got := make(map[string]figure)
	for _, f := range sc.figures(sc, runs) {
		got[f.Metric] = f
	}
	checks := []struct {
		metric, verdict string
		value           float64
	}{
		{"Parquet: rows/s ÷ CSV's", "", 0.5},
		{"PostgreSQL query: rows/s ÷ CSV's", "", 1},
		{"Parquet: CPU seconds ÷ CSV's", "", 1.5},
		{"CSV: rows/s (200000 rows)", "", 100_000},
		{"Parquet: peak RSS (1000000 rows)", miss, 70},
		{"PostgreSQL query: peak RSS (1000000 rows)", pass, 64},
		{"SQLite query: peak RSS (1000000 rows)", pass, 40},
		{"CSV: peak RSS (1000000 rows)", "", 40},
		{"SQLite query: rows delivered, both sizes", miss, 1 - 1.0/float64(large)},
		{"Parquet: rows delivered, both sizes", pass, 1},
	}
	for _, c := range checks {
		f, ok := got[c.metric]
		if !ok || f.Verdict != c.verdict || math.Abs(f.Value-c.value) > 1e-9*math.Max(1, c.value) {
			t.Errorf("%s: %+v (found %v); want %v, verdict %q", c.metric, f, ok, c.value, c.verdict)
		}
	}
	if _, ok := got["CSV: rows/s ÷ CSV's"]; ok {
		t.Error("the CSV is set against itself")
	}
}
