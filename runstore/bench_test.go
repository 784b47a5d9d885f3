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

// BenchmarkUpload stores items, a batch per transaction, as an upload does.
func BenchmarkUpload(b *testing.B) {
	st := open(&testing.T{}, filepath.Join(b.TempDir(), "runs.db"))
	defer st.Close()
	ctx := context.Background()
	data := []byte(`{"id":"u000001","email":"u000001@example.com","plan":"pro"}`)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		up, _ := st.NewUpload(ctx)
		for i := range 10000 {
			up.Add(ctx, runstore.Item{Index: int64(i), Line: i + 2, Data: data})
		}
		up.Commit(ctx, runstore.New{RunKey: "k"}, "")
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "items/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(10000*b.N), "cpu-ns/item")
}

// BenchmarkRecord stores result lines in batches of 2048, as a run does.
func BenchmarkRecord(b *testing.B) {
	st := open(&testing.T{}, filepath.Join(b.TempDir(), "runs.db"))
	defer st.Close()
	ctx := context.Background()
	up, _ := st.NewUpload(ctx)
	run, _ := up.Commit(ctx, runstore.New{RunKey: "k"}, "")
	batch := make([]runstore.Result, 2048)
	var next int64
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		for i := range batch {
			batch[i] = runstore.Result{Index: next, Status: "ok", Line: fmt.Appendf(nil,
				`{"index":%d,"line":%d,"userId":"u%06d","messageId":"sl-0123456789abcdef0123456789abcdef","status":"ok","success":true,"attempts":1,"httpStatus":200,"durationMs":3}`+"\n", next, next+2, next)}
			next++
		}
		if err := st.Record(ctx, run.ID, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(2048*b.N)/b.Elapsed().Seconds(), "results/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(2048*b.N), "cpu-ns/result")
}
