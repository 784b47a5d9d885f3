package segloop

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
)

// TestBacklogWaits: wait returns at once at or under the limit, blocks above
// it until enough items are reported, and ends with ctx.
func TestBacklogWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := backlog{room: make(chan struct{}, 1)}
		ctx := context.Background()
		b.add(3)
		if err := b.wait(ctx, 3); err != nil {
			t.Fatalf("wait at the limit: %v", err)
		}
		b.add(4) // 7 unreported
		done := make(chan error, 1)
		go func() { done <- b.wait(ctx, 3) }()
		for range 3 {
			b.done()
			synctest.Wait()
			select {
			case err := <-done:
				t.Fatalf("wait returned (%v) with %d unreported, limit 3", err, b.n.Load())
			default:
			}
		}
		b.done() // 3 unreported
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("wait: %v", err)
			}
		default:
			t.Fatal("wait still blocked with 3 unreported, limit 3")
		}

		// A stale wake-up left in room does not let a later wait through
		// early.
		b.add(3) // 6
		b.room <- struct{}{}
		cause := errors.New("stopped")
		cctx, cancel := context.WithCancelCause(ctx)
		go func() { done <- b.wait(cctx, 3) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("wait returned (%v) with %d unreported, limit 3", err, b.n.Load())
		default:
		}
		cancel(cause)
		if err := <-done; !errors.Is(err, cause) {
			t.Fatalf("wait after cancel: %v, want %v", err, cause)
		}
	})
}
