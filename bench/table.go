package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// machine names where a bench ran.
type machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
	Date      string `json:"date"`
	Load      string `json:"load"` // /proc/loadavg's 1-minute figure when the bench started
}

// thisMachine describes the machine the bench runs on, now.
func thisMachine(now time.Time) machine {
	return machine{
		CPU:       cpuModel("/proc/cpuinfo"),
		Cores:     runtime.NumCPU(),
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS + "/" + runtime.GOARCH,
		Date:      now.UTC().Format("2006-01-02 15:04 MST"),
		Load:      fmtLoad(loadNow()),
	}
}

// cpuModel is the first "model name" of a /proc/cpuinfo file, or "unknown".
func cpuModel(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return parseCPUModel(b)
}

func parseCPUModel(cpuinfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// report is the whole bench, as written to the JSON file.
type report struct {
	Machine   machine          `json:"machine"`
	Command   string           `json:"command"`
	Build     string           `json:"build"`              // the tree measured (git describe --always --dirty)
	Baseline  string           `json:"baseline,omitempty"` // the -baseline build's commit
	Runs      int              `json:"runs"`
	Quick     bool             `json:"quick"`
	Scenarios []scenarioResult `json:"scenarios"`
}

// writeTable writes rep as a markdown table: one row per figure, the median
// of rep.Runs runs, with the target and PASS/MISS where an issue sets one,
// and the load averages read before the scenario and its runs. A figure of
// a scenario that ran at a load above highLoad is marked, with a footnote.
func writeTable(w io.Writer, rep report) error {
	var b strings.Builder
	m := rep.Machine
	fmt.Fprintf(&b, "Machine: %s, %d cores, %s, %s; %s; load average %s at the start. Median of %d run(s).\n\n",
		m.CPU, m.Cores, m.GoVersion, m.OS, m.Date, orDash(m.Load), rep.Runs)
	if rep.Command != "" {
		fmt.Fprintf(&b, "Command: `%s`", rep.Command)
		if rep.Build != "" {
			fmt.Fprintf(&b, " at %s", rep.Build)
		}
		if rep.Baseline != "" {
			fmt.Fprintf(&b, ", baseline %s", rep.Baseline)
		}
		b.WriteString("\n\n")
	}
	b.WriteString("| # | Scenario | Figure | Median | Target | Result | Load |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	marked := false
	for _, sc := range rep.Scenarios {
		load := loadCell(sc)
		for _, f := range sc.Figures {
			text := f.Text
			if f.HighLoad {
				text += " " + highLoadMark
				marked = true
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s |\n",
				sc.ID, cell(sc.Name), cell(f.Metric), cell(text), cell(orDash(f.Target)), cell(orDash(f.Verdict)), load)
		}
	}
	if marked {
		fmt.Fprintf(&b, "\n%s taken at a 1-minute load average above %.0f (Load: the reading before the scenario; runs: the range of the readings before each run): other work shared the machine, so the figure is noisy.\n",
			highLoadMark, highLoad)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell escapes the pipe, which would end a markdown table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
