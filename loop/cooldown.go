package loop

import (
	"context"
	"time"

	"github.com/segloop/segloop/ratelimit"
)

// cooldown gives a Limiter that takes no Feedback (a *rate.Limiter), or none at all, the
// Retry-After cooldown a Feedback limiter owns: Throttled holds its gate, and Wait
// returns only outside the hold, waiting on next in between.
type cooldown struct {
	next Limiter // nil: unlimited
	gate ratelimit.Gate
}

// Wait waits for the gate to open and for next, and again if a hold began meanwhile.
func (c *cooldown) Wait(ctx context.Context) error {
	for {
		if err := c.gate.Wait(ctx); err != nil {
			return err
		}
		if c.next != nil {
			if err := c.next.Wait(ctx); err != nil {
				return err
			}
		}
		if !time.Now().Before(c.gate.Until()) {
			return nil
		}
	}
}

// Accepted implements Feedback; there is nothing to adapt.
func (c *cooldown) Accepted() {}

// Throttled holds the gate for retryAfter.
func (c *cooldown) Throttled(retryAfter time.Duration) {
	if retryAfter > 0 {
		c.gate.Hold(time.Now().Add(retryAfter))
	}
}
