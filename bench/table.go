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
		Load:      loadAverage("/proc/loadavg"),
	}
}

// loadAverage is the 1-minute load average of a /proc/loadavg file, or "unknown".
func loadAverage(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "unknown"
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
	Runs      int              `json:"runs"`
	Quick     bool             `json:"quick"`
	Scenarios []scenarioResult `json:"scenarios"`
}

// writeTable writes rep as a markdown table: one row per figure, the median
// of rep.Runs runs, with the target and PASS/MISS where issue 7 sets one.
func writeTable(w io.Writer, rep report) error {
	var b strings.Builder
	m := rep.Machine
	fmt.Fprintf(&b, "Machine: %s, %d cores, %s, %s; %s; load average %s at the start. Median of %d run(s).\n\n",
		m.CPU, m.Cores, m.GoVersion, m.OS, m.Date, orDash(m.Load), rep.Runs)
	if rep.Command != "" {
		fmt.Fprintf(&b, "Command: `%s`\n\n", rep.Command)
	}
	b.WriteString("| # | Scenario | Figure | Median | Target | Result |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, sc := range rep.Scenarios {
		for _, f := range sc.Figures {
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n",
				sc.ID, cell(sc.Name), cell(f.Metric), cell(f.Text), cell(orDash(f.Target)), cell(orDash(f.Verdict)))
		}
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
