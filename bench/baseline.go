package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Before and after in one run: -baseline REF builds segloop a second time,
// from the git ref REF, and runs every segloop client of the chosen
// scenarios on both builds, interleaved (same input, same server seed, the
// order alternating from run to run). The scenario's own figures are the
// tree's; beforeAfterFigures adds the ratios of the two.

// baseline is a segloop binary built from a git ref.
type baseline struct {
	path  string // the binary; empty: no baseline
	label string // the ref's short commit hash
}

// buildBaseline builds cmd/segloop as it is at ref into dir. It exports the
// ref's tree with git archive into a directory of its own under dir (the
// caller's checkout, index and worktrees are not touched), builds there, and
// removes the sources again.
func buildBaseline(ctx context.Context, dir, ref string) (baseline, error) {
	commit, err := gitOutput(ctx, "rev-parse", "--short", "--verify", "--end-of-options", ref+"^{commit}")
	if err != nil {
		return baseline{}, fmt.Errorf("-baseline %s: %w", ref, err)
	}
	src := filepath.Join(dir, "baseline-"+commit)
	tarball := src + ".tar"
	defer os.RemoveAll(src)
	defer os.Remove(tarball)
	if err := os.Mkdir(src, 0o755); err != nil {
		return baseline{}, err
	}
	// From a subdirectory git archive would export only that directory's tree.
	top, err := gitOutput(ctx, "rev-parse", "--show-toplevel")
	if err != nil {
		return baseline{}, fmt.Errorf("-baseline %s: %w", ref, err)
	}
	if _, err := gitOutput(ctx, "-C", top, "archive", "--format=tar", "-o", tarball, commit); err != nil {
		return baseline{}, fmt.Errorf("-baseline %s: %w", ref, err)
	}
	if out, err := exec.CommandContext(ctx, "tar", "-x", "-f", tarball, "-C", src).CombinedOutput(); err != nil {
		return baseline{}, fmt.Errorf("-baseline %s: tar: %w\n%s", ref, err, out)
	}
	bin := filepath.Join(dir, "segloop-"+commit)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/segloop")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return baseline{}, fmt.Errorf("-baseline %s: go build ./cmd/segloop at %s: %w\n%s", ref, commit, err, out)
	}
	return baseline{path: bin, label: commit}, nil
}

// currentBuild names the tree being measured: git describe --always
// --dirty, or "this tree" outside a git checkout.
func currentBuild(ctx context.Context) string {
	d, err := gitOutput(ctx, "describe", "--always", "--dirty")
	if err != nil {
		return "this tree"
	}
	return d
}

// gitOutput runs git with args in the current directory and returns its
// trimmed stdout.
func gitOutput(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// beforeAfterFigures compares the runs of each segloop client on the tree
// (current) with its runs on the baseline build (base): the medians of the
// per-run ratios current ÷ baseline of wall time, CPU seconds and peak RSS
// (a run of one build is paired with the run of the other on the same
// input in the same round), and the baseline's own wall and CPU time. With
// sc.beforeAfter set, wall and CPU ratios are judged against it.
func beforeAfterFigures(sc *scenario, current, base []runResult, cur, baseLabel string) []figure {
	f := &figs{name: sc.Name}
	type key struct {
		client    string
		rows, run int
	}
	byKey := make(map[key]runResult, len(base))
	for _, r := range base {
		byKey[key{r.Client, r.Rows, r.Run}] = r
	}
	vs := cur + " ÷ " + baseLabel
	for _, c := range sc.Clients {
		if c.Name == clientAgo {
			continue
		}
		for _, rows := range sc.Rows {
			var walls, cpus, rss []float64
			for _, r := range current {
				b, ok := byKey[key{r.Client, r.Rows, r.Run}]
				if r.Client != c.Name || r.Rows != rows || !ok {
					continue
				}
				walls = append(walls, ratio(r.WallSec, b.WallSec))
				cpus = append(cpus, ratio(r.CPUSec, b.CPUSec))
				rss = append(rss, ratio(float64(r.MaxRSSKiB), float64(b.MaxRSSKiB)))
			}
			name := c.Name
			if len(sc.Rows) > 1 {
				name = fmt.Sprintf("%s, %d rows", c.Name, rows)
			}
			if len(walls) == 0 {
				f.add(name+": before/after", math.NaN(), "no run of "+baseLabel+" (it refused the command line)", "", "")
				continue
			}
			w, u := median(walls), median(cpus)
			if sc.beforeAfter > 0 {
				target := fmt.Sprintf("≤ %.2f× (issue 10)", sc.beforeAfter)
				f.add(name+": wall time, "+vs, w, fmtRatio(w), target, atMost(w, sc.beforeAfter))
				f.add(name+": CPU seconds, "+vs, u, fmtRatio(u), target, atMost(u, sc.beforeAfter))
			} else {
				f.info(name+": wall time, "+vs, w, fmtRatio)
				f.info(name+": CPU seconds, "+vs, u, fmtRatio)
			}
			f.info(name+": peak RSS, "+vs, median(rss), fmtRatio)
			f.info(name+" @"+baseLabel+": wall time", medianOf(base, c.Name, rows, wall), fmtSec)
			f.info(name+" @"+baseLabel+": CPU seconds (user+sys)", medianOf(base, c.Name, rows, cpu), fmtSec)
			f.info(name+" @"+baseLabel+": rows not delivered", medianOf(base, c.Name, rows, notDelivered), fmtCount)
		}
	}
	return f.list
}
