package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The service's benchmarks, on loopback, each against a `segloop sandbox`
// process with no limit (so the fake Segment's CPU is not the measured
// process's):
//
//	go test -run '^$' -bench 'Serve' -benchtime 1x -count 6 ./bench/ | tee serve.txt
//	benchstat serve.txt
//
// BenchmarkServeIdentify: POST /v1/identify calls/s through `segloop serve`
// from 16 concurrent callers (each call a full loop run of one item).
// BenchmarkServeRun100k: a 100,000-row CSV as one run (POST ?wait=true, from
// the request to the last result line, read and dropped) against `segloop
// import` of the same file (--results /dev/null), items/s each; the issue's
// goal is serve ≥ 0.8× import.

// cpuSeconds returns the user+system CPU time process pid has used so far,
// from /proc (clock ticks of 1/100 s, as Linux reports them).
func cpuSeconds(b *testing.B, pid int) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) start after ")".
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100
}

// benchBins builds the binaries once per test process.
var benchBins = sync.OnceValues(func() (bins, error) {
	dir, err := os.MkdirTemp("", "segloop-servebench-")
	if err != nil {
		return bins{}, err
	}
	return build(context.Background(), dir)
})

// serveProc is a running `segloop serve` process.
type serveProc struct {
	cmd *exec.Cmd
	url string
}

func startServe(b *testing.B, bin, endpoint string, extra ...string) *serveProc {
	b.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(b.TempDir(), "runs.db"),
		"--endpoint", endpoint, "--write-key", benchWriteKey, "--rate", "0", "--log-format", "json"}, extra...)
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("serve printed no URL: %v", err)
	}
	go io.Copy(io.Discard, out) // owned by cmd.Wait: the pipe closes when the process exits
	return &serveProc{cmd: cmd, url: strings.TrimSpace(line)}
}

func sandboxFor(b *testing.B, bin string) *sandbox {
	b.Helper()
	sb, err := startSandbox(context.Background(), bin, serverConfig{Rate: 0, Burst: 1, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sb.stop() })
	return sb
}

func BenchmarkServeIdentify(b *testing.B) {
	bs, err := benchBins()
	if err != nil {
		b.Fatal(err)
	}
	sb := sandboxFor(b, bs.segloop)
	srv := startServe(b, bs.segloop, sb.url)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	const callers = 16
	var next, failed atomic.Int64
	n := int64(max(b.N, 2000))
	b.ResetTimer()
	cpu0 := cpuSeconds(b, srv.cmd.Process.Pid)
	start := time.Now()
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for i := next.Add(1); i <= n; i = next.Add(1) {
				body := fmt.Sprintf(`{"userId":"u%d","email":"u%d@example.com","traits":{"plan":"pro"}}`, i, i)
				res, err := hc.Post(srv.url+"/v1/identify", "application/json", strings.NewReader(body))
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d calls failed", failed.Load(), n)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "calls/s")
	b.ReportMetric((cpuSeconds(b, srv.cmd.Process.Pid)-cpu0)*1e6/float64(n), "serve-CPU-µs/call")
	b.ReportMetric(0, "ns/op")
}

const runRows = 100_000

func BenchmarkServeRun100k(b *testing.B) {
	bs, err := benchBins()
	if err != nil {
		b.Fatal(err)
	}
	file, err := newInputs(b.TempDir()).file(runRows)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("serve", func(b *testing.B) {
		sb := sandboxFor(b, bs.segloop)
		srv := startServe(b, bs.segloop, sb.url)
		var total time.Duration
		var cpu float64
		for b.Loop() {
			cpu0 := cpuSeconds(b, srv.cmd.Process.Pid)
			f, err := os.Open(file)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			res, err := http.Post(srv.url+"/v1/runs?wait=true&batch=100", "text/csv", f)
			if err != nil {
				b.Fatal(err)
			}
			// The answer's head says how the run ended; its 100,000 result
			// lines are read to the end and dropped, as import's go to
			// /dev/null (a client holding 17 MB of them is not serve's cost).
			head := make([]byte, 300)
			n, _ := io.ReadFull(res.Body, head)
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			f.Close()
			total += time.Since(start)
			cpu += cpuSeconds(b, srv.cmd.Process.Pid) - cpu0
			if res.StatusCode != 200 || !bytes.Contains(head[:n], []byte(`"status":"succeeded"`)) {
				b.Fatalf("run = %d %.300s", res.StatusCode, head[:n])
			}
		}
		b.ReportMetric(float64(runRows*b.N)/total.Seconds(), "items/s")
		b.ReportMetric(cpu*1e6/float64(runRows*b.N), "CPU-µs/item")
	})
	b.Run("import", func(b *testing.B) {
		sb := sandboxFor(b, bs.segloop)
		c := clientConfig{Name: clientSegloop, Batch: 100, Rate: 0}
		var total time.Duration
		var cpu float64
		for b.Loop() {
			u, err := runMeasured(context.Background(), bs.segloop, c.args(sb.url, file)...)
			if err != nil || u.ExitCode != 0 {
				b.Fatalf("import: %v, exit %d: %s", err, u.ExitCode, u.Stderr)
			}
			total += u.Wall
			cpu += u.CPU.Seconds()
		}
		b.ReportMetric(float64(runRows*b.N)/total.Seconds(), "items/s")
		b.ReportMetric(cpu*1e6/float64(runRows*b.N), "CPU-µs/item")
	})
}
