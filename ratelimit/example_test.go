package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/segloop/segloop/ratelimit"
)

// Two runs of one process that send with the same write key to the same endpoint share
// one limiter: a Retry-After one of them is told holds the other too.
func ExampleRegistry() {
	var reg ratelimit.Registry[*ratelimit.Limiter]
	dest := ratelimit.NewDestination("https://api.segment.io", "WRITE_KEY")
	open := func() (*ratelimit.Limiter, error) {
		return ratelimit.New(ratelimit.Config{Rate: 250, Adaptive: true}), nil
	}
	a, releaseA, _ := reg.Acquire(dest, open)
	defer releaseA()
	b, releaseB, _ := reg.Acquire(dest, open)
	defer releaseB()

	a.Throttled(50 * time.Millisecond) // run a got a 429 with Retry-After
	start := time.Now()
	_ = b.Wait(context.Background()) // run b waits it out
	fmt.Println(a == b, time.Since(start) >= 50*time.Millisecond)
	// Output: true true
}
