package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/checkpoint"
	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/source"
)

// Defaults of the import flags that are the command's own; the others are
// the library's (segloop, loop and segment Default constants). The rate stays
// at a quarter of Segment's recommended 1,000 requests/s per workspace, so a
// few jobs can share one; the adaptive limiter lowers it further when Segment
// answers 429.
const (
	defaultRate     = 250
	recommendedRate = 1000
)

// Bounds of the numeric flags: beyond them a value is a typo, not a plan
// (a million workers exhaust memory; a timeout of centuries overflows).
const (
	maxRate        = 1e6
	maxConcurrency = 1000
	maxAttempts    = 100
	maxDuration    = time.Hour
)

// importFlags is the parsed command line of segloop import.
type importFlags struct {
	file        string
	format      source.Format
	delimiter   rune
	shortRows   bool // --allow-short-rows
	mapFile     string
	triggerFile string
	writeKey    string
	endpoint    string
	sandbox     bool
	rate        float64
	burst       int
	adaptive    bool
	concurrency concurrency
	maxConc     int
	batch       int
	maxAttempts int
	timeout     time.Duration
	results     string
	failed      string
	dryRun      bool
	runKey      string
	checkpoint  string
	ckptEvery   time.Duration
	maxFailures failureLimit
	quiet       bool
	logFormat   string
	limiter     limiterFlags // --redis (limiter.go)
	diff        diffFlags    // --diff (diff.go)
}

// parseImportFlags parses args (flags may come before or after the file) and
// fills the defaults from getenv. Errors are usage errors.
func parseImportFlags(args []string, getenv func(string) string, stderr io.Writer) (*importFlags, error) {
	f := &importFlags{}
	fs := flag.NewFlagSet("segloop import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var format, delimiter, region string
	fs.StringVar(&format, "format", "", "input format: csv, json or ndjson (default: from the file extension)")
	fs.StringVar(&delimiter, "delimiter", "", "CSV field delimiter (default ',', or tab for .tsv)")
	fs.BoolVar(&f.shortRows, "allow-short-rows", false, "accept CSV rows with fewer cells than the header (exports that drop trailing empty cells); the missing cells are absent")
	fs.StringVar(&f.mapFile, "map", "", "mapping `FILE` (JSON with {{item.x}} placeholders; default: the built-in mapping)")
	fs.StringVar(&f.triggerFile, "trigger", "", "JSON object `FILE` for {{trigger.x}} placeholders")
	fs.StringVar(&f.writeKey, "write-key", "", "Segment write key (default $SEGMENT_WRITE_KEY; prefer the variable: flags show in ps)")
	fs.StringVar(&f.endpoint, "endpoint", "", "Segment endpoint URL (default $SEGMENT_ENDPOINT, else the --region's)")
	fs.StringVar(&region, "region", "", "Segment region: us or eu (default us)")
	fs.BoolVar(&f.sandbox, "sandbox", false, "send to an in-process Segment-compatible sandbox server instead of Segment")
	fs.Float64Var(&f.rate, "rate", defaultRate, "requests per second ceiling (token bucket; 0 = no limit)")
	fs.IntVar(&f.burst, "burst", 0, "token bucket burst (default: a tenth of the rate, at least 1)")
	fs.BoolVar(&f.adaptive, "adaptive", true, "lower the rate on 429s and climb back on successes (never above --rate)")
	fs.Var(&f.concurrency, "concurrency", "requests in flight at once: auto (follow the round trip, so that --rate is the bound) or a fixed N")
	fs.IntVar(&f.maxConc, "max-concurrency", loop.DefaultMaxConcurrency, "cap of --concurrency auto")
	fs.IntVar(&f.batch, "batch", segloop.DefaultBatchSize, "items per request, up to 2500 (1 uses /v1/identify)")
	fs.IntVar(&f.maxAttempts, "max-attempts", loop.DefaultMaxAttempts, "attempts per request for retryable failures")
	fs.DurationVar(&f.timeout, "timeout", segment.DefaultTimeout, "timeout of one request")
	fs.StringVar(&f.results, "results", "", "write per-item results (NDJSON) to `FILE` instead of stdout")
	fs.StringVar(&f.failed, "failed", "", "write failed and invalid items to `FILE`, in the input's format, with _status and _error added")
	fs.BoolVar(&f.dryRun, "dry-run", false, "map and validate every item, send nothing")
	fs.StringVar(&f.runKey, "run-key", "", "seed of the deterministic messageIds (default: derived from the input file, or kept in the checkpoint)")
	fs.StringVar(&f.checkpoint, "checkpoint", "", "record progress in `FILE` and resume from it")
	fs.DurationVar(&f.ckptEvery, "checkpoint-every", checkpoint.DefaultInterval, "at most one checkpoint write (an fsync) per this long: a finished item is durable within it")
	fs.Var(&f.maxFailures, "max-failures", "abort (exit 3) once more than N items, or P% of them (after 100 items), failed or are invalid")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress display and no summary")
	fs.StringVar(&f.logFormat, "log-format", "text", "log and summary format on stderr: text or json")
	f.limiter.register(fs, getenv)
	f.diff.register(fs)

	var files []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, withCode(exitOK, errReported)
			}
			return nil, withCode(exitUsage, errReported)
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		files = append(files, rest[0])
		rest = rest[1:]
	}
	switch len(files) {
	case 0:
		return nil, usageError("import: no input file (give a path, or - for stdin)")
	case 1:
		f.file = files[0]
	default:
		return nil, usageError("import: one input file at a time, got %d: %s", len(files), strings.Join(files, " "))
	}

	if err := f.resolveFormat(format, delimiter); err != nil {
		return nil, err
	}
	if f.shortRows && !isCSV(f.format) {
		return nil, usageError("import: --allow-short-rows applies to CSV input only")
	}
	if err := f.resolveEndpoint(region, getenv); err != nil {
		return nil, err
	}
	if f.writeKey == "" {
		f.writeKey = getenv("SEGMENT_WRITE_KEY")
	}
	switch {
	case f.sandbox || f.dryRun:
	case f.writeKey == "":
		return nil, usageError("import: no write key: set SEGMENT_WRITE_KEY (or pass --write-key), or try --sandbox or --dry-run")
	}
	switch {
	case !(f.rate >= 0 && f.rate <= maxRate): // NaN fails both
		return nil, usageError("import: --rate must be 0 (no limit) or a number of requests per second up to %v, got %v", maxRate, f.rate)
	case f.burst < 0:
		return nil, usageError("import: --burst must be positive, got %d", f.burst)
	case f.maxConc < 1 || f.maxConc > maxConcurrency:
		return nil, usageError("import: --max-concurrency must be between 1 and %d, got %d", maxConcurrency, f.maxConc)
	case f.concurrency > maxConcurrency:
		return nil, usageError("import: --concurrency must be auto or between 1 and %d, got %d", maxConcurrency, f.concurrency)
	case f.batch < 1 || f.batch > segment.MaxBatchEvents:
		return nil, usageError("import: --batch must be between 1 and %d, got %d", segment.MaxBatchEvents, f.batch)
	case f.maxAttempts < 1 || f.maxAttempts > maxAttempts:
		return nil, usageError("import: --max-attempts must be between 1 and %d, got %d", maxAttempts, f.maxAttempts)
	case f.ckptEvery <= 0 || f.ckptEvery > maxDuration:
		return nil, usageError("import: --checkpoint-every must be positive and at most %v, got %v", maxDuration, f.ckptEvery)
	case f.timeout <= 0 || f.timeout > maxDuration:
		return nil, usageError("import: --timeout must be positive and at most %v, got %v", maxDuration, f.timeout)
	case f.logFormat != "text" && f.logFormat != "json":
		return nil, usageError("import: --log-format must be text or json, got %q", f.logFormat)
	case f.checkpoint != "" && f.file == "-" && f.runKey == "":
		return nil, usageError("import: --checkpoint with stdin needs --run-key naming this input: segloop cannot tell one stream from another")
	}
	if err := f.diff.check(f); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *importFlags) resolveFormat(format, delimiter string) error {
	var err error
	switch {
	case format != "":
		f.format, err = source.ParseFormat(format)
	case f.file == "-":
		return usageError("import: reading stdin: say which --format (csv, json or ndjson)")
	default:
		f.format, err = source.FormatOf(f.file)
		if err != nil {
			return usageError("import: %v; say which with --format csv|json|ndjson", err)
		}
	}
	if err != nil {
		return usageError("import: --format: %v", err)
	}
	if delimiter != "" {
		if delimiter == `\t` || delimiter == "tab" {
			delimiter = "\t"
		}
		r, size := utf8.DecodeRuneInString(delimiter)
		if size != len(delimiter) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
			return usageError("import: --delimiter must be one character other than a quote or newline, got %q", delimiter)
		}
		if !isCSV(f.format) {
			return usageError("import: --delimiter applies to CSV input only")
		}
		f.delimiter = r
	}
	return nil
}

func (f *importFlags) resolveEndpoint(region string, getenv func(string) string) error {
	if f.sandbox {
		if f.endpoint != "" || region != "" {
			return usageError("import: --sandbox sends to the in-process sandbox; drop --endpoint and --region")
		}
		return nil
	}
	if region != "" {
		if f.endpoint != "" {
			return usageError("import: give --endpoint or --region, not both")
		}
		ep, err := segment.RegionEndpoint(region)
		if err != nil {
			return usageError("import: --region: %v", err)
		}
		f.endpoint = ep
		return nil
	}
	if f.endpoint == "" {
		f.endpoint = getenv("SEGMENT_ENDPOINT")
	}
	if f.endpoint == "" {
		f.endpoint = segment.EndpointUS
	}
	return nil
}

// isCSV reports whether format is CSV or its tab-separated variant.
func isCSV(format source.Format) bool { return format == source.CSV || format == source.TSV }

// concurrency is --concurrency: "auto" (the zero value, 0) or a fixed count.
type concurrency int

func (c *concurrency) String() string {
	if c == nil || *c == 0 {
		return "auto"
	}
	return strconv.Itoa(int(*c))
}

func (c *concurrency) Set(s string) error {
	if s == "auto" {
		*c = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return fmt.Errorf("--concurrency wants auto or a count of at least 1, got %q", s)
	}
	*c = concurrency(n)
	return nil
}

// failureLimit is --max-failures: a count, or a percentage of items finished.
// The zero value sets no limit.
type failureLimit struct {
	set     bool
	count   int64   // without percent: abort when failures exceed it
	percent float64 // > 0: abort when the share of failures exceeds it, once failureLimitMinItems are done
}

// failureLimitMinItems is how many items must finish before a percentage
// limit is judged.
const failureLimitMinItems = 100

func (l *failureLimit) String() string {
	switch {
	case l == nil || !l.set:
		return ""
	case l.percent > 0:
		return strconv.FormatFloat(l.percent, 'g', -1, 64) + "%"
	}
	return strconv.FormatInt(l.count, 10)
}

func (l *failureLimit) Set(s string) error {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || !(v > 0 && v < 100) { // NaN fails both

			return fmt.Errorf("want a percentage between 0 and 100, got %q", s)
		}
		*l = failureLimit{set: true, percent: v}
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return fmt.Errorf("want a count (N) or a percentage (P%%), got %q", s)
	}
	*l = failureLimit{set: true, count: v}
	return nil
}

// exceeded reports whether bad failures among done items break the limit.
func (l failureLimit) exceeded(bad, done int64) bool {
	switch {
	case !l.set:
		return false
	case l.percent > 0:
		return done >= failureLimitMinItems && float64(bad)*100 > l.percent*float64(done)
	}
	return bad > l.count
}
