// Package redislimit shares one rate budget among processes and machines through Redis:
// for every destination (endpoint + write key) one token bucket (GCRA), one Retry-After
// cooldown and one adaptive rate, whatever process draws on them. A Limiter has the
// method set of *ratelimit.Limiter, so the loop uses either.
//
// A Retry-After seen by any process holds every process until it ends; after it, the
// shared bucket hands out permits one interval apart, so the waiters resume paced, not
// all at once, and nothing saved up during the pause goes out as a burst.
//
// When Redis cannot be reached mid-run, a Limiter warns and paces its process alone, at
// a conservative share of the rate (the last shared rate divided by the limiters seen
// recently), honouring every hold it already knew of; it tries Redis again every second
// and rejoins when it answers, without a burst. No call to Redis takes longer than
// Config.Timeout, so a lost Redis never stalls the run.
//
// Redis keys are derived from ratelimit.Destination.ID, a hash of the endpoint and of
// the write key's hash; the key itself never reaches Redis.
package redislimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segloop/segloop/ratelimit"
)

// Defaults and tuning.
const (
	// DefaultTimeout bounds each call to Redis when Config.Timeout is 0.
	DefaultTimeout = 250 * time.Millisecond
	// probeEvery is how often a limiter on its local fallback tries Redis again.
	probeEvery = time.Second
	// beatEvery is how often a limiter tells Redis it is still there; the participants
	// are those seen in the last 15 s (see permitScript).
	beatEvery = time.Second
	// idleTTL is how long a destination's shared state outlives its last use.
	idleTTL = 10 * time.Minute
	// recheckAfter: a permit whose slot was at least this far off re-checks the shared
	// hold before it is used (a hold may have begun while it waited).
	recheckAfter    = 2 * time.Millisecond
	maxResumeSpread = 100 * time.Millisecond
)

// Config configures a Limiter.
type Config struct {
	// Limit is the workspace's limit, shared by every process: Rate and Burst are those
	// of the whole destination, not of one process. Its fields mean what they mean for
	// ratelimit.New; processes sharing a destination should be given the same Limit.
	Limit ratelimit.Config
	// Timeout bounds each call to Redis; 0 means DefaultTimeout.
	Timeout time.Duration
	// Logger receives the warning when Redis is lost and the notice when it is back;
	// nil discards them.
	Logger *slog.Logger
}

// Status is what a Limiter can tell about the budget it draws on.
type Status struct {
	Shared       bool          // Redis answers: the budget is shared right now
	Participants int           // limiters seen sharing it in the last 15 s, this one included
	Fallbacks    int           // times Redis was lost during the run
	Local        time.Duration // time paced alone on the local fallback
}

// Limiter paces requests against a budget shared through Redis. It is safe for
// concurrent use; create it with New and Close it when done.
type Limiter struct {
	rdb     redis.Scripter
	keys    []string
	cfg     Config
	ceil    float64 // 0: no bucket (only the shared cooldown)
	floor   float64
	burst   int
	margin  int
	timeout time.Duration
	log     *slog.Logger
	id      string
	now     func() time.Time // not nil: the clock the scripts use (tests); nil: Redis TIME

	kick    chan struct{} // a refusal waits to be reported (see publish)
	done    chan struct{} // closed by Close: publish returns
	stopped chan struct{} // closed when publish has returned

	gate    ratelimit.Gate // every hold this limiter knows of
	spread  atomic.Int64   // resume jitter of the current hold (local fallback), ns
	pending atomic.Int64   // acceptances not yet reported to Redis

	mu           sync.Mutex
	refusals     ratelimit.Refusals
	throttles    []throttle         // refusals not yet reported to Redis
	rate         float64            // the shared rate last seen
	participants int                // last seen, at least 1
	lastBeat     time.Time          // last heartbeat sent
	local        *ratelimit.Limiter // not nil: Redis is lost, the process paces alone
	settle       *ratelimit.Limiter // not nil until settleUntil: the fallback, still a cap after a rejoin
	settleUntil  time.Time
	lostAt       time.Time
	nextProbe    time.Time
	probing      bool
	fallbacks    int
	localTime    time.Duration
}

// throttle is a refusal waiting to be reported.
type throttle struct {
	retryAfter time.Duration
	congestion bool
}

// New returns a Limiter drawing on dest's budget in rdb (a *redis.Client, a cluster or
// a ring: the keys of one destination share a hash slot). It joins the budget at once:
// an error means Redis did not answer within cfg.Timeout, and no Limiter is returned.
// For a client made with go-redis's defaults, Open returns one with the settings a
// limiter wants (short timeouts, no retries).
func New(ctx context.Context, rdb redis.Scripter, dest ratelimit.Destination, cfg Config) (*Limiter, error) {
	l := newLimiter(rdb, dest, cfg)
	if _, err := l.permit(ctx, false, false); err != nil {
		return nil, fmt.Errorf("redislimit: joining the shared budget: %w", err)
	}
	go l.publish() // owned: Close waits for it
	return l, nil
}

// newLimiter returns a Limiter that has not joined the budget yet and whose publish
// goroutine is not started.
func newLimiter(rdb redis.Scripter, dest ratelimit.Destination, cfg Config) *Limiter {
	var id [8]byte
	rand.Read(id[:])
	lc := cfg.Limit
	l := &Limiter{
		rdb:          rdb,
		keys:         []string{"segloop:rl:{" + dest.ID() + "}", "segloop:rl:{" + dest.ID() + "}:procs"},
		cfg:          cfg,
		timeout:      cfg.Timeout,
		log:          cfg.Logger,
		id:           hex.EncodeToString(id[:]),
		participants: 1,
		kick:         make(chan struct{}, 1),
		done:         make(chan struct{}),
		stopped:      make(chan struct{}),
	}
	if l.timeout <= 0 {
		l.timeout = DefaultTimeout
	}
	if l.log == nil {
		l.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if lc.Rate > 0 && !math.IsInf(lc.Rate, 1) && !math.IsNaN(lc.Rate) {
		l.ceil = lc.Rate
		l.burst = lc.Burst
		if l.burst <= 0 {
			l.burst = max(1, int(math.Ceil(lc.Rate/10)))
		}
		l.margin = ratelimit.OpeningMargin(lc.Rate)
		l.floor = lc.MinRate
		if l.floor <= 0 {
			l.floor = ratelimit.DefaultMinRate
		}
	}
	l.rate = l.ceil
	return l
}

// publish reports refusals to Redis as soon as Throttled records them, so that a
// Retry-After holds the other processes without waiting for this one's next permit.
// It returns when Close is called.
func (l *Limiter) publish() {
	defer close(l.stopped)
	for {
		select {
		case <-l.done:
			return
		case <-l.kick:
			ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
			_ = l.report(ctx) // a lost Redis shows in the next Wait, which falls back
			cancel()
		}
	}
}

// Wait blocks until no hold is in force, shared or local, and the shared bucket grants
// a permit (the local fallback's, while Redis is lost). Like ratelimit.Limiter.Wait it
// returns only outside every hold the limiter knows of: a permit whose slot came while
// a hold began is given up and a fresh one is taken after the hold. It returns
// context.Cause(ctx) if ctx ends first. It never fails because of Redis.
func (l *Limiter) Wait(ctx context.Context) error {
	for {
		if err := l.gate.WaitJitter(ctx, time.Duration(l.spread.Load())); err != nil {
			return err
		}
		if local, probe := l.fallback(); local != nil && !probe {
			if err := local.Wait(ctx); err != nil {
				return err
			}
		} else {
			wait, err := l.permit(ctx, true, local != nil)
			if err != nil {
				if ctx.Err() != nil {
					return context.Cause(ctx)
				}
				l.lose(err)
				continue
			}
			if local != nil {
				l.rejoin()
			}
			if wait > 0 {
				if err := sleep(ctx, wait); err != nil {
					return err
				}
				if wait >= recheckAfter {
					if _, err := l.permit(ctx, false, false); err != nil && ctx.Err() != nil {
						return context.Cause(ctx)
					}
				}
			}
			if settle := l.settling(); settle != nil {
				if err := settle.Wait(ctx); err != nil {
					return err
				}
			}
		}
		if !time.Now().Before(l.gate.Until()) {
			return nil
		}
	}
}

// permit makes one call of permitScript: it reports the pending feedback first, then
// takes a permit (take) or only learns the shared state. It returns the wait until the
// permit's slot, and records the shared hold, rate and participants it learned.
func (l *Limiter) permit(ctx context.Context, take, rejoin bool) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	if err := l.report(ctx); err != nil {
		return 0, err
	}
	l.mu.Lock()
	now := time.Now()
	beat := now.Sub(l.lastBeat) >= beatEvery
	l.mu.Unlock()
	k := l.pending.Swap(0)
	res, err := permitScript.Run(ctx, l.rdb, l.keys,
		l.clock(), fnum(l.ceil), l.burst, flag(l.cfg.Limit.Known), flag(l.cfg.Limit.Adaptive), k, flag(take),
		l.id, flag(beat), l.margin, flag(rejoin), idleTTL.Milliseconds()).Slice()
	if err != nil {
		return 0, err
	}
	if len(res) != 4 {
		return 0, fmt.Errorf("redislimit: permit script answered %v", res)
	}
	wait, hold, rate := micros(res[0]), micros(res[1]), parseNum(res[2])
	n, _ := res[3].(int64)
	l.mu.Lock()
	if l.ceil > 0 && rate > 0 {
		l.rate = rate
	}
	if n > 0 {
		l.participants = int(n)
	}
	if beat {
		l.lastBeat = now
	}
	l.mu.Unlock()
	if hold > 0 {
		l.holdLocal(now.Add(hold))
	}
	return wait, nil
}

// report sends the refusals not yet reported to Redis. On failure they are dropped: the
// holds they carry are already in force locally.
func (l *Limiter) report(ctx context.Context) error {
	l.mu.Lock()
	ts := l.throttles
	l.throttles = nil
	l.mu.Unlock()
	for _, t := range ts {
		res, err := throttleScript.Run(ctx, l.rdb, l.keys[:1],
			l.clock(), fnum(l.ceil), fnum(l.floor), t.retryAfter.Microseconds(),
			flag(l.cfg.Limit.Adaptive), flag(t.congestion), idleTTL.Milliseconds()).Slice()
		if err != nil {
			return err
		}
		if len(res) == 2 {
			l.mu.Lock()
			if r := parseNum(res[0]); l.ceil > 0 && r > 0 {
				l.rate = r
			}
			l.mu.Unlock()
			if hold := micros(res[1]); hold > 0 {
				l.holdLocal(time.Now().Add(hold))
			}
		}
	}
	return nil
}

// Accepted reports an accepted request. It never blocks for long: in adaptive mode the
// acceptance reaches Redis with this process's next permit.
func (l *Limiter) Accepted() {
	l.mu.Lock()
	local := l.local
	if l.cfg.Limit.Adaptive {
		l.refusals.Accepted()
	}
	l.mu.Unlock()
	if local != nil {
		local.Accepted()
		return
	}
	if l.cfg.Limit.Adaptive {
		l.pending.Add(1)
	}
}

// Throttled reports a refusal for rate, asking to wait retryAfter (0 if the remote end
// did not say). A positive retryAfter holds this process at once and every process of
// the destination from this process's next permit on. In adaptive mode the refusal cuts
// the shared rate as ratelimit.Limiter.Throttled describes (refusals without Retry-After
// only when sustained). It never blocks for long.
func (l *Limiter) Throttled(retryAfter time.Duration) {
	if retryAfter > 0 {
		l.holdLocal(time.Now().Add(retryAfter))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	congestion := l.cfg.Limit.Adaptive && l.refusals.Refused(retryAfter)
	if l.local != nil {
		l.local.Throttled(retryAfter)
		return
	}
	if retryAfter > 0 || congestion {
		l.throttles = append(l.throttles, throttle{retryAfter, congestion})
		select {
		case l.kick <- struct{}{}:
		default: // already kicked
		}
	}
}

// Hold holds this limiter's waiters until the given moment, as a Retry-After does,
// without touching the rate (no effect if until is not after the current hold's end).
// It is local to this process: Throttled is what holds them all.
func (l *Limiter) Hold(until time.Time) { l.holdLocal(until) }

// holdLocal extends the hold this limiter knows of (and its fallback's).
func (l *Limiter) holdLocal(until time.Time) {
	now := time.Now()
	if !until.After(now) || !until.After(l.gate.Until()) {
		return
	}
	l.spread.Store(int64(min(maxResumeSpread, until.Sub(now)/10)))
	l.gate.Hold(until)
	l.mu.Lock()
	local := l.local
	l.mu.Unlock()
	if local != nil {
		local.Hold(until)
	}
}

// fallback returns the local limiter while Redis is lost, and whether this caller is to
// try Redis again (one caller at a time, once per probeEvery).
func (l *Limiter) fallback() (local *ratelimit.Limiter, probe bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.local == nil {
		return nil, false
	}
	if !l.probing && !time.Now().Before(l.nextProbe) {
		l.probing = true
		return l.local, true
	}
	return l.local, false
}

// lose switches to the local fallback (or, while on it, schedules the next probe).
func (l *Limiter) lose(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.nextProbe = now.Add(probeEvery)
	l.probing = false
	if l.local != nil {
		return
	}
	share := l.rate / float64(max(1, l.participants))
	burst := max(1, l.burst/max(1, l.participants))
	l.local = ratelimit.New(ratelimit.Config{Rate: share, Burst: burst, Adaptive: l.cfg.Limit.Adaptive, MinRate: l.cfg.Limit.MinRate})
	l.local.Hold(l.gate.Until())
	l.throttles = nil
	l.pending.Store(0)
	l.fallbacks++
	l.lostAt = now
	l.log.Warn("redis unreachable: pacing this process alone at its share of the rate until redis answers again",
		"rate", round(share), "participants", max(1, l.participants), "error", err.Error())
}

// rejoin leaves the local fallback after a permit from Redis. The fallback stays a
// cap for one probe interval more: the other limiters that lost Redis rejoin at
// their own next probe, within that interval, and until then they still pace their
// fallback shares outside the shared bucket; capping this one at its share too keeps
// the sum within the budget (no overshoot while they rejoin one after the other).
func (l *Limiter) rejoin() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.local == nil {
		return
	}
	l.localTime += time.Since(l.lostAt)
	l.settle, l.settleUntil = l.local, time.Now().Add(probeEvery)
	l.local = nil
	l.probing = false
	l.log.Info("redis answers again: sharing the rate budget", "after", time.Since(l.lostAt).Round(time.Millisecond).String())
}

// settling returns the fallback while it still caps this limiter after a rejoin
// (see rejoin), else nil.
func (l *Limiter) settling() *ratelimit.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.settle != nil && !time.Now().Before(l.settleUntil) {
		l.settle = nil
	}
	return l.settle
}

// Rate returns the current rate of the budget in requests per second (+Inf when
// unlimited): the shared rate last seen, or the local fallback's.
func (l *Limiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.local != nil {
		return l.local.Rate()
	}
	if l.ceil == 0 {
		return math.Inf(1)
	}
	return l.rate
}

// Paused returns the total time this limiter held its waiters because of Retry-After,
// its own or another process's.
func (l *Limiter) Paused() time.Duration { return l.gate.Paused() }

// HeldUntil returns the end of the latest hold this limiter knows of; a time not after
// now means none.
func (l *Limiter) HeldUntil() time.Time { return l.gate.Until() }

// Status reports whether the budget is shared right now and how the run went.
func (l *Limiter) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Status{Shared: l.local == nil, Participants: l.participants, Fallbacks: l.fallbacks, Local: l.localTime}
	if l.local != nil {
		s.Local += time.Since(l.lostAt)
	}
	return s
}

// Close stops the limiter's reporting goroutine and leaves the budget: Redis forgets
// this limiter as a participant at once (rather than 15 s later). It does not close the
// Redis client. Waits must be over; Close must be called once. It always returns nil.
func (l *Limiter) Close() error {
	close(l.done)
	<-l.stopped
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	if c, ok := l.rdb.(interface {
		ZRem(context.Context, string, ...any) *redis.IntCmd
	}); ok {
		c.ZRem(ctx, l.keys[1], l.id)
	}
	return nil
}

// clock is the now the scripts use: 0 (Redis TIME) unless a test set l.now.
func (l *Limiter) clock() int64 {
	if l.now == nil {
		return 0
	}
	return l.now().UnixMicro()
}

func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}

func fnum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func round(v float64) float64 { return math.Round(v*100) / 100 }

// parseNum reads a number a script answered as a string.
func parseNum(v any) float64 {
	s, _ := v.(string)
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// micros reads a script's microseconds as a duration.
func micros(v any) time.Duration {
	return time.Duration(math.Ceil(parseNum(v) * 1e3))
}

// sleep waits d, or returns context.Cause(ctx) if ctx is done first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
