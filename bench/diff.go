package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Scenario 15 (issue 15): diff mode's second night. Run 1 sends every row
// and fills the ledger; run 2, the one measured, reads the same rows with 1%
// changed, so it looks every row up and sends 1% of them. The PostgreSQL
// ledger runs when $SEGLOOP_BENCH_POSTGRES_URL names a server (a user that
// may create schemas); each run gets a fresh schema.
const (
	diffScenarioID = 15
	diffEvery      = 100 // one row in diffEvery is changed in run 2
	diffPostgres   = "SEGLOOP_BENCH_POSTGRES_URL"
	clientDiffFile = "segloop --diff FILE"
	clientDiffPG   = "segloop --diff postgres://"
	// Issue 15's targets for run 2 with the embedded ledger.
	diffItemsTarget = 100_000
	diffRSSTarget   = 64
)

func diffScenario(sz sizes) *scenario {
	clients := []clientConfig{{Name: clientDiffFile, Batch: batchSize}}
	if os.Getenv(diffPostgres) != "" {
		clients = append(clients, clientConfig{Name: clientDiffPG, Batch: batchSize})
	}
	return &scenario{ID: diffScenarioID, Name: "diff mode, second run, 1% changed", Rows: []int{sz.memLarge},
		Clients: clients, each: runDiff, figures: diffFigures}
}

// runDiff is one run of scenario 15: a fresh sandbox and a fresh ledger,
// run 1 on file, then run 2 (measured) on its changed copy. The server
// figures are run 2's alone.
func runDiff(ctx context.Context, r *runner, srv serverConfig, c clientConfig, file string) (runResult, error) {
	changed, err := changedCopy(file)
	if err != nil {
		return runResult{}, err
	}
	ledger := filepath.Join(filepath.Dir(file), "bench.ledger")
	if c.Name == clientDiffPG {
		if ledger, err = freshSchema(ctx, os.Getenv(diffPostgres)); err != nil {
			return runResult{}, err
		}
	} else {
		for _, s := range []string{"", "-wal", "-shm"} {
			os.Remove(ledger + s)
		}
	}
	sb, err := startSandbox(ctx, r.bins.segloop, srv)
	if err != nil {
		return runResult{}, err
	}
	defer sb.stop()
	cc := c
	cc.Name = clientSegloop
	cc.Extra = append([]string{"--diff", ledger}, c.Extra...)
	bin := r.binOf(c) // with -baseline, both runs of the baseline's pair on its build
	first, err := runMeasured(ctx, bin, cc.args(sb.url, file)...)
	if err != nil || first.ExitCode != 0 {
		return runResult{}, fmt.Errorf("run 1: exit %d, %v; stderr: %s", first.ExitCode, err, tail(first.Stderr, 2000))
	}
	before, err := sb.stats(ctx)
	if err != nil {
		return runResult{}, err
	}
	fmt.Fprintf(r.log, "bench: [%d] %s: run 1 (fills the ledger): %.2fs wall, %.2fs CPU, %d KiB RSS\n", diffScenarioID, c.label(), first.Wall.Seconds(), first.CPU.Seconds(), first.MaxRSSKiB)
	u, err := runMeasured(ctx, bin, cc.args(sb.url, changed)...)
	if err != nil {
		return runResult{}, fmt.Errorf("run 2: %w; stderr: %s", err, tail(u.Stderr, 2000))
	}
	after, err := sb.stats(ctx)
	if err != nil {
		return runResult{}, err
	}
	after.Unique -= before.Unique
	after.Requests -= before.Requests
	after.Events -= before.Events
	return measured(c.Name, u, after), nil
}

// changedCopy writes, once, file with one data row in diffEvery changed
// (its plan), beside it.
func changedCopy(file string) (string, error) {
	out := strings.TrimSuffix(file, ".csv") + "-changed.csv"
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	in, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer in.Close()
	err = writeFile(out, func(w *bufio.Writer) error {
		sc := bufio.NewScanner(in)
		sc.Buffer(nil, 1<<20)
		for row := -1; sc.Scan(); row++ {
			line := sc.Bytes()
			if row >= 0 && row%diffEvery == diffEvery/2 {
				// The plan column (the 5th) becomes "changed".
				cells := bytes.Split(line, []byte(","))
				cells[4] = []byte("changed")
				line = bytes.Join(cells, []byte(","))
			}
			w.Write(line)
			w.WriteByte('\n')
		}
		return sc.Err()
	})
	if err != nil {
		return "", err
	}
	return out, nil
}

// freshSchema drops and creates the schema segloop_bench in the database
// at url and returns url with it as the search_path.
func freshSchema(ctx context.Context, url string) (string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", fmt.Errorf("%s: %w", diffPostgres, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS segloop_bench CASCADE; CREATE SCHEMA segloop_bench"); err != nil {
		return "", fmt.Errorf("%s: %w", diffPostgres, err)
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=segloop_bench", nil
}

func diffFigures(sc *scenario, runs []runResult) []figure {
	f := &figs{name: sc.Name}
	rows := sc.Rows[0]
	for _, c := range sc.Clients {
		w := medianOf(runs, c.Name, rows, wall)
		perSec := float64(rows) / w
		rss := medianOf(runs, c.Name, rows, rssMiB)
		sent := medianOf(runs, c.Name, rows, func(r runResult) float64 { return float64(r.Server.Events) })
		if c.Name == clientDiffFile {
			f.add(c.Name+": run 2 items/s", perSec, fmtPerSec(perSec), fmt.Sprintf("≥ %d/s", diffItemsTarget), atLeast(perSec, diffItemsTarget))
			f.add(c.Name+": run 2 peak RSS", rss, fmtMiB(rss), fmt.Sprintf("≤ %d MiB", diffRSSTarget), atMost(rss, diffRSSTarget))
		} else {
			f.info(c.Name+": run 2 items/s", perSec, fmtPerSec)
			f.info(c.Name+": run 2 peak RSS", rss, fmtMiB)
		}
		f.info(c.Name+": run 2 wall time", w, fmtSec)
		f.info(c.Name+": run 2 CPU per item", medianOf(runs, c.Name, rows, cpu)/float64(rows), fmtMicros)
		want := float64((rows + diffEvery - 1 - diffEvery/2) / diffEvery)
		f.add(c.Name+": run 2 events sent (changed rows)", sent, fmt.Sprintf("%.0f of %.0f changed", sent, want), fmt.Sprintf("= %.0f", want), verdict(sent, sent == want))
	}
	return f.list
}
