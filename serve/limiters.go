package serve

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/serve/fair"
)

// Limiter paces the requests to one destination (a Segment endpoint and
// write key) and hears how they were answered. *ratelimit.Limiter and
// *redislimit.Limiter satisfy it.
type Limiter interface {
	Wait(ctx context.Context) error
	Accepted()
	Throttled(retryAfter time.Duration)
	Rate() float64         // requests/s now; +Inf when unlimited
	Paused() time.Duration // total time Retry-After held it
	HeldUntil() time.Time  // when the current Retry-After hold ends
}

// NewLimiter makes the limiter of a destination, the first time the server
// sends to it: Config.NewLimiter, for a budget shared through Redis
// (redislimit.New), or nil for the in-process limiter of Config.Limit.
type NewLimiter func(d ratelimit.Destination) (Limiter, error)

// destination returns the ratelimit.Destination of write key key at the
// server's endpoint, and its ID: what runs store and the limiters share.
func (c *Config) destination(key string) (ratelimit.Destination, string) {
	d := ratelimit.NewDestination(c.destName(), key)
	return d, d.ID()
}

// shares keeps, per destination, the process's one limiter (from a
// ratelimit.Registry, so every run and call of the destination draws on
// it) and a fair.Queue over it: runs and calls of one write key take turns
// at its permits, and a run worked in several parts at once has one Share.
type shares struct {
	reg  ratelimit.Registry[Limiter]
	open NewLimiter

	mu sync.Mutex
	m  map[string]*destQueue // by destination ID
}

type destQueue struct {
	lim      Limiter
	release  func()
	q        *fair.Queue
	identify *fair.Share // the share of /v1/identify calls
	runs     map[string]*runShare
}

type runShare struct {
	s    *fair.Share
	refs int
}

func newShares(open NewLimiter) *shares {
	return &shares{open: open, m: map[string]*destQueue{}}
}

// get returns destination d's queue, making its limiter on first use.
func (s *shares) get(d ratelimit.Destination) (*destQueue, error) {
	id := d.ID()
	s.mu.Lock()
	defer s.mu.Unlock()
	if dq, ok := s.m[id]; ok {
		return dq, nil
	}
	lim, release, err := s.reg.Acquire(d, func() (Limiter, error) { return s.open(d) })
	if err != nil {
		return nil, err
	}
	dq := &destQueue{lim: lim, release: release, q: fair.New(lim), runs: map[string]*runShare{}}
	dq.identify = dq.q.Share()
	s.m[id] = dq
	return dq, nil
}

// run returns run id's share of destination d, shared by every part of the
// run this process works; done must be called once per call.
func (s *shares) run(d ratelimit.Destination, id string) (share *fair.Share, done func(), err error) {
	dq, err := s.get(d)
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, ok := dq.runs[id]
	if !ok {
		rs = &runShare{s: dq.q.Share()}
		dq.runs[id] = rs
	}
	rs.refs++
	var once sync.Once
	return rs.s, func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if rs.refs--; rs.refs == 0 {
				rs.s.Close()
				delete(dq.runs, id)
			}
		})
	}, nil
}

// each calls fn for every destination's limiter, with a short label.
func (s *shares) each(fn func(label string, lim Limiter)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, d := range s.m {
		fn(id[:8], d.lim)
	}
}

// close stops every queue's dispatcher and releases the limiters.
func (s *shares) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.m {
		d.q.Close()
		d.release()
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
