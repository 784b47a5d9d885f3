package redislimit_test

import (
	"testing"
	"time"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/ratelimit/redislimit"
)

// BenchmarkWait measures what the shared limiter costs one process on loopback: permits
// per second through Wait (and Accepted, as the loop calls it) when the budget never
// makes anyone wait, one Redis round trip each, from 8 goroutines as the loop's workers.
func BenchmarkWait(b *testing.B) {
	srv := testserver.Redis(b, testserver.RedisOptions{})
	for _, tc := range []struct {
		name string
		cfg  ratelimit.Config
	}{
		{"fixed", ratelimit.Config{Rate: 1e9, Burst: 1 << 30, Known: true}},
		{"adaptive", ratelimit.Config{Rate: 1e9, Burst: 1 << 30, Known: true, Adaptive: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			l := process(b, srv.URL, ratelimit.NewDestination("bench", b.Name()), redislimit.Config{Limit: tc.cfg})
			ctx := b.Context()
			b.SetParallelism(8)
			b.ReportAllocs()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := l.Wait(ctx); err != nil {
						b.Error(err)
						return
					}
					l.Accepted()
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "permits/s")
		})
	}
}
