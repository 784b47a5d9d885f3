package ratelimit_test

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segloop/segloop/ratelimit"
)

func TestDestination(t *testing.T) {
	a := ratelimit.NewDestination("https://api.segment.io", "wk-secret-1")
	if a != ratelimit.NewDestination("https://api.segment.io", "wk-secret-1") {
		t.Error("the same endpoint and key give different destinations")
	}
	for _, b := range []ratelimit.Destination{
		ratelimit.NewDestination("https://api.segment.io", "wk-secret-2"),
		ratelimit.NewDestination("https://events.eu1.segmentapis.com", "wk-secret-1"),
	} {
		if a == b || a.ID() == b.ID() {
			t.Errorf("%v and %v share a destination or ID", a.Endpoint, b.Endpoint)
		}
	}
	if id := a.ID(); len(id) != 32 || strings.Contains(id, "secret") {
		t.Errorf("ID %q: want 32 hex digits", id)
	}
}

func TestRegistryShares(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var reg ratelimit.Registry[*ratelimit.Limiter]
		dest := ratelimit.NewDestination("http://127.0.0.1:1", "key")
		made := 0
		open := func() (*ratelimit.Limiter, error) {
			made++
			return ratelimit.New(ratelimit.Config{Rate: 10}), nil
		}
		a, releaseA, _ := reg.Acquire(dest, open)
		b, releaseB, _ := reg.Acquire(dest, open)
		other, releaseOther, _ := reg.Acquire(ratelimit.NewDestination("http://127.0.0.1:1", "other key"), open)
		if a != b || a == other || made != 2 {
			t.Fatalf("two runs of one destination got different limiters (or another destination the same): made %d", made)
		}
		// A hold seen by one run holds the other.
		a.Throttled(time.Second)
		start := time.Now()
		if err := b.Wait(t.Context()); err != nil || time.Since(start) < time.Second {
			t.Errorf("the other run's Wait = %v after %v, want after the 1s hold", err, time.Since(start))
		}
		releaseA()
		releaseA() // twice: no effect
		if reg.Len() != 2 {
			t.Errorf("Len = %d with both destinations in use", reg.Len())
		}
		releaseOther()
		if reg.Len() != 1 {
			t.Errorf("Len = %d after the other destination's last run ended", reg.Len())
		}
		// The last run ends inside a hold: the limiter is kept until the hold ends.
		b.Throttled(10 * time.Second)
		releaseB()
		if c, release, _ := reg.Acquire(dest, open); c != a || made != 2 {
			t.Error("a run started inside a hold got a new limiter")
		} else {
			release()
		}
		time.Sleep(11 * time.Second)
		if reg.Len() != 0 {
			t.Errorf("Len = %d after every run ended and the hold passed", reg.Len())
		}
		if c, release, _ := reg.Acquire(dest, open); c == a || made != 3 {
			t.Error("a run after the hold got the old limiter")
		} else {
			release()
		}
	})
}

func TestRegistryOpenError(t *testing.T) {
	var reg ratelimit.Registry[*ratelimit.Limiter]
	boom := errors.New("boom")
	_, release, err := reg.Acquire(ratelimit.NewDestination("e", "k"), func() (*ratelimit.Limiter, error) { return nil, boom })
	release()
	if !errors.Is(err, boom) || reg.Len() != 0 {
		t.Errorf("Acquire = %v, Len %d; want the open error and nothing registered", err, reg.Len())
	}
}
