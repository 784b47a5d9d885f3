package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/segloop/segloop/segment/segmenttest"
)

// ndjsonBody generates size bytes of JSON Lines, items of about 1 KB, as a
// stream: the test never holds the body either.
type ndjsonBody struct {
	left int64
	i    int
	buf  bytes.Buffer
}

func (b *ndjsonBody) Read(p []byte) (int, error) {
	if b.buf.Len() == 0 {
		if b.left <= 0 {
			return 0, io.EOF
		}
		fmt.Fprintf(&b.buf, "{\"id\":\"u%08d\",\"pad\":\"%s\"}\n", b.i, strings.Repeat("x", 1000))
		b.i++
		b.left -= int64(b.buf.Len())
	}
	return b.buf.Read(p)
}

// peakRSS returns the child's peak resident set (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestServeLargeBodyBoundedMemory streams a large NDJSON body to the
// server: it is stored as it arrives, so the server's peak memory grows by
// far less than the body (96 MiB here, 16 under the race detector, whose
// SQLite is slow; SEGLOOP_BODY_MB=1024 for a 1 GiB body).
func TestServeLargeBodyBoundedMemory(t *testing.T) {
	mb := int64(96)
	if raceEnabled {
		mb = 16
	}
	if v := os.Getenv("SEGLOOP_BODY_MB"); v != "" {
		mb, _ = strconv.ParseInt(v, 10, 64)
	}
	srv := newServer(t, segmenttest.Options{})
	s := startServe(t, "--db", filepath.Join(t.TempDir(), "runs.db"), "--endpoint", srv.URL, "--rate", "50")
	before := peakRSS(t, s.cmd.Process.Pid)
	body := &ndjsonBody{left: mb << 20}
	res, err := http.Post(s.url+"/v1/runs", "application/x-ndjson", body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 202 {
		t.Fatalf("POST = %d %s", res.StatusCode, b)
	}
	after := peakRSS(t, s.cmd.Process.Pid)
	growth := after - before
	t.Logf("%d MiB body, %d items: peak RSS %d MiB -> %d MiB", mb, body.i, before>>20, after>>20)
	// The floor: the upload holds a few MiB of chunks, and once it is
	// answered, the run's parts start at once, each with a loop's buffers
	// (the race detector's shadow memory doubles all that and more).
	floor := int64(64 << 20)
	if raceEnabled {
		floor = 128 << 20
	}
	if growth > (mb<<20)/2 && growth > floor {
		t.Fatalf("peak RSS grew by %d MiB for a %d MiB body: the body is held in memory", growth>>20, mb)
	}
	var v struct{ ID string }
	jsonDecode(t, b, &v)
	st, _ := s.run(t, v.ID)
	if st != "queued" && st != "running" {
		t.Fatalf("run %s", st)
	}
}
