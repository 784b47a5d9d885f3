package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/ratelimit/redislimit"
	"github.com/segloop/segloop/runstore"
	"github.com/segloop/segloop/serve"
)

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
	f, err := parseServeFlags(args, os.Getenv, stdout, stderr)
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
	if f.diff != "" && runstore.IsPostgres(f.db) && !runstore.IsPostgres(f.diff) {
		// Replicas share the runs: each would diff against files of its own.
		return usageError("serve: --diff %s with --db postgres://…: replicas sharing the runs need one ledger per destination; give --diff a postgres:// URL (the runs' database will do)", f.diff)
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
	newLimiter, closeRedis, err := serveBudget(ctx, f.limiter.redisURL, limit, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer closeRedis()
	var diff serve.Diff
	if f.diff != "" {
		ledgers, err := serve.OpenLedgers(ctx, f.diff, log)
		if err != nil {
			ln.Close()
			return usageError("serve: --diff %v", err)
		}
		defer ledgers.Close() // after Serve: no run uses them any more
		diff = ledgers
	}
	srv, err := serve.New(serve.Config{
		Store:        st,
		Endpoint:     endpoint,
		EndpointName: name,
		WriteKey:     key,
		Token:        token,
		NewLimiter:   newLimiter,
		Limit:        limit,
		Workers:      int(f.concurrency),
		Batch:        f.batch,
		MaxAttempts:  f.maxAttempts,
		Timeout:      f.timeout,
		MaxRuns:      f.maxRuns,
		MaxBody:      f.maxBody,
		Parts:        f.parts,
		Replica:      f.replica,
		Timings:      serve.Timings{Slice: f.slice, Lease: f.lease, Reconcile: min(serve.DefaultReconcile, f.lease/4)},
		Diff:         diff,
		Log:          log,
		UserAgent:    "segloop/" + version,
	})
	if err != nil {
		ln.Close()
		return usageError("serve: %v", err)
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintln(stdout, url)
	log.Info("segloop serve listening", "url", url, "db", st.Location(), "token", token != "", "sandbox", f.sandbox, "redis", f.limiter.redisURL != "", "diff", f.diff != "")
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
