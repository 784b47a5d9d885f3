package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/segloop/segloop/segment/segmenttest"
)

// sandboxWriteKey is the write key segloop import --sandbox sends; the
// sandbox accepts any non-empty key.
const sandboxWriteKey = "sandbox-write-key"

// sandboxOptions is the sandbox's Segment: a modest rate limit and a little
// injected failure, so rate limiting and retries show on a first run.
func sandboxOptions() segmenttest.Options {
	return segmenttest.Options{
		Rate:      20,
		Burst:     5,
		FailRate:  0.03,
		ResetRate: 0.01,
		Seed:      time.Now().UnixNano(),
		LogLimit:  10000, // a long-running sandbox keeps only the recent requests
	}
}

// sandboxServer is an in-process segmenttest server.
type sandboxServer struct {
	*segmenttest.Server
}

func startSandbox(opts segmenttest.Options) *sandboxServer {
	return &sandboxServer{segmenttest.NewServer(opts)}
}

// statsLine is what the sandbox saw, in a few words.
func (s *sandboxServer) statsLine() string {
	st := s.Stats()
	return fmt.Sprintf("%d requests (%d accepted, %d answered 429, %d injected 503s, %d connection resets), %d events, %d unique messageIds, %d duplicates",
		st.Requests, st.Accepted, st.Throttled, st.Failed, st.Resets, st.Events, st.Unique, st.Duplicates)
}

// sandboxHelp is segloop sandbox -h.
var sandboxHelp = helpPage{
	usage: "segloop sandbox [flags]",
	about: `Serves a Segment-compatible server (the tests' segmenttest) until interrupted,
for trying segloop from another shell: it prints its URL on stdout, accepts
any write key, and answers GET /stats with what it received.`,
	sections: []helpSection{
		{"Listening", []string{"addr"}},
		{"Segment's behaviour", []string{"rate", "burst", "fail-rate", "reset-rate", "latency", "seed"}},
	},
	examples: `  segloop sandbox --addr 127.0.0.1:8787 --rate 20 --fail-rate 0 --reset-rate 0
  SEGMENT_WRITE_KEY=any segloop import --endpoint http://127.0.0.1:8787 users.csv`,
}

// runSandbox is segloop sandbox: it serves the Segment-compatible test server
// on --addr until interrupted, and its counters (segmenttest.Stats) as JSON
// at GET /stats. The first line on stdout is its URL.
func runSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("segloop sandbox", flag.ContinueOnError)
	def := sandboxOptions()
	addr := fs.String("addr", "127.0.0.1:8787", "`HOST:PORT` the address to listen on")
	fs.Float64Var(&def.Rate, "rate", def.Rate, "`N` requests/s the server allows before answering 429 (0 = no limit)")
	fs.IntVar(&def.Burst, "burst", def.Burst, "`N` the burst of the server's token bucket")
	fs.Float64Var(&def.FailRate, "fail-rate", def.FailRate, "`F` the fraction of requests answered 503")
	fs.Float64Var(&def.ResetRate, "reset-rate", def.ResetRate, "`F` the fraction of connections reset")
	fs.DurationVar(&def.Latency, "latency", 0, "`D` latency added to every request")
	fs.Int64Var(&def.Seed, "seed", def.Seed, "`N` the seed of the injected faults (default: from the clock)")
	rest, err := parseFlags(fs, &sandboxHelp, args, stdout, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("sandbox: unexpected argument %q", rest[0])
	}
	switch {
	case !(def.Rate >= 0 && def.Rate <= maxRate): // NaN fails both
		return usageError("sandbox: --rate must be 0 (no limit) or a number of requests per second up to %v, got %v", maxRate, def.Rate)
	case def.Burst < 0:
		return usageError("sandbox: --burst must be positive, got %d", def.Burst)
	case !(def.FailRate >= 0 && def.FailRate <= 1):
		return usageError("sandbox: --fail-rate must be a fraction between 0 and 1, got %v", def.FailRate)
	case !(def.ResetRate >= 0 && def.ResetRate <= 1):
		return usageError("sandbox: --reset-rate must be a fraction between 0 and 1, got %v", def.ResetRate)
	case def.Latency < 0 || def.Latency > maxDuration:
		return usageError("sandbox: --latency must be between 0 and %v, got %v", maxDuration, def.Latency)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return usageError("sandbox: %v", err)
	}
	h := segmenttest.NewHandler(def)
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(h.Stats())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "http://%s\n", ln.Addr())
	fmt.Fprintf(stderr, "segloop sandbox: Segment-compatible server on http://%s (any write key; %.0f requests/s, %.0f%% 503s, %.0f%% resets); try:\n  SEGMENT_WRITE_KEY=any segloop import --endpoint http://%s testdata/users.csv\n",
		ln.Addr(), def.Rate, def.FailRate*100, def.ResetRate*100, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return withCode(exitAborted, err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	<-errc
	st := h.Stats()
	fmt.Fprintf(stderr, "segloop sandbox: stopped after %d requests, %d events, %d unique messageIds\n", st.Requests, st.Events, st.Unique)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return withCode(exitAborted, err)
	}
	return nil
}
