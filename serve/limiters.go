package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"sync"
	"time"

	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/serve/fair"
)

// Limiter paces the requests to one destination (a Segment endpoint and
// write key) and hears how they were answered. *ratelimit.Limiter
// satisfies it.
type Limiter interface {
	Wait(ctx context.Context) error
	Accepted()
	Throttled(retryAfter time.Duration)
	Rate() float64         // requests/s now; +Inf when unlimited
	Paused() time.Duration // total time Retry-After held it
}

// Limiters hands out the one Limiter of each destination, shared by every
// run and every /v1/identify call of the server (and, for a registry backed
// by Redis, by every process). destination is a hash of the endpoint and the
// write key, never the key itself. Limiter must return the same Limiter for
// the same destination; it is called from many goroutines.
//
// NewLocalLimiters is the in-process registry; the shared-budget work's
// registry satisfies the same interface.
type Limiters interface {
	Limiter(destination string) Limiter
}

// LocalLimiters is an in-process Limiters: one ratelimit.Limiter per
// destination, made from one Config, kept for the server's life.
type LocalLimiters struct {
	cfg ratelimit.Config
	mu  sync.Mutex
	m   map[string]*ratelimit.Limiter
}

// NewLocalLimiters returns a registry whose limiters all use cfg.
func NewLocalLimiters(cfg ratelimit.Config) *LocalLimiters {
	return &LocalLimiters{cfg: cfg, m: map[string]*ratelimit.Limiter{}}
}

// Limiter returns destination's limiter, creating it on first use.
func (l *LocalLimiters) Limiter(destination string) Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[destination]
	if !ok {
		lim = ratelimit.New(l.cfg)
		l.m[destination] = lim
	}
	return lim
}

// Destination names where events go for the limiter registry, the store and
// the metrics: a hash of the endpoint's name (its URL, or "sandbox") and the
// write key. It is 32 hex digits and does not reveal the key.
func Destination(endpoint, writeKey string) string {
	sum := sha256.Sum256([]byte("segloop destination\n" + endpoint + "\n" + writeKey))
	return hex.EncodeToString(sum[:16])
}

// shares keeps one fair.Queue per destination over that destination's
// Limiter: runs and calls of one write key take turns at its permits.
type shares struct {
	limiters Limiters
	mu       sync.Mutex
	m        map[string]*destQueue
}

type destQueue struct {
	lim      Limiter
	q        *fair.Queue
	identify *fair.Share // the share of /v1/identify calls
}

func newShares(l Limiters) *shares { return &shares{limiters: l, m: map[string]*destQueue{}} }

func (s *shares) get(dest string) *destQueue {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.m[dest]
	if !ok {
		lim := s.limiters.Limiter(dest)
		d = &destQueue{lim: lim, q: fair.New(lim)}
		d.identify = d.q.Share()
		s.m[dest] = d
	}
	return d
}

// each calls fn for every destination's limiter, with a short label.
func (s *shares) each(fn func(label string, lim Limiter)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for dest, d := range s.m {
		fn(dest[:8], d.lim)
	}
}

// close stops every queue's dispatcher.
func (s *shares) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.m {
		d.q.Close()
	}
	s.m = map[string]*destQueue{}
}

// finiteRate is r, or 0 when unlimited, for metrics.
func finiteRate(r float64) float64 {
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return 0
	}
	return r
}
