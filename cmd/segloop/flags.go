package main

import (
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
	"github.com/segloop/segloop/source/sqlsource"
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
	file        string           // the input argument: a path, "-", or a database URL
	query       *sqlsource.Query // the input is a database: its URL, --query and --key; nil for files
	queryFile   string           // --query @FILE: the file the text came from
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

// rawImportFlags are the flags that parseImportFlags resolves into
// importFlags' fields.
type rawImportFlags struct {
	format, delimiter, region, query, key string
}

// register defines the import flags on fs, in the groups of importHelp.
func (f *importFlags) register(fs *flag.FlagSet, raw *rawImportFlags, getenv func(string) string) {
	// Input
	fs.StringVar(&raw.format, "format", "", "`csv|tsv|json|ndjson|parquet` the input's format (default: from the file's extension, through .gz and .zst)")
	fs.StringVar(&raw.delimiter, "delimiter", "", "`CHAR` the CSV field delimiter (default ',', or tab for .tsv)")
	fs.BoolVar(&f.shortRows, "allow-short-rows", false, "accept CSV rows with fewer cells than the header (exports that drop trailing empty cells); the missing cells are absent")
	fs.StringVar(&raw.query, "query", "", "`SQL|@FILE` the query whose rows are the items, when the input is a database URL (@FILE reads it from FILE)")
	fs.StringVar(&raw.key, "key", "", "`COLUMN` sort the query's rows by this unique column: a stable order, which --checkpoint needs when the query has no ORDER BY")
	// Mapping
	fs.StringVar(&f.mapFile, "map", "", "`FILE` the mapping: JSON with {{item.x}} placeholders (default: the built-in mapping)")
	fs.StringVar(&f.triggerFile, "trigger", "", "`FILE` a JSON object for {{trigger.x}} placeholders")
	// Destination
	fs.StringVar(&f.writeKey, "write-key", "", "`KEY` the Segment write key (default $SEGMENT_WRITE_KEY; prefer the variable: flags show in ps)")
	fs.StringVar(&f.endpoint, "endpoint", "", "`URL` the Segment endpoint (default $SEGMENT_ENDPOINT, else the --region's)")
	fs.StringVar(&raw.region, "region", "", "`us|eu` the Segment region (default us)")
	fs.BoolVar(&f.sandbox, "sandbox", false, "send to an in-process Segment-compatible sandbox server instead of Segment")
	fs.BoolVar(&f.dryRun, "dry-run", false, "map and validate every item, send nothing")
	// Pace and retries
	fs.Float64Var(&f.rate, "rate", defaultRate, "`N` requests per second at most (token bucket; 0 = no limit)")
	fs.IntVar(&f.burst, "burst", 0, "`N` the token bucket's burst, the server's declared limit (default: a tenth of the rate, at least 1)")
	fs.BoolVar(&f.adaptive, "adaptive", true, "lower the rate on 429s and climb back on successes, never above --rate (--adaptive=false keeps it fixed)")
	fs.Var(&f.concurrency, "concurrency", "`auto|N` requests in flight: auto follows the round trip so that --rate is the bound; N fixes it")
	fs.IntVar(&f.maxConc, "max-concurrency", loop.DefaultMaxConcurrency, "`N` the cap of --concurrency auto")
	fs.IntVar(&f.batch, "batch", segloop.DefaultBatchSize, "`N` items per request, up to 2500 (1 uses /v1/identify)")
	fs.IntVar(&f.maxAttempts, "max-attempts", loop.DefaultMaxAttempts, "`N` attempts per request for retryable failures")
	fs.DurationVar(&f.timeout, "timeout", segment.DefaultTimeout, "`D` the timeout of one request")
	f.limiter.register(fs, getenv)
	f.diff.register(fs)
	// Results and failures
	fs.StringVar(&f.results, "results", "", "`FILE` write the per-item results (NDJSON) to FILE instead of stdout")
	fs.StringVar(&f.failed, "failed", "", "`FILE` write the failed and invalid items to FILE, ready to fix and re-run: in the input's format with _status, _error and _messageId added (JSON Lines for Parquet and database input)")
	fs.Var(&f.maxFailures, "max-failures", "`N|P%` abort (exit 3) once more than N items, or P% of them (after 100 items), failed or are invalid")
	// Resume
	fs.StringVar(&f.checkpoint, "checkpoint", "", "`FILE` record the delivered items in FILE and resume from it")
	fs.DurationVar(&f.ckptEvery, "checkpoint-every", checkpoint.DefaultInterval, "`D` at most one checkpoint write (an fsync) per D: a finished item is durable within it")
	fs.StringVar(&f.runKey, "run-key", "", "`KEY` the seed of the deterministic messageIds (default: the checkpoint's; else derived from the input file, so that a re-run of an unchanged file sends the same messageIds; random for stdin and queries)")
	// Logging
	fs.BoolVar(&f.quiet, "quiet", false, "no progress display and no summary")
	fs.StringVar(&f.logFormat, "log-format", "text", "`text|json` the format of logs and the summary on stderr")
}

// parseImportFlags parses args (flags may come before or after the input)
// and fills the defaults from getenv. -h writes the help to stdout. Errors
// are usage errors.
func parseImportFlags(args []string, getenv func(string) string, stdout, stderr io.Writer) (*importFlags, error) {
	f := &importFlags{}
	var raw rawImportFlags
	fs := flag.NewFlagSet("segloop import", flag.ContinueOnError)
	f.register(fs, &raw, getenv)
	inputs, err := parseFlags(fs, &importHelp, args, stdout, stderr)
	if err != nil {
		return nil, err
	}
	switch len(inputs) {
	case 0:
		return nil, usageError("import: no input file (give a path, - for stdin, or a database URL with --query)")
	case 1:
		f.file = inputs[0]
	default:
		return nil, usageError("import: one input file at a time, got %d: %s", len(inputs), strings.Join(inputs, " "))
	}
	if err := f.resolveInput(raw); err != nil {
		return nil, err
	}
	if err := f.resolveEndpoint(raw.region, getenv); err != nil {
		return nil, err
	}
	if f.writeKey == "" {
		f.writeKey = getenv("SEGMENT_WRITE_KEY")
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return f, nil
}

// check validates what the flags say together.
func (f *importFlags) check() error {
	switch {
	case f.sandbox || f.dryRun:
	case f.writeKey == "":
		return usageError("import: no write key: set SEGMENT_WRITE_KEY (or pass --write-key), or try --sandbox or --dry-run")
	}
	switch {
	case !(f.rate >= 0 && f.rate <= maxRate): // NaN fails both
		return usageError("import: --rate must be 0 (no limit) or a number of requests per second up to %v, got %v", maxRate, f.rate)
	case f.burst < 0:
		return usageError("import: --burst must be positive, got %d", f.burst)
	case f.maxConc < 1 || f.maxConc > maxConcurrency:
		return usageError("import: --max-concurrency must be between 1 and %d, got %d", maxConcurrency, f.maxConc)
	case f.concurrency > maxConcurrency:
		return usageError("import: --concurrency must be auto or between 1 and %d, got %d", maxConcurrency, f.concurrency)
	case f.batch < 1 || f.batch > segment.MaxBatchEvents:
		return usageError("import: --batch must be between 1 and %d, got %d", segment.MaxBatchEvents, f.batch)
	case f.maxAttempts < 1 || f.maxAttempts > maxAttempts:
		return usageError("import: --max-attempts must be between 1 and %d, got %d", maxAttempts, f.maxAttempts)
	case f.ckptEvery <= 0 || f.ckptEvery > maxDuration:
		return usageError("import: --checkpoint-every must be positive and at most %v, got %v", maxDuration, f.ckptEvery)
	case f.timeout <= 0 || f.timeout > maxDuration:
		return usageError("import: --timeout must be positive and at most %v, got %v", maxDuration, f.timeout)
	case f.logFormat != "text" && f.logFormat != "json":
		return usageError("import: --log-format must be text or json, got %q", f.logFormat)
	case f.checkpoint != "" && f.file == "-" && f.runKey == "":
		return usageError("import: --checkpoint with stdin needs --run-key naming this input: segloop cannot tell one stream from another")
	case f.checkpoint != "" && f.query != nil && !f.query.Ordered():
		return usageError("import: --checkpoint: %v", sqlsource.ErrUnordered)
	}
	if err := f.diff.check(f); err != nil {
		return err
	}
	return f.checkFailed()
}

// resolveInput resolves the input argument with --format, --delimiter,
// --allow-short-rows, --query and --key.
func (f *importFlags) resolveInput(raw rawImportFlags) error {
	if !sqlsource.IsURL(f.file) {
		switch {
		case raw.query != "":
			return usageError("import: --query reads a database: give a postgres://, postgresql:// or sqlite: URL as the input, not %q", f.file)
		case raw.key != "":
			return usageError("import: --key orders the rows of a --query; the input %q is not a database URL", f.file)
		}
		if err := f.resolveFormat(raw.format, raw.delimiter); err != nil {
			return err
		}
		if f.shortRows && !isCSV(f.format) {
			return usageError("import: --allow-short-rows applies to CSV input only")
		}
		return nil
	}
	q := &sqlsource.Query{URL: f.file, Key: raw.key}
	switch {
	case raw.query == "":
		return usageError("import: %s is a database: say what to read with --query SQL (or --query @FILE)", q.Redacted())
	case raw.format != "":
		return usageError("import: --format does not apply to a database query: its rows come typed")
	case raw.delimiter != "" || f.shortRows:
		return usageError("import: --delimiter and --allow-short-rows apply to CSV input only")
	}
	text, err := sqlsource.LoadText(raw.query)
	if err != nil {
		return usageError("import: %v", err)
	}
	if name, ok := strings.CutPrefix(raw.query, "@"); ok {
		f.queryFile = name
	}
	q.Text, f.query = text, q
	return nil
}

func (f *importFlags) resolveFormat(format, delimiter string) error {
	var err error
	switch {
	case format != "":
		f.format, err = source.ParseFormat(format)
	case f.file == "-":
		return usageError("import: reading stdin: say which --format (csv, tsv, json, ndjson or parquet)")
	default:
		f.format, err = source.FormatOf(f.file)
		if err != nil {
			return usageError("import: %v; say which with --format csv|tsv|json|ndjson|parquet", err)
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

// failedFormat is the format of the --failed file: the input's own, or JSON
// Lines for inputs whose own format segloop does not write back (Parquet, a
// database query), whose items are written as objects of their fields.
func (f *importFlags) failedFormat() source.Format {
	if f.query != nil || f.format == source.Parquet {
		return source.NDJSON
	}
	return f.format
}

// checkFailed refuses a --failed file whose name says another format than
// the one it will hold (failed.parquet would not read back).
func (f *importFlags) checkFailed() error {
	if f.failed == "" || f.failedFormat() == f.format {
		return nil
	}
	if named, err := source.FormatOf(f.failed); err == nil && named != source.NDJSON {
		input := "a database query"
		if f.query == nil {
			input = "Parquet input"
		}
		return usageError("import: --failed %s: the failed items of %s are written as JSON Lines: name the file .ndjson or .jsonl", f.failed, input)
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
