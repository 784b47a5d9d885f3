// Package serve is segloop as a service: an HTTP API for workflow engines
// (the Identify action as one call, Loop runs of many items with per-item
// results, retry of the failed items under their same messageIds, cancel),
// a page for people, and Prometheus metrics. Runs are durable (package
// runstore): a run answered 202 survives a crash and restart and completes,
// each item with exactly one result.
//
// Every run and call of one destination (endpoint and write key) shares one
// limiter (Limiters), taking turns at its permits (package fair), so a big
// run cannot starve a small one or a single call.
//
//	srv, err := serve.New(serve.Config{Store: st, Endpoint: segment.EndpointUS, WriteKey: key, Token: token})
//	ln, err := net.Listen("tcp", "127.0.0.1:8844")
//	err = srv.Serve(ctx, ln) // until ctx ends; then a graceful shutdown
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/runstore"
	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/source"
)

// Defaults of the zero Config fields.
const (
	DefaultBatch        = 100
	DefaultMaxAttempts  = 5
	DefaultTimeout      = 15 * time.Second
	DefaultMaxRuns      = 8
	DefaultMaxBody      = 4 << 30 // bytes of a POST /v1/runs body
	DefaultCallDeadline = 30 * time.Second
	MaxCallDeadline     = 5 * time.Minute
	maxIdentifyBody     = 64 << 10
	maxLoginBody        = 4 << 10
	shutdownGrace       = 30 * time.Second
)

// Config configures a Server. Store is required; every other zero field
// has the default its comment gives.
type Config struct {
	Store *runstore.Store

	// Endpoint is the Segment endpoint URL; "" = segment.EndpointUS.
	Endpoint string
	// EndpointName names the endpoint in destinations (for the limiter
	// registry and runs' records); "" = Endpoint. The sandbox, whose URL
	// changes at every start, is named "sandbox".
	EndpointName string
	// WriteKey is the key of runs and calls that bring none in
	// X-Segment-Write-Key; "" = such requests are refused.
	WriteKey string
	// Token, when set, is required as a bearer token (or the page's cookie)
	// on every /v1 call and the page. "" = no authentication: only for a
	// listener on loopback (the caller checks).
	Token string

	// Limiters gives each destination's limiter; nil = NewLocalLimiters(Limit).
	Limiters Limiters
	// Limit configures the limiters of NewLocalLimiters.
	Limit ratelimit.Config

	Workers     int           // requests in flight per run; 0 = segloop's default
	Batch       int           // items per request; 0 = DefaultBatch
	MaxAttempts int           // per request; 0 = DefaultMaxAttempts
	Timeout     time.Duration // of one request to Segment; 0 = DefaultTimeout
	MaxRuns     int           // runs worked at once (others queue); 0 = DefaultMaxRuns
	MaxBody     int64         // bytes of a POST /v1/runs body; 0 = DefaultMaxBody
	MaxItem     int           // bytes of one item; 0 = source.DefaultMaxItemBytes

	// Diff is set when diff mode is available (see Diff); nil = runs asking
	// for it are refused.
	Diff Diff

	Log       *slog.Logger // nil = discard
	UserAgent string       // of requests to Segment; "" = segment's default
}

// Diff is what a run in diff mode needs: the ledger of what Segment already
// has for a destination. The ledger work's package provides it; serve only
// checks that it is there (diff runs are refused without it).
type Diff interface {
	Available() bool
}

func (c *Config) destName() string {
	if c.EndpointName != "" {
		return c.EndpointName
	}
	return c.Endpoint
}

// Server is the service. Create it with New and run it with Serve.
type Server struct {
	cfg     Config
	store   *runstore.Store
	shares  *shares
	metrics *metrics
	runs    *manager
	exec    *executor
	log     *slog.Logger
	auth    auth
	handler http.Handler
}

// New checks cfg and returns a Server; nothing runs until Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("serve: no store")
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = segment.EndpointUS
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	cfg.Batch = min(cfg.Batch, segment.MaxBatchEvents)
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxRuns <= 0 {
		cfg.MaxRuns = DefaultMaxRuns
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxItem <= 0 {
		cfg.MaxItem = source.DefaultMaxItemBytes
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Limiters == nil {
		cfg.Limiters = NewLocalLimiters(cfg.Limit)
	}
	if cfg.WriteKey != "" {
		// A bad endpoint is a configuration error now, not at the first run.
		if _, err := segment.NewClient(segment.Config{WriteKey: cfg.WriteKey, Endpoint: cfg.Endpoint}); err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
	}
	s := &Server{cfg: cfg, store: cfg.Store, log: cfg.Log, auth: newAuth(cfg.Token)}
	s.shares = newShares(cfg.Limiters)
	s.metrics = newMetrics(cfg.Store, s.shares)
	s.exec = &executor{store: cfg.Store, cfg: &s.cfg, shares: s.shares, metrics: s.metrics, log: cfg.Log, clients: map[string]*segment.Client{}}
	s.runs = newManager(s.exec, cfg.MaxRuns, cfg.Log)
	s.handler = s.routes()
	return s, nil
}

// Handler is the server's HTTP handler (API, page, metrics). Runs start
// only under Serve.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve resumes the store's unfinished runs, then answers on ln until ctx
// ends. Then it shuts down gracefully: it stops accepting connections, lets
// requests in flight finish (an upload under way is stored and answered),
// pauses every run with its finished items' results stored and its unsent
// items left for the next start, and returns. It does not close the store.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.resume(ctx); err != nil {
		ln.Close()
		return err
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }() // owned: waited for below
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	s.log.Info("shutting down: finishing requests in flight, pausing runs")
	// Stop accepting and finish the requests in flight while the runs pause
	// (waiters of ?wait=true are released by the manager's stop).
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- hs.Shutdown(shutCtx) }() // owned: waited for below
	s.runs.stop()
	if serr := <-shut; serr != nil && err == nil {
		err = serr
	}
	if err == nil {
		err = <-errc
	}
	s.shares.close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// resume submits the store's unfinished runs, oldest first.
func (s *Server) resume(ctx context.Context) error {
	runs, err := s.store.Unfinished(ctx)
	if err != nil {
		return fmt.Errorf("serve: reading unfinished runs: %w", err)
	}
	for _, r := range runs {
		s.log.Info("resuming run", "run", r.ID, "status", r.Status, "items", r.Items, "done", r.Counts.Done())
		s.runs.submit(r)
	}
	return nil
}
