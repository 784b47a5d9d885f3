package serve

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/runstore"
)

// metrics are the server's Prometheus metrics, in a registry of its own
// (never the global one). Labels carry statuses and codes, and for the
// limiter the first 8 hex digits of a destination's hash: never a key.
type metrics struct {
	reg      *prometheus.Registry
	items    *prometheus.CounterVec // by status
	requests *prometheus.CounterVec // Segment requests by HTTP status ("error": no answer)
	retries  prometheus.Counter
	throttle prometheus.Counter
	api      *prometheus.CounterVec // API answers by HTTP status
	identify *prometheus.CounterVec // /v1/identify calls by outcome
	slices   *prometheus.CounterVec // slices of parts this replica worked, by outcome
}

func newMetrics(st *runstore.Store, sh *shares) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segloop_items_total", Help: "Items with a final result, by status.",
		}, []string{"status"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segloop_segment_requests_total", Help: "Requests to Segment, by HTTP status (error: no answer).",
		}, []string{"code"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "segloop_retries_total", Help: "Requests to Segment that retried an earlier attempt.",
		}),
		throttle: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "segloop_throttled_total", Help: "Requests to Segment answered 429.",
		}),
		api: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segloop_http_requests_total", Help: "Requests to this server's API and page, by HTTP status answered.",
		}, []string{"code"}),
		identify: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segloop_identify_calls_total", Help: "POST /v1/identify calls, by outcome (ok, invalid, failed).",
		}, []string{"status"}),
		slices: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "segloop_part_slices_total", Help: "Slices of work on parts of runs by this replica, by outcome (done: the part finished or was no longer this replica's; again: handed back with work left; later: could not be worked now).",
		}, []string{"outcome"}),
	}
	for _, st := range []loop.Status{loop.StatusOK, loop.StatusInvalid, loop.StatusFailed, loop.StatusSkipped, "unchanged"} {
		m.items.WithLabelValues(string(st))
	}
	for _, o := range []string{"done", "again", "later"} {
		m.slices.WithLabelValues(o)
	}
	m.reg.MustRegister(m.items, m.requests, m.retries, m.throttle, m.api, m.identify, m.slices,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "segloop_retry_after_pause_seconds_total", Help: "Time the limiters held every request because Segment answered Retry-After.",
		}, func() float64 {
			var d time.Duration
			sh.each(func(_ string, lim Limiter) { d += lim.Paused() })
			return d.Seconds()
		}),
		&limiterCollector{sh: sh, desc: prometheus.NewDesc("segloop_limiter_rate",
			"The current rate of a destination's limiter, requests/s (0: unlimited).", []string{"destination"}, nil)},
		&runsCollector{st: st, desc: prometheus.NewDesc("segloop_runs", "Runs by status.", []string{"status"}, nil)},
	)
	return m
}

// request counts one request to Segment.
func (m *metrics) request(code, retry int) {
	label := "error"
	if code != 0 {
		label = strconv.Itoa(code)
	}
	m.requests.WithLabelValues(label).Inc()
	if retry > 0 {
		m.retries.Inc()
	}
	if code == http.StatusTooManyRequests {
		m.throttle.Inc()
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

type limiterCollector struct {
	sh   *shares
	desc *prometheus.Desc
}

func (c *limiterCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *limiterCollector) Collect(ch chan<- prometheus.Metric) {
	c.sh.each(func(label string, lim Limiter) {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, finiteRate(lim.Rate()), label)
	})
}

type runsCollector struct {
	st   *runstore.Store
	desc *prometheus.Desc
}

func (c *runsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *runsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.st.StatusCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, s := range []runstore.Status{runstore.Queued, runstore.Running, runstore.Succeeded, runstore.CompletedWithFailures, runstore.Failed, runstore.Cancelled} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
}

// countingSender counts every request a run or a call makes to Segment.
type countingSender struct {
	c interface {
		Identify(ctx context.Context, event []byte, retry int) (int, error)
		Batch(ctx context.Context, events [][]byte, retry int) (int, error)
	}
	m *metrics
}

func (s countingSender) Identify(ctx context.Context, event []byte, retry int) (int, error) {
	code, err := s.c.Identify(ctx, event, retry)
	s.m.request(code, retry)
	return code, err
}

func (s countingSender) Batch(ctx context.Context, events [][]byte, retry int) (int, error) {
	code, err := s.c.Batch(ctx, events, retry)
	s.m.request(code, retry)
	return code, err
}
