package redislimit_test

import (
	"context"
	"log"
	"log/slog"

	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/ratelimit/redislimit"
)

// Every process that runs this shares one budget of 500 requests/s for the write key,
// whatever machine it runs on.
func ExampleNew() {
	ctx := context.Background()
	rdb, err := redislimit.Open(ctx, "redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err) // names the URL without its password
	}
	defer rdb.Close()
	dest := ratelimit.NewDestination("https://api.segment.io", "WRITE_KEY")
	lim, err := redislimit.New(ctx, rdb, dest, redislimit.Config{
		Limit:  ratelimit.Config{Rate: 500, Adaptive: true},
		Logger: slog.Default(),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer lim.Close()
	for range 10 {
		if err := lim.Wait(ctx); err != nil {
			return
		}
		// ... send one request; then lim.Accepted() or lim.Throttled(retryAfter)
		lim.Accepted()
	}
}
