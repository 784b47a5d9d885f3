package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/segloop/segloop/internal/testserver"
)

func TestMain(m *testing.M) { testserver.Main(m) }

// BenchmarkServeReplicas: one 100,000-row run (POST ?wait=true, from the
// request to the last result line) through 1 and through 3 `segloop serve`
// replicas sharing one PostgreSQL database (an instance of the test's own,
// on loopback; $SEGLOOP_TEST_POSTGRES_URL names another), against a sandbox
// with no limit. items/s of the run and the CPU all replicas used per item.
//
//	go test -run '^$' -bench ServeReplicas -benchtime 1x -count 3 ./bench/
func BenchmarkServeReplicas(b *testing.B) {
	bs, err := benchBins()
	if err != nil {
		b.Fatal(err)
	}
	file, err := newInputs(b.TempDir()).file(runRows)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 3} {
		b.Run(map[int]string{1: "replicas=1", 3: "replicas=3"}[n], func(b *testing.B) {
			db, _ := testserver.SharedPostgres(b)
			sb := sandboxFor(b, bs.segloop)
			var procs []*serveProc
			for i := range n {
				procs = append(procs, startServe(b, bs.segloop, sb.url, "--db", db, "--replica", "bench-"+string(rune('a'+i))))
			}
			var total time.Duration
			var cpu float64
			for b.Loop() {
				cpu0 := 0.0
				for _, p := range procs {
					cpu0 += cpuSeconds(b, p.cmd.Process.Pid)
				}
				f, err := os.Open(file)
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				res, err := http.Post(procs[0].url+"/v1/runs?wait=true&batch=100", "text/csv", f)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				f.Close()
				total += time.Since(start)
				for _, p := range procs {
					cpu += cpuSeconds(b, p.cmd.Process.Pid)
				}
				cpu -= cpu0
				if res.StatusCode != 200 || !bytes.Contains(body[:min(len(body), 300)], []byte(`"status":"succeeded"`)) {
					b.Fatalf("run = %d %.300s", res.StatusCode, body)
				}
			}
			b.ReportMetric(float64(runRows*b.N)/total.Seconds(), "items/s")
			b.ReportMetric(cpu*1e6/float64(runRows*b.N), "CPU-µs/item")
		})
	}
}
