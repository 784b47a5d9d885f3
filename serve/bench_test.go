package serve_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/segloop/segloop/ratelimit"
	"github.com/segloop/segloop/runstore"
	"github.com/segloop/segloop/segment/segmenttest"
	"github.com/segloop/segloop/serve"
)

// BenchmarkRun100k posts a 100,000-row CSV as one run (?wait=true) to a
// server in this process, against segmenttest without a limit: for
// profiles of the service's own work (bench/ measures it as a process
// against segloop import). CPU-µs/item is this process's: the server's,
// segmenttest's and the client's.
//
//	go test -run '^$' -bench Run100k -benchtime 1x -cpuprofile cpu.out ./serve/
func BenchmarkRun100k(b *testing.B) {
	const rows = 100_000
	var csv bytes.Buffer
	csv.WriteString("id,email,name,plan\n")
	for i := range rows {
		fmt.Fprintf(&csv, "u%07d,u%07d@example.com,User %d,pro\n", i, i, i)
	}
	seg := segmenttest.NewServer(segmenttest.Options{})
	defer seg.Close()
	st, err := runstore.Open(context.Background(), filepath.Join(b.TempDir(), "runs.db"), runstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	srv, err := serve.New(serve.Config{Store: st, Endpoint: seg.URL, WriteKey: testWriteKey, Limit: ratelimit.Config{Rate: 0}})
	if err != nil {
		b.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	url := "http://" + ln.Addr().String() + "/v1/runs?wait=true"
	cpu0 := processCPU(b)
	for b.Loop() {
		res, err := http.Post(url, "text/csv", bytes.NewReader(csv.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Contains(body[:300], []byte(`"succeeded"`)) {
			b.Fatalf("%d %.300s", res.StatusCode, body)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "items/s")
	// The process's CPU: the server's, segmenttest's and the client's.
	b.ReportMetric((processCPU(b)-cpu0).Seconds()*1e6/float64(rows*b.N), "CPU-µs/item")
}

// processCPU is the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
