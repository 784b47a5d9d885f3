package ratelimit_test

import (
	"testing"

	"github.com/segloop/segloop/ratelimit"
)

// BenchmarkLimiter measures the cost per request of pacing and feedback when the bucket
// never makes anyone wait.
func BenchmarkLimiter(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  ratelimit.Config
	}{
		{"unlimited", ratelimit.Config{}},
		{"fixed", ratelimit.Config{Rate: 1e12, Burst: 1 << 30}},
		{"adaptive", ratelimit.Config{Rate: 1e12, Burst: 1 << 30, Adaptive: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			l := ratelimit.New(tc.cfg)
			ctx := b.Context()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := l.Wait(ctx); err != nil {
						b.Fatal(err)
					}
					l.Accepted()
				}
			})
		})
	}
}
