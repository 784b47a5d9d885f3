package segloop

import (
	"runtime"
	"strconv"
	"testing"
)

// BenchmarkMessageIDs measures the check of a million mapped messageIds: the
// time per id and the memory the set holds per id.
func BenchmarkMessageIDs(b *testing.B) {
	const n = 1_000_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "import-2026-11-29-user-" + strconv.Itoa(i)
	}
	var held float64
	for b.Loop() {
		var before, after runtime.MemStats
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		var m messageIDs
		for i, id := range ids {
			if err := m.check(id, i+2); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.StartTimer()
		held = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(m.first)
	}
	b.ReportMetric(held, "B/id")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/id")
}
