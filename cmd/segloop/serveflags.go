package main

import (
	"flag"
	"io"
	"time"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/runstore"
	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/serve"
)

// Defaults of the serve flags.
const (
	defaultServeAddr = "127.0.0.1:8844"
	defaultServeDB   = "segloop.db"
	minTokenLen      = 16
)

// serveHelp is segloop serve -h. Every flag that serveFlags.register
// defines is named in one section.
var serveHelp = helpPage{
	usage: "segloop serve [flags]",
	about: `Runs segloop as a service: the Identify action as one HTTP call, Loop runs of
many items with per-item results, retry and cancel, a page, and metrics.
Runs are durable: a run answered 202 survives a crash and restart.`,
	sections: []helpSection{
		{"Listening and access", []string{"addr", "token-file"}},
		{"Storage", []string{"db", "max-body"}},
		{"Parts and replicas", []string{"parts", "replica", "lease", "slice"}},
		{"Destination", []string{"write-key", "endpoint", "region", "sandbox"}},
		{"Pace and retries", []string{"rate", "burst", "adaptive", "concurrency", "batch", "max-attempts", "timeout", "max-runs", "redis"}},
		{"Diff mode", []string{"diff"}},
		{"Logging", []string{"log-format"}},
	},
	examples: `  SEGLOOP_TOKEN=$(cat token) SEGMENT_WRITE_KEY=... segloop serve --db /var/lib/segloop/runs.db
  segloop serve --sandbox          # try it on loopback without an account
  segloop serve --diff /var/lib/segloop/ledgers   # runs with "diff": true send only what changed
  segloop serve --addr 0.0.0.0:8844 --token-file token \
      --db postgres://segloop@db/segloop --redis redis://cache:6379/0`,
}

// serveFlags is the parsed command line of segloop serve.
type serveFlags struct {
	addr        string
	db          string
	tokenFile   string
	writeKey    string
	endpoint    string
	region      string
	sandbox     bool
	rate        float64
	burst       int
	adaptive    bool
	concurrency concurrency
	batch       int
	maxAttempts int
	timeout     time.Duration
	maxRuns     int
	maxBody     int64
	limiter     limiterFlags // --redis (limiter.go)
	diff        string       // --diff: a directory or a postgres:// URL; "" = off
	logFormat   string
	replica     string
	parts       int
	lease       time.Duration
	slice       time.Duration
}

// register defines the serve flags on fs, in the groups of serveHelp.
func (f *serveFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	// Listening and access
	fs.StringVar(&f.addr, "addr", defaultServeAddr, "`HOST:PORT` the address to listen on")
	fs.StringVar(&f.tokenFile, "token-file", "", "`FILE` the bearer token every /v1 call and the page need (default $SEGLOOP_TOKEN); required beyond loopback")
	// Storage
	fs.StringVar(&f.db, "db", defaultServeDB, "`FILE|postgres://…` the runs' database: a file, created 0600, or a PostgreSQL database that several replicas share (each run is split into parts any replica works)")
	fs.Int64Var(&f.maxBody, "max-body", serve.DefaultMaxBody, "`BYTES` the largest POST /v1/runs body")
	// Replicas
	fs.StringVar(&f.replica, "replica", "", "`NAME` this replica's name in runs' details (default: host name and process id)")
	fs.IntVar(&f.parts, "parts", 0, "`N` parts a run's items are split into by user, worked at once (by any replica) (default: 8 with a postgres:// --db, 2 with a file)")
	fs.DurationVar(&f.lease, "lease", serve.DefaultLease, "`D` a part's lease: a dead replica's parts are taken over about this long after it died")
	fs.DurationVar(&f.slice, "slice", serve.DefaultSlice, "`D` how long a part is worked before it is handed back")
	// Destination
	fs.StringVar(&f.writeKey, "write-key", "", "`KEY` the write key of requests without X-Segment-Write-Key (default $SEGMENT_WRITE_KEY; prefer the variable: flags show in ps)")
	fs.StringVar(&f.endpoint, "endpoint", "", "`URL` the Segment endpoint (default $SEGMENT_ENDPOINT, else the --region's)")
	fs.StringVar(&f.region, "region", "", "`us|eu` the Segment region (default us)")
	fs.BoolVar(&f.sandbox, "sandbox", false, "send to an in-process Segment-compatible sandbox server instead of Segment")
	// Pace and retries
	fs.Float64Var(&f.rate, "rate", defaultRate, "`N` requests per second per write key at most (token bucket; 0 = no limit)")
	fs.IntVar(&f.burst, "burst", 0, "`N` the token bucket's burst (default: a tenth of the rate, at least 1)")
	fs.BoolVar(&f.adaptive, "adaptive", true, "lower the rate on 429s and climb back on successes, never above --rate (--adaptive=false keeps it fixed)")
	fs.Var(&f.concurrency, "concurrency", "`auto|N` requests in flight per part of a run: auto follows the round trip so that --rate is the bound; N fixes it")
	fs.IntVar(&f.batch, "batch", segloop.DefaultBatchSize, "`N` items per request, up to 2500 (1 uses /v1/identify); a run's \"batch\" option overrides it")
	fs.IntVar(&f.maxAttempts, "max-attempts", loop.DefaultMaxAttempts, "`N` attempts per request for retryable failures")
	fs.DurationVar(&f.timeout, "timeout", segment.DefaultTimeout, "`D` the timeout of one request to Segment")
	fs.IntVar(&f.maxRuns, "max-runs", serve.DefaultMaxRuns, "`N` runs worked at once, 2 parts each; the others queue")
	f.limiter.register(fs, getenv)
	// Diff
	fs.Var((*ledgerURL)(&f.diff), "diff",
		"`DIR|postgres://…` let runs ask for diff mode (\"diff\": true: send only the items whose event changed since Segment last accepted one for their user): the ledgers, one per endpoint and write key, as files DIR/DESTINATION.ledger (created 0600), or schemas segloop_ledger_DESTINATION of a PostgreSQL database (the only kind with --db postgres://…: replicas share it)")
	// Logging
	fs.StringVar(&f.logFormat, "log-format", "text", "`text|json` the format of logs on stderr")
}

// parseServeFlags parses args and fills the defaults from getenv. -h
// writes the help to stdout. Errors are usage errors.
func parseServeFlags(args []string, getenv func(string) string, stdout, stderr io.Writer) (*serveFlags, error) {
	f := &serveFlags{}
	fs := flag.NewFlagSet("segloop serve", flag.ContinueOnError)
	f.register(fs, getenv)
	rest, err := parseFlags(fs, &serveHelp, args, stdout, stderr)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, usageError("serve: unexpected argument %q", rest[0])
	}
	if f.writeKey == "" {
		f.writeKey = getenv("SEGMENT_WRITE_KEY")
	}
	if err := f.resolveEndpoint(getenv); err != nil {
		return nil, err
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *serveFlags) resolveEndpoint(getenv func(string) string) error {
	switch {
	case f.sandbox && (f.endpoint != "" || f.region != ""):
		return usageError("serve: --sandbox sends to the in-process sandbox; drop --endpoint and --region")
	case f.endpoint != "" && f.region != "":
		return usageError("serve: give --endpoint or --region, not both")
	case f.region != "":
		ep, err := segment.RegionEndpoint(f.region)
		if err != nil {
			return usageError("serve: --region: %v", err)
		}
		f.endpoint = ep
	case f.endpoint == "" && !f.sandbox:
		f.endpoint = getenv("SEGMENT_ENDPOINT")
		if f.endpoint == "" {
			f.endpoint = segment.EndpointUS
		}
	}
	return nil
}

// check validates the flags' values.
func (f *serveFlags) check() error {
	switch {
	case f.db == "":
		return usageError("serve: --db needs a file")
	case !(f.rate >= 0 && f.rate <= maxRate): // NaN fails both
		return usageError("serve: --rate must be 0 (no limit) or a number of requests per second up to %v, got %v", maxRate, f.rate)
	case f.burst < 0:
		return usageError("serve: --burst must be positive, got %d", f.burst)
	case f.concurrency > maxConcurrency:
		return usageError("serve: --concurrency must be auto or between 1 and %d, got %d", maxConcurrency, f.concurrency)
	case f.batch < 1 || f.batch > segment.MaxBatchEvents:
		return usageError("serve: --batch must be between 1 and %d, got %d", segment.MaxBatchEvents, f.batch)
	case f.maxAttempts < 1 || f.maxAttempts > maxAttempts:
		return usageError("serve: --max-attempts must be between 1 and %d, got %d", maxAttempts, f.maxAttempts)
	case f.timeout <= 0 || f.timeout > maxDuration:
		return usageError("serve: --timeout must be positive and at most %v, got %v", maxDuration, f.timeout)
	case f.maxRuns < 1:
		return usageError("serve: --max-runs must be at least 1, got %d", f.maxRuns)
	case f.maxBody < 1:
		return usageError("serve: --max-body must be positive, got %d", f.maxBody)
	case f.parts < 0 || f.parts > runstore.MaxParts:
		return usageError("serve: --parts must be between 1 and %d, got %d", runstore.MaxParts, f.parts)
	case f.lease < 100*time.Millisecond:
		return usageError("serve: --lease must be at least 100ms, got %v", f.lease)
	case f.slice <= 0:
		return usageError("serve: --slice must be positive, got %v", f.slice)
	case f.logFormat != "text" && f.logFormat != "json":
		return usageError("serve: --log-format must be text or json, got %q", f.logFormat)
	}
	return nil
}
