package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// inputKind names the generated input a scenario reads.
type inputKind uint8

const (
	usersInput  inputKind = iota // csvHeader: one column per trait (testdata/users.csv's shape)
	traitsInput                  // traitsHeader: a JSON object column, as warehouse exports have
)

// traitsHeader is the header of the traits-column input.
const traitsHeader = "id,email,name,plan,traits\n"

// traitsScenarioID is the number of the traits-column scenario (issue 11).
const traitsScenarioID = 11

// traitsCPUTarget is issue 11's CPU target on the traits-column input.
const traitsCPUTarget = 0.35

// traitsScenario measures both clients on the traits-column input: the
// cost of a row whose traits come as one JSON cell.
func traitsScenario(sz sizes) *scenario {
	return &scenario{ID: traitsScenarioID, Name: "throughput, JSON traits column", Rows: []int{sz.throughput}, Input: traitsInput,
		Clients: []clientConfig{{Name: clientSegloop, Batch: batchSize}, {Name: clientAgo, Batch: batchSize}},
		figures: func(sc *scenario, runs []runResult) []figure { return cpuFigures(sc, runs, traitsCPUTarget, 0) }}
}

// fileOf returns the generated input of kind with rows data rows.
func (in *inputs) fileOf(kind inputKind, rows int) (string, error) {
	if kind == usersInput {
		return in.file(rows)
	}
	p := filepath.Join(in.dir, fmt.Sprintf("traits-%d.csv", rows))
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if err := writeFile(p, func(w *bufio.Writer) error { return writeTraitsUsers(w, rows) }); err != nil {
		return "", err
	}
	return p, nil
}

// writeTraitsUsers writes the header and rows valid, distinct users whose
// traits cell holds a JSON object such as
//
//	{"company":"Acme","seats":12,"beta":true,"tags":["a","b"]}
//
// quoted as CSV quotes it. The content depends only on rows.
func writeTraitsUsers(w *bufio.Writer, rows int) error {
	companies := [...]string{"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises", "Tyrell"}
	names := [...]string{"Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra", "Barbara Liskov", "Ken Thompson", "Radia Perlman", "Leslie Lamport"}
	plans := [...]string{"free", "team", "business", "enterprise"}
	tags := [...]string{"a", "b", "beta", "vip", "eu", "us"}
	rng := rand.New(rand.NewPCG(uint64(rows), 11))
	if _, err := w.WriteString(traitsHeader); err != nil {
		return err
	}
	var buf []byte
	for i := 1; i <= rows; i++ {
		buf = appendID(buf[:0], i)
		buf = append(buf, "user"...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, "@example.com,"...)
		buf = append(buf, names[rng.IntN(len(names))]...)
		buf = append(buf, ',')
		buf = append(buf, plans[rng.IntN(len(plans))]...)
		buf = append(buf, `,"{""company"":""`...)
		buf = append(buf, companies[rng.IntN(len(companies))]...)
		buf = append(buf, `"",""seats"":`...)
		buf = strconv.AppendInt(buf, int64(1+rng.IntN(500)), 10)
		buf = append(buf, `,""beta"":`...)
		buf = strconv.AppendBool(buf, rng.IntN(2) == 0)
		buf = append(buf, `,""tags"":[`...)
		for k, n := 0, 1+rng.IntN(3); k < n; k++ {
			if k > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `""`...)
			buf = append(buf, tags[rng.IntN(len(tags))]...)
			buf = append(buf, `""`...)
		}
		buf = append(buf, "]}\"\n"...)
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// cpuFigures are the figures of a throughput scenario: per client its rate,
// wall and CPU time, and the CPU (and, when wallTarget > 0, wall) ratio of
// segloop to analytics-go against their targets.
func cpuFigures(sc *scenario, runs []runResult, cpuTarget, wallTarget float64) []figure {
	f := &figs{name: sc.Name}
	rows := sc.Rows[0]
	var cpus, walls [2]float64
	for i, c := range []string{clientSegloop, clientAgo} {
		walls[i] = medianOf(runs, c, rows, wall)
		cpus[i] = medianOf(runs, c, rows, cpu)
		items := medianOf(runs, c, rows, func(r runResult) float64 { return delivered(r) / r.WallSec })
		f.info(fmt.Sprintf("%s: delivered items/s (%d rows)", c, rows), items, fmtPerSec)
		f.info(c+": wall time", walls[i], fmtSec)
		f.info(c+": CPU seconds (user+sys)", cpus[i], fmtSec)
		f.info(c+": CPU per item", cpus[i]/float64(rows), fmtMicros)
		f.info(c+": rows not delivered", medianOf(runs, c, rows, notDelivered), fmtCount)
		f.info(c+": peak RSS", medianOf(runs, c, rows, rssMiB), fmtMiB)
	}
	cr := ratio(cpus[0], cpus[1])
	f.add("CPU seconds, segloop ÷ analytics-go", cr, fmtRatio(cr), fmt.Sprintf("≤ %.2f× (issue 11)", cpuTarget), atMost(cr, cpuTarget))
	wr := ratio(walls[0], walls[1])
	if wallTarget > 0 {
		f.add("wall time, segloop ÷ analytics-go", wr, fmtRatio(wr), fmt.Sprintf("≤ %.2f× (issue 7)", wallTarget), atMost(wr, wallTarget))
	} else {
		f.info("wall time, segloop ÷ analytics-go", wr, fmtRatio)
	}
	return f.list
}
