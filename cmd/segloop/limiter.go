package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/ratelimit/redislimit"
)

// redisURLEnv is the variable --redis defaults to.
const redisURLEnv = "SEGLOOP_REDIS_URL"

// limiterFlags are the import flags of the rate budget's sharing.
type limiterFlags struct {
	redisURL string // --redis; "" = the in-process limiter alone
}

// register defines --redis on fs, defaulting to $SEGLOOP_REDIS_URL.
func (lf *limiterFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	lf.redisURL = getenv(redisURLEnv)
	fs.Var((*redisURLValue)(&lf.redisURL), "redis",
		"share the rate budget (--rate is then the workspace's), Retry-After cooldown and adaptive rate with every process sending to the same endpoint and write key, through Redis at `URL` (default $"+redisURLEnv+")")
}

// redisURLValue is a flag.Value that never shows the URL's password (in --help).
type redisURLValue string

func (v *redisURLValue) String() string {
	if v == nil || *v == "" {
		return ""
	}
	return redislimit.Redact(string(*v))
}

func (v *redisURLValue) Set(s string) error { *v = redisURLValue(s); return nil }

// pacer is what an import run needs of its limiter: the loop's Limiter and Feedback,
// and the progress display's figures. *ratelimit.Limiter and *redislimit.Limiter are
// pacers.
type pacer interface {
	Wait(ctx context.Context) error
	Accepted()
	Throttled(retryAfter time.Duration)
	Rate() float64
	Paused() time.Duration
}

// budget is the rate limiter of one import run: in-process, or shared through Redis.
// Close must be called.
type budget struct {
	pacer
	shared   *redislimit.Limiter // nil: in-process
	rdb      *redis.Client
	redacted string // the Redis URL without its password
}

// openBudget returns the limiter of the run: shared through Redis with --redis (unless
// nothing is sent), the in-process limiter otherwise. Redis not answering is a usage
// error (exit 2) naming the URL without its password.
func openBudget(ctx context.Context, f *importFlags, endpoint, writeKey string, log *slog.Logger) (*budget, error) {
	if f.rate > recommendedRate {
		log.Warn("rate above Segment's recommended 1,000 requests/s per workspace; expect 429s from Segment", "rate", f.rate)
	}
	cfg := ratelimit.Config{Rate: f.rate, Burst: f.burst, Known: f.burst > 0 || !f.adaptive, Adaptive: f.adaptive}
	if f.limiter.redisURL == "" || f.dryRun {
		return &budget{pacer: ratelimit.New(cfg)}, nil
	}
	redis.SetLogger(quietRedis{}) // go-redis logs dial failures itself; the limiter reports them
	b := &budget{redacted: redislimit.Redact(f.limiter.redisURL)}
	rdb, err := redislimit.Open(ctx, f.limiter.redisURL)
	if err != nil {
		return nil, usageError("import: --redis %v", err)
	}
	dest := ratelimit.NewDestination(endpoint, writeKey)
	shared, err := redislimit.New(ctx, rdb, dest, redislimit.Config{
		Limit:  cfg,
		Logger: log.With("redis", b.redacted),
	})
	if err != nil {
		rdb.Close()
		return nil, usageError("import: --redis %s: %v", b.redacted, err)
	}
	b.pacer, b.shared, b.rdb = shared, shared, rdb
	return b, nil
}

// Close leaves the shared budget and closes the Redis client. It does
// nothing on a nil *budget.
func (b *budget) Close() {
	if b != nil && b.shared != nil {
		b.shared.Close()
		b.rdb.Close()
	}
}

// describe says, for the summary, whether the budget was shared: a short word and a
// sentence.
func (b *budget) describe() (kind, text string) {
	if b == nil || b.shared == nil {
		return "local", "this process only"
	}
	st := b.shared.Status()
	text = fmt.Sprintf("shared through %s (%d %s seen)", b.redacted, st.Participants, plural(st.Participants, "process", "processes"))
	if st.Fallbacks > 0 {
		text += fmt.Sprintf(", Redis lost %d times: %s paced alone", st.Fallbacks, st.Local.Round(time.Millisecond))
	}
	return "shared", text
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// quietRedis discards go-redis's own log lines.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}
