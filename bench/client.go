package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Client names, as they appear in the table and the JSON.
const (
	clientSegloop = "segloop"
	clientAgo     = "analytics-go"
)

// benchWriteKey is the write key every client sends; the sandbox accepts any.
const benchWriteKey = "bench-write-key"

// clientConfig is one client process of a scenario. Name is what the table calls the client; every name other than clientAgo
// runs segloop, so one scenario can run segloop with several command lines
// under several names.
type clientConfig struct {
	Name  string  `json:"name"`  // clientAgo, or a segloop command line's name
	Batch int     `json:"batch"` // items per request
	Rate  float64 `json:"rate"`  // segloop --rate (0 = no limit); ignored for analytics-go, which has none
	// DefaultRate leaves --rate out, so segloop runs at its own default
	// (segloopDefaultRate); Rate is then ignored.
	DefaultRate bool     `json:"defaultRate,omitempty"`
	Extra       []string `json:"extra,omitempty"`
	// Server, if set, is the sandbox of this client's runs instead of the
	// scenario's (scenario 6's clean time beside its faults).
	Server *serverConfig `json:"server,omitempty"`
	// Build is empty for the segloop built from the tree being measured, or
	// the label of the -baseline build this client's runs use.
	Build string `json:"build,omitempty"`
}

// segloopDefaultRate is segloop import's default --rate (cmd/segloop's
// defaultRate), the ceiling a client with DefaultRate is judged against.
const segloopDefaultRate = 250

// args is the command line of the client for one input file and endpoint.
func (c clientConfig) args(endpoint, file string) []string {
	batch := strconv.Itoa(c.Batch)
	if c.Name == clientAgo {
		return []string{"--endpoint", endpoint, "--write-key", benchWriteKey, "--batch", batch, file}
	}
	args := []string{"import", "--endpoint", endpoint, "--write-key", benchWriteKey, "--batch", batch}
	if !c.DefaultRate {
		args = append(args, "--rate", strconv.FormatFloat(c.Rate, 'f', -1, 64))
	}
	args = append(args, "--results", "/dev/null", "--log-format", "json")
	args = append(args, c.Extra...)
	return append(args, file)
}

// clientReport is what the client said about its own run: segloop's summary
// (stderr, --log-format json) or agoloop's one line (stdout).
type clientReport struct {
	OK        int64         `json:"ok"`        // items reported delivered
	Failed    int64         `json:"failed"`    // items reported failed (plus invalid, for segloop)
	Requests  int64         `json:"requests"`  // segloop only
	Throttled int64         `json:"throttled"` // segloop only: 429 answers it saw
	Retries   int64         `json:"retries"`   // segloop only
	Paused    time.Duration `json:"paused"`    // segloop only: time paused by Retry-After
	Elapsed   time.Duration `json:"elapsed"`   // segloop only: its own elapsed time (wall time minus start-up and exit)
	Parsed    bool          `json:"parsed"`    // whether a report was found
}

// segloopSummary is the JSON log record segloop import ends with.
type segloopSummary struct {
	Msg       string `json:"msg"`
	OK        int64  `json:"ok"`
	Invalid   int64  `json:"invalid"`
	Failed    int64  `json:"failed"`
	Requests  int64  `json:"requests"`
	Throttled int64  `json:"throttled"`
	Retries   int64  `json:"retries"`
	Paused    string `json:"paused"`
	Elapsed   string `json:"elapsed"`
}

// parseReport reads the client's own report from its output.
func parseReport(name string, stdout, stderr []byte) clientReport {
	if name == clientAgo {
		return parseAgoReport(stdout)
	}
	return parseSegloopReport(stderr)
}

// parseSegloopReport finds the last "import finished" or "import stopped"
// JSON record on stderr.
func parseSegloopReport(stderr []byte) clientReport {
	var r clientReport
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	sc.Buffer(make([]byte, 0, 64<<10), outputLimit)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var s segloopSummary
		if json.Unmarshal(line, &s) != nil || (s.Msg != "import finished" && s.Msg != "import stopped") {
			continue
		}
		r = clientReport{OK: s.OK, Failed: s.Failed + s.Invalid, Requests: s.Requests,
			Throttled: s.Throttled, Retries: s.Retries, Parsed: true}
		r.Paused, _ = time.ParseDuration(s.Paused)
		r.Elapsed, _ = time.ParseDuration(s.Elapsed)
	}
	return r
}

// parseAgoReport reads agoloop's "agoloop: enqueued N, succeeded S, failed
// F, rejected R" line.
func parseAgoReport(stdout []byte) clientReport {
	var r clientReport
	var enqueued, rejected int64
	i := bytes.Index(stdout, []byte("agoloop: "))
	if i < 0 {
		return r
	}
	n, _ := fmt.Sscanf(string(stdout[i:]), "agoloop: enqueued %d, succeeded %d, failed %d, rejected %d",
		&enqueued, &r.OK, &r.Failed, &rejected)
	r.Failed += rejected
	r.Parsed = n == 4
	return r
}
