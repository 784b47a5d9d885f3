// Package serve is segloop as a service: an HTTP API for workflow engines
// (the Identify action as one call, Loop runs of many items with per-item
// results, retry of the failed items under their same messageIds, cancel),
// a page for people, and Prometheus metrics. Runs are durable (package
// runstore): a run answered 202 survives a crash and restart and completes,
// each item with exactly one result.
//
// Every run and call of one destination (endpoint and write key) shares one
// limiter per process (a ratelimit.Registry; through Redis, one for every
// process: Config.NewLimiter), taking turns at its permits (package fair),
// so a big run cannot starve a small one or a single call.
//
// A run's items are split by user into parts, each worked by one worker at
// a time, a slice at a time, under a lease (package runstore): on the
// embedded store by this process's queue, on a PostgreSQL store as River
// jobs by every replica sharing it, so a replica that dies loses its parts
// to the others about a lease later.
//
// A run may ask for diff mode: with Config.Diff (OpenLedgers), it sends only
// the items whose event changed since Segment last accepted one for their
// user, using its destination's ledger, the one `segloop import --diff`
// uses for the same endpoint and write key.
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
	"os"
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
	// EndpointName names the endpoint in destinations (for the limiters
	// and runs' records); "" = Endpoint. The sandbox, whose URL changes at
	// every start, is named "sandbox".
	EndpointName string
	// WriteKey is the key of runs and calls that bring none in
	// X-Segment-Write-Key; "" = such requests are refused.
	WriteKey string
	// Token, when set, is required as a bearer token (or the page's cookie)
	// on every /v1 call and the page. "" = no authentication: only for a
	// listener on loopback (the caller checks).
	Token string

	// NewLimiter makes each destination's limiter, once per process (a
	// ratelimit.Registry keeps it); nil = ratelimit.New(Limit), in-process.
	NewLimiter NewLimiter
	// Limit configures the in-process limiters.
	Limit ratelimit.Config

	Workers     int           // requests in flight per part of a run; 0 = segloop's default
	Batch       int           // items per request; 0 = DefaultBatch
	MaxAttempts int           // per request; 0 = DefaultMaxAttempts
	Timeout     time.Duration // of one request to Segment; 0 = DefaultTimeout
	MaxRuns     int           // runs worked at once: 2×MaxRuns parts of runs; 0 = DefaultMaxRuns
	MaxBody     int64         // bytes of a POST /v1/runs body; 0 = DefaultMaxBody
	MaxItem     int           // bytes of one item; 0 = source.DefaultMaxItemBytes
	// Parts is how many parts a new run's items are split into by user
	// (worked at once, by any replica); 0 = DefaultParts with a shared
	// store (replicas), DefaultLocalParts with an embedded one.
	Parts int

	// Replica names this process in the runs' details (which replica
	// worked which chunks) and in River; "" = host name and process id.
	Replica string
	// Timings tune the work of parts; the zero value is the default.
	Timings Timings

	// Diff gives runs in diff mode ("diff": true) the ledger of their
	// destination (OpenLedgers); nil = runs asking for it are refused.
	Diff Diff

	Log       *slog.Logger // nil = discard
	UserAgent string       // of requests to Segment; "" = segment's default
}

// Timings tune how parts are worked. Zero fields take the defaults.
type Timings struct {
	// Slice is how long a worker reads new items of a part before it
	// stores their results and hands the part back (a River job snoozes);
	// in-flight items then drain for up to Lease more. 0 = DefaultSlice.
	Slice time.Duration
	// Lease is how long a worker holds a part without renewing it (it
	// renews every quarter of it): a replica that dies loses its parts to
	// the others about a Lease later. 0 = DefaultLease.
	Lease time.Duration
	// Reconcile is how often each replica looks for parts whose lease ran
	// out, or that nobody works. 0 = DefaultReconcile.
	Reconcile time.Duration
}

// Defaults of Timings and of the parts of a run.
const (
	DefaultSlice     = 20 * time.Second
	DefaultLease     = 30 * time.Second
	DefaultReconcile = 5 * time.Second
	// DefaultParts lets the replicas that share a store work one run
	// together.
	DefaultParts = 8
	// DefaultLocalParts is the parts of a run in an embedded store, which
	// one process works: each part's loop already keeps its own requests in
	// flight, so more parts add no pace there, only a loop, a result sink
	// and a merged cursor each, and a part's worth of requests in flight (a
	// 100k-item run at no rate limit held about 100 in flight with 8 parts,
	// 60 with 2, and took about a tenth more CPU). Two parts a run is also
	// what MaxRuns's 2×MaxRuns slots assume.
	DefaultLocalParts = 2
)

func (t *Timings) fill() {
	if t.Slice <= 0 {
		t.Slice = DefaultSlice
	}
	if t.Lease <= 0 {
		t.Lease = DefaultLease
	}
	if t.Reconcile <= 0 {
		t.Reconcile = DefaultReconcile
	}
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
	exec    *executor
	queue   queue
	log     *slog.Logger
	auth    auth
	handler http.Handler
	stopped chan struct{} // closed when Serve begins its shutdown
}

// New checks cfg and returns a Server; nothing runs until Serve. For a
// PostgreSQL store, it migrates River's tables.
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
	if cfg.Parts <= 0 {
		cfg.Parts = DefaultLocalParts
		if cfg.Store.Shared() {
			cfg.Parts = DefaultParts
		}
	}
	cfg.Parts = min(cfg.Parts, runstore.MaxParts)
	if cfg.Replica == "" {
		host, _ := os.Hostname()
		cfg.Replica = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	cfg.Timings.fill()
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.NewLimiter == nil {
		limit := cfg.Limit
		cfg.NewLimiter = func(ratelimit.Destination) (Limiter, error) { return ratelimit.New(limit), nil }
	}
	if cfg.WriteKey != "" {
		// A bad endpoint is a configuration error now, not at the first run.
		if _, err := segment.NewClient(segment.Config{WriteKey: cfg.WriteKey, Endpoint: cfg.Endpoint}); err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
	}
	s := &Server{cfg: cfg, store: cfg.Store, log: cfg.Log, auth: newAuth(cfg.Token), stopped: make(chan struct{})}
	s.shares = newShares(cfg.NewLimiter)
	s.metrics = newMetrics(cfg.Store, s.shares)
	s.exec = &executor{store: cfg.Store, cfg: &s.cfg, shares: s.shares, metrics: s.metrics, log: cfg.Log,
		ended: newNotifier(), clients: map[string]*segment.Client{}, running: map[string]map[*slot]struct{}{}}
	slots := 2 * cfg.MaxRuns
	if cfg.Store.Shared() {
		q, err := newRiverQueue(context.Background(), cfg.Store, s.exec, slots, cfg.Log)
		if err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
		s.queue = q
	} else {
		s.queue = newLocalQueue(s.exec, slots, cfg.Timings.Reconcile, cfg.Log)
	}
	s.handler = s.routes()
	return s, nil
}

// Handler is the server's HTTP handler (API, page, metrics). Runs are
// worked only under Serve.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve works the store's unfinished runs (with other replicas, for a
// shared store) and answers on ln until ctx ends. Then it shuts down
// gracefully: it stops accepting connections, lets requests in flight
// finish (an upload under way is stored and answered), stops every slice
// of work with its finished items' results stored and its unsent items
// left pending for the next start (or another replica), and returns. It
// does not close the store.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	worked := make(chan error, 1)
	go func() { worked <- s.queue.run(workCtx) }() // owned: waited for below
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }() // owned: waited for below
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	case err = <-worked:
		worked <- err
	}
	s.log.Info("shutting down: finishing requests in flight, pausing runs")
	close(s.stopped) // waiters of ?wait=true and cancel give up
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- hs.Shutdown(shutCtx) }() // owned: waited for below
	stopWork()
	if werr := <-worked; werr != nil && err == nil {
		err = werr
	}
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

// submit hands the parts of a new run out to be worked.
func (s *Server) submit(ctx context.Context, run runstore.Run) {
	if run.Status.Finished() {
		return
	}
	parts := make([]runstore.PartRef, run.Parts)
	for i := range parts {
		parts[i] = runstore.PartRef{Run: run.Seq, Part: i}
	}
	if err := s.queue.enqueue(context.WithoutCancel(ctx), parts); err != nil {
		// The run is stored: the reconciler hands it out within a period.
		s.log.Warn("cannot hand a run out yet; it starts within a few seconds", "run", run.ID, "err", err)
	}
}
