package redislimit

import (
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/ratelimit"
)

// step is one event of a scripted run of the adaptive controller.
type step struct {
	sleep    time.Duration
	accept   int
	throttle time.Duration // > 0: a refusal with this Retry-After
}

// adaptiveScript is TestAdaptiveSteps's run (ratelimit), and then some.
func adaptiveScript() []step {
	s := []step{
		{accept: 20}, {sleep: 100 * time.Millisecond, throttle: time.Second}, {throttle: time.Second},
		{sleep: 500 * time.Millisecond, throttle: time.Second}, {sleep: time.Second, accept: 40},
		{sleep: 500 * time.Millisecond, throttle: time.Second},
		{sleep: time.Second, accept: 30}, {sleep: 2 * time.Second, accept: 35}, {sleep: 10 * time.Millisecond, throttle: 2 * time.Second},
	}
	for range 20 {
		s = append(s, step{sleep: 2 * time.Second, throttle: time.Second})
	}
	s = append(s, step{accept: 500}, step{sleep: time.Second, accept: 500}, step{sleep: time.Second, throttle: time.Second})
	// A long climb without refusals: the boosted step (doubling every 2 s).
	for range 12 {
		s = append(s, step{sleep: time.Second, accept: 20})
	}
	return append(s, step{sleep: 10 * time.Millisecond, throttle: time.Second})
}

// latecomerScript is a process refused before any acceptance (TestAdaptiveRefusedBefore-
// AnyAcceptance and TestAdaptiveClimbBoostWithoutBurstEstimate, ratelimit): the deep
// cut, a measured one, and a boosted climb without an estimate of the server's bucket.
func latecomerScript() []step {
	s := []step{{throttle: time.Second}, {throttle: time.Second}, {sleep: time.Second}}
	for range 10 {
		s = append(s, step{sleep: 200 * time.Millisecond, accept: 1})
	}
	s = append(s, step{throttle: time.Second}, step{sleep: time.Second})
	for range 20 {
		s = append(s, step{sleep: 500 * time.Millisecond, accept: 5})
	}
	return s
}

// sharedShareScript is one of three processes sharing a server (TestAdaptiveSharedShare,
// ratelimit): a random share of the opening bucket, then a second cut on the
// pause-included reading.
func sharedShareScript() []step {
	s := []step{{accept: 5}, {sleep: 50 * time.Millisecond, throttle: time.Second}, {sleep: time.Second}}
	for range 10 {
		s = append(s, step{sleep: 50 * time.Millisecond, accept: 1})
	}
	return append(s, step{throttle: time.Second})
}

// TestAdaptiveTwin drives the Lua controller of the shared budget and ratelimit's own
// through the same events at the same moments: the shared rate follows the local one
// step by step.
func TestAdaptiveTwin(t *testing.T) {
	srv := testserver.Redis(t, testserver.RedisOptions{})
	for name, script := range map[string][]step{"steps": adaptiveScript(), "latecomer": latecomerScript(), "shared share": sharedShareScript()} {
		t.Run(name, func(t *testing.T) { runTwin(t, srv.URL, name, script) })
	}
}

// runTwin drives both controllers through script; name keeps its Redis keys apart.
func runTwin(t *testing.T, url, name string, script []step) {
	cfg := ratelimit.Config{Rate: 100, Burst: 25, Adaptive: true, MinRate: 2}
	var want []float64
	synctest.Test(t, func(t *testing.T) {
		l := ratelimit.New(cfg)
		for _, s := range script {
			time.Sleep(s.sleep)
			for range s.accept {
				l.Accepted()
			}
			if s.throttle > 0 {
				l.Throttled(s.throttle)
			}
			want = append(want, l.Rate())
		}
	})

	rdb, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	l := newLimiter(rdb, ratelimit.NewDestination("twin "+name, "key"), Config{Limit: cfg})
	now := time.Now()
	l.now = func() time.Time { return now }
	flush := func() {
		if _, err := l.permit(t.Context(), false, false); err != nil {
			t.Fatal(err)
		}
	}
	flush()
	for i, s := range script {
		now = now.Add(s.sleep)
		for range s.accept {
			l.Accepted()
		}
		flush()
		if s.throttle > 0 {
			l.Throttled(s.throttle)
			flush()
		}
		if got := l.Rate(); math.Abs(got-want[i]) > 1e-9*want[i] {
			t.Errorf("step %d %+v: shared rate %v, ratelimit's %v", i, s, got, want[i])
		}
	}
	t.Logf("rates: %.2f", want)
}
