package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sync"
	"time"
)

// Destination names one rate budget: a remote end and the credential used with it (for
// Segment, an endpoint and a write key). It keeps a hash of the credential, never the
// credential itself, so it may be compared, used as a map key, logged and stored.
type Destination struct {
	Endpoint string
	keyHash  [sha256.Size]byte
}

// NewDestination returns the Destination of endpoint and credential.
func NewDestination(endpoint, credential string) Destination {
	return Destination{Endpoint: endpoint, keyHash: sha256.Sum256([]byte("segloop credential\x00" + credential))}
}

// ID returns 32 hex digits that identify d: a hash of its endpoint and of its
// credential's hash. Shared stores (package redislimit) derive their keys from it.
func (d Destination) ID() string {
	h := sha256.New()
	h.Write([]byte("segloop destination\x00"))
	h.Write([]byte(d.Endpoint))
	h.Write([]byte{0})
	h.Write(d.keyHash[:])
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Holder is what a Registry shares: a limiter that says until when it holds its waiters.
// *Limiter and *redislimit.Limiter are Holders.
type Holder interface {
	HeldUntil() time.Time
}

// Registry shares one limiter per Destination among the runs of one process, so that
// runs that send to the same destination at once (a library user's, or the runs of
// segloop serve) draw on one bucket, one cooldown and one adaptive rate, as the remote
// end sees them.
//
// Acquire makes the limiter on first use and counts its users; release drops the count.
// A limiter nobody uses is forgotten (and closed, if it is an io.Closer) once its hold
// has ended, not before: a run that starts right after another one was told to wait
// must wait too. Forgotten limiters are swept on later Acquire and release calls, so
// the registry holds at most the destinations in use plus those still held.
//
// The zero Registry is empty and ready to use. It is safe for concurrent use; it must
// not be copied after first use.
type Registry[L Holder] struct {
	mu sync.Mutex
	m  map[Destination]*entry[L]
}

type entry[L Holder] struct {
	l    L
	refs int
}

// Acquire returns the limiter of d, making it with open if the registry has none. The
// first caller's open makes it; later callers share it, whatever limiter their own open
// would have made. release must be called once when the caller is done with it (calls
// after the first do nothing). An error from open is returned as is, and nothing is
// registered.
func (r *Registry[L]) Acquire(d Destination, open func() (L, error)) (l L, release func(), err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweep(time.Now())
	e, ok := r.m[d]
	if !ok {
		l, err := open()
		if err != nil {
			return l, func() {}, err
		}
		if r.m == nil {
			r.m = make(map[Destination]*entry[L])
		}
		e = &entry[L]{l: l}
		r.m[d] = e
	}
	e.refs++
	var once sync.Once
	return e.l, func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			e.refs--
			r.sweep(time.Now())
		})
	}, nil
}

// Len returns how many destinations the registry holds a limiter for.
func (r *Registry[L]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweep(time.Now())
	return len(r.m)
}

// sweep forgets the limiters nobody uses whose hold has ended; r.mu must be held.
func (r *Registry[L]) sweep(now time.Time) {
	for d, e := range r.m {
		if e.refs > 0 || now.Before(e.l.HeldUntil()) {
			continue
		}
		delete(r.m, d)
		if c, ok := any(e.l).(io.Closer); ok {
			c.Close()
		}
	}
}
