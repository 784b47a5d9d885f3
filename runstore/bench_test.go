package runstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/segloop/segloop/runstore"
)

// cpuTime is the process's user+system CPU time so far: less disturbed by
// a loaded machine than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkUpload stores items in chunks, as an upload does.
func BenchmarkUpload(b *testing.B) {
	st := open(&testing.T{}, filepath.Join(b.TempDir(), "runs.db"))
	defer st.Close()
	ctx := context.Background()
	data := []byte(`{"id":"u000001","email":"u000001@example.com","plan":"pro"}`)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		up, _ := st.NewUpload(ctx, 8)
		for i := range 10000 {
			up.Add(ctx, i%8, runstore.Item{Index: int64(i), Line: i + 2, Data: data})
		}
		up.Commit(ctx, runstore.New{RunKey: "k"}, "")
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "items/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(10000*b.N), "cpu-ns/item")
}

// BenchmarkRecord stores result lines in groups of 512, as a run does.
func BenchmarkRecord(b *testing.B) {
	st := open(&testing.T{}, filepath.Join(b.TempDir(), "runs.db"))
	defer st.Close()
	ctx := context.Background()
	up, _ := st.NewUpload(ctx, 1)
	up.Add(ctx, 0, runstore.Item{Index: 0, Line: 1, Data: []byte(`{}`)})
	run, _ := up.Commit(ctx, runstore.New{RunKey: "k"}, "")
	l, err := st.Claim(ctx, runstore.PartRef{Run: run.Seq}, "bench", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]runstore.Result, 512)
	var next int64
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		for i := range batch {
			batch[i] = runstore.Result{Index: next, Status: "ok", Line: fmt.Appendf(nil,
				`{"index":%d,"line":%d,"userId":"u%06d","messageId":"sl-0123456789abcdef0123456789abcdef","status":"ok","success":true,"attempts":1,"httpStatus":200,"durationMs":3}`+"\n", next, next+2, next)}
			next++
		}
		if err := l.Record(ctx, 0, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(512*b.N)/b.Elapsed().Seconds(), "results/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(512*b.N), "cpu-ns/result")
}
