package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/ratelimit/redislimit"
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

const serveUsage = `usage: segloop serve [flags]

Runs segloop as a service: the Identify action as one HTTP call, Loop runs of
many items with per-item results, retry and cancel, a page, and metrics.

Listening and access:
  --addr HOST:PORT       address to listen on (default 127.0.0.1:8844)
  --token-file FILE      bearer token every /v1 call and the page need
                         (default $SEGLOOP_TOKEN); required beyond loopback
Storage:
  --db FILE              the runs' database, created 0600 (default segloop.db)
  --db postgres://...    a PostgreSQL database that several replicas share
                         (each run is split into parts any replica works)
  --max-body BYTES       largest POST /v1/runs body (default 4294967296)
Replicas (with --db postgres://...):
  --replica NAME         this replica's name in runs' details (default host-pid)
  --parts N              parts a run's items are split into by user (default 8)
  --lease D              a part's lease: a dead replica's parts are taken over
                         about this long after it died (default 30s)
  --slice D              work on a part before it is handed back (default 20s)
Destination:
  --write-key KEY        write key of requests without X-Segment-Write-Key
                         (default $SEGMENT_WRITE_KEY; prefer the variable)
  --endpoint URL         Segment endpoint (default $SEGMENT_ENDPOINT, else US)
  --region us|eu         Segment region instead of --endpoint
  --sandbox              send to an in-process Segment-compatible sandbox
Pace and retries (as for import; shared by every run and call of one key):
  --rate N               requests/s per write key (default 250; 0 = no limit)
  --burst N              token bucket burst (default a tenth of the rate)
  --adaptive=false       keep the rate fixed on 429s
  --concurrency auto|N   requests in flight per part of a run (default auto)
  --batch N              items per request, 1 to 2500 (default 100)
  --max-attempts N       attempts per request (default 5)
  --timeout D            timeout of one request to Segment (default 15s)
  --max-runs N           runs worked at once, 2 parts each; others queue
                         (default 8)
  --redis URL            share each write key's budget (--rate is then the
                         workspace's), Retry-After and adaptive rate with every
                         replica and import process (default $SEGLOOP_REDIS_URL)
Output:
  --log-format text|json log format on stderr (default text)

Examples:
  SEGLOOP_TOKEN=$(cat token) SEGMENT_WRITE_KEY=... segloop serve --db /var/lib/segloop/runs.db
  segloop serve --sandbox          # try it on loopback without an account
  segloop serve --addr 0.0.0.0:8844 --token-file token \
      --db postgres://segloop@db/segloop --redis redis://cache:6379/0
`

// serveFlags is the parsed command line of segloop serve.
type serveFlags struct {
	addr        string
	db          string
	tokenFile   string
	writeKey    string
	endpoint    string
	sandbox     bool
	rate        float64
	burst       int
	adaptive    bool
	concurrency int // 0 = auto
	batch       int
	maxAttempts int
	timeout     time.Duration
	maxRuns     int
	maxBody     int64
	redis       string
	logFormat   string
	replica     string
	parts       int
	lease       time.Duration
	slice       time.Duration
}

// concurrencyFlag is --concurrency: "auto" (0) or a count.
type concurrencyFlag struct{ n *int }

func (c concurrencyFlag) String() string {
	if c.n == nil || *c.n == 0 {
		return "auto"
	}
	return strconv.Itoa(*c.n)
}

func (c concurrencyFlag) Set(s string) error {
	if s == "auto" {
		*c.n = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return fmt.Errorf("want auto or a count of at least 1, got %q", s)
	}
	*c.n = n
	return nil
}

func parseServeFlags(args []string, getenv func(string) string, stderr io.Writer) (*serveFlags, error) {
	f := &serveFlags{}
	fs := flag.NewFlagSet("segloop serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, serveUsage) }
	var region string
	fs.StringVar(&f.addr, "addr", defaultServeAddr, "")
	fs.StringVar(&f.db, "db", defaultServeDB, "")
	fs.StringVar(&f.tokenFile, "token-file", "", "")
	fs.StringVar(&f.writeKey, "write-key", "", "")
	fs.StringVar(&f.endpoint, "endpoint", "", "")
	fs.StringVar(&region, "region", "", "")
	fs.BoolVar(&f.sandbox, "sandbox", false, "")
	fs.Float64Var(&f.rate, "rate", defaultRate, "")
	fs.IntVar(&f.burst, "burst", 0, "")
	fs.BoolVar(&f.adaptive, "adaptive", true, "")
	fs.Var(concurrencyFlag{&f.concurrency}, "concurrency", "")
	fs.IntVar(&f.batch, "batch", segloop.DefaultBatchSize, "")
	fs.IntVar(&f.maxAttempts, "max-attempts", loop.DefaultMaxAttempts, "")
	fs.DurationVar(&f.timeout, "timeout", segment.DefaultTimeout, "")
	fs.IntVar(&f.maxRuns, "max-runs", serve.DefaultMaxRuns, "")
	fs.Int64Var(&f.maxBody, "max-body", serve.DefaultMaxBody, "")
	f.redis = getenv(redisURLEnv)
	fs.Var((*redisURLValue)(&f.redis), "redis", "")
	fs.StringVar(&f.replica, "replica", "", "")
	fs.IntVar(&f.parts, "parts", serve.DefaultParts, "")
	fs.DurationVar(&f.lease, "lease", serve.DefaultLease, "")
	fs.DurationVar(&f.slice, "slice", serve.DefaultSlice, "")
	fs.StringVar(&f.logFormat, "log-format", "text", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, withCode(exitOK, errReported)
		}
		return nil, withCode(exitUsage, errReported)
	}
	if fs.NArg() > 0 {
		return nil, usageError("serve: unexpected argument %q", fs.Arg(0))
	}
	if f.writeKey == "" {
		f.writeKey = getenv("SEGMENT_WRITE_KEY")
	}
	switch {
	case f.sandbox && (f.endpoint != "" || region != ""):
		return nil, usageError("serve: --sandbox sends to the in-process sandbox; drop --endpoint and --region")
	case f.endpoint != "" && region != "":
		return nil, usageError("serve: give --endpoint or --region, not both")
	case region != "":
		ep, err := segment.RegionEndpoint(region)
		if err != nil {
			return nil, usageError("serve: --region: %v", err)
		}
		f.endpoint = ep
	case f.endpoint == "" && !f.sandbox:
		f.endpoint = getenv("SEGMENT_ENDPOINT")
		if f.endpoint == "" {
			f.endpoint = segment.EndpointUS
		}
	}
	switch {
	case f.db == "":
		return nil, usageError("serve: --db needs a file")
	case f.rate < 0:
		return nil, usageError("serve: --rate must be 0 (no limit) or more, got %v", f.rate)
	case f.burst < 0:
		return nil, usageError("serve: --burst must be positive, got %d", f.burst)
	case f.batch < 1 || f.batch > segment.MaxBatchEvents:
		return nil, usageError("serve: --batch must be between 1 and %d, got %d", segment.MaxBatchEvents, f.batch)
	case f.maxAttempts < 1:
		return nil, usageError("serve: --max-attempts must be at least 1, got %d", f.maxAttempts)
	case f.timeout <= 0:
		return nil, usageError("serve: --timeout must be positive, got %v", f.timeout)
	case f.maxRuns < 1:
		return nil, usageError("serve: --max-runs must be at least 1, got %d", f.maxRuns)
	case f.maxBody < 1:
		return nil, usageError("serve: --max-body must be positive, got %d", f.maxBody)
	case f.parts < 1 || f.parts > runstore.MaxParts:
		return nil, usageError("serve: --parts must be between 1 and %d, got %d", runstore.MaxParts, f.parts)
	case f.lease < 100*time.Millisecond:
		return nil, usageError("serve: --lease must be at least 100ms, got %v", f.lease)
	case f.slice <= 0:
		return nil, usageError("serve: --slice must be positive, got %v", f.slice)
	case f.logFormat != "text" && f.logFormat != "json":
		return nil, usageError("serve: --log-format must be text or json, got %q", f.logFormat)
	}
	return f, nil
}

// loadToken reads the service token: --token-file, else $SEGLOOP_TOKEN.
func loadToken(f *serveFlags, getenv func(string) string) (string, error) {
	token := getenv("SEGLOOP_TOKEN")
	if f.tokenFile != "" {
		if same, _ := sameFile(f.tokenFile, f.db); same {
			return "", usageError("serve: --token-file and --db name the same file")
		}
		data, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return "", usageError("serve: --token-file: %v", err)
		}
		token = strings.TrimSpace(string(data))
		if token == "" {
			return "", usageError("serve: --token-file %s is empty", f.tokenFile)
		}
	}
	if token != "" && len(token) < minTokenLen {
		return "", usageError("serve: the token must be at least %d characters", minTokenLen)
	}
	return token, nil
}

// sameFile reports whether a and b are one file (both must exist).
func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}

// loopbackHost reports whether the host of addr (HOST:PORT) may be
// loopback: a loopback IP, or a name (checked again once listening).
func loopbackHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	return true
}

// isLoopback reports whether addr is a loopback address.
func isLoopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// runServe is segloop serve: it answers until interrupted (SIGINT or
// SIGTERM), then shuts down gracefully and exits 0. The first line on stdout
// is its URL.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseServeFlags(args, os.Getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, f.logFormat)
	token, err := loadToken(f, os.Getenv)
	if err != nil {
		return err
	}
	if f.rate > recommendedRate {
		log.Warn("rate above Segment's recommended 1,000 requests/s per workspace; expect 429s from Segment", "rate", f.rate)
	}
	endpoint, name, key := f.endpoint, f.endpoint, f.writeKey
	if f.sandbox {
		sb := startSandbox(sandboxOptions())
		defer sb.Close()
		endpoint, name = sb.URL, "sandbox"
		if key == "" {
			key = sandboxWriteKey
		}
	}
	if token == "" && !loopbackHost(f.addr) {
		return usageError("serve: %s is beyond loopback: give a token (--token-file or $SEGLOOP_TOKEN), or listen on 127.0.0.1", f.addr)
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return usageError("serve: --addr: %v", err)
	}
	if token == "" && !isLoopback(ln.Addr()) { // a name that resolved beyond loopback
		ln.Close()
		return usageError("serve: %s is beyond loopback: give a token (--token-file or $SEGLOOP_TOKEN), or listen on 127.0.0.1", ln.Addr())
	}
	st, err := runstore.Open(ctx, f.db, runstore.Options{Warn: func(msg string) { log.Warn(msg) }})
	if err != nil {
		ln.Close()
		return usageError("serve: --db %v", err)
	}
	defer st.Close()
	limit := ratelimit.Config{Rate: f.rate, Burst: f.burst, Known: f.burst > 0 || !f.adaptive, Adaptive: f.adaptive}
	newLimiter, closeRedis, err := serveBudget(ctx, f.redis, limit, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer closeRedis()
	srv, err := serve.New(serve.Config{
		Store:        st,
		Endpoint:     endpoint,
		EndpointName: name,
		WriteKey:     key,
		Token:        token,
		NewLimiter:   newLimiter,
		Limit:        limit,
		Workers:      f.concurrency,
		Batch:        f.batch,
		MaxAttempts:  f.maxAttempts,
		Timeout:      f.timeout,
		MaxRuns:      f.maxRuns,
		MaxBody:      f.maxBody,
		Parts:        f.parts,
		Replica:      f.replica,
		Timings:      serve.Timings{Slice: f.slice, Lease: f.lease, Reconcile: min(serve.DefaultReconcile, f.lease/4)},
		Log:          log,
		UserAgent:    "segloop/" + version,
	})
	if err != nil {
		ln.Close()
		return usageError("serve: %v", err)
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintln(stdout, url)
	log.Info("segloop serve listening", "url", url, "db", st.Location(), "token", token != "", "sandbox", f.sandbox, "redis", f.redis != "")
	if token == "" {
		log.Warn("no token: every local process can use the API (give --token-file or $SEGLOOP_TOKEN)")
	}
	if err := srv.Serve(ctx, ln); err != nil {
		return withCode(exitAborted, fmt.Errorf("serve: %w", err))
	}
	log.Info("segloop serve stopped")
	return nil
}

// serveBudget returns how serve makes each write key's limiter: shared
// through Redis at url (every replica and import process sending to the
// same endpoint and write key draws on one budget), or nil for the
// in-process limiter when url is "". Redis not answering is a usage error
// (exit 2) naming the URL without its password. close closes the client.
func serveBudget(ctx context.Context, url string, limit ratelimit.Config, log *slog.Logger) (serve.NewLimiter, func(), error) {
	if url == "" {
		return nil, func() {}, nil
	}
	redis.SetLogger(quietRedis{}) // go-redis logs dial failures itself; the limiter reports them
	redacted := redislimit.Redact(url)
	rdb, err := redislimit.Open(ctx, url)
	if err != nil {
		return nil, nil, usageError("serve: --redis %v", err)
	}
	rlog := log.With("redis", redacted)
	open := func(d ratelimit.Destination) (serve.Limiter, error) {
		l, err := redislimit.New(context.Background(), rdb, d, redislimit.Config{Limit: limit, Logger: rlog})
		if err != nil {
			return nil, fmt.Errorf("--redis %s: %w", redacted, err)
		}
		return l, nil
	}
	return open, func() { rdb.Close() }, nil
}
