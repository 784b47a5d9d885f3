package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/segment/segmenttest"
)

func TestImportRedisUnreachable(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	in := writeFile(t, "in.csv", genCSV(3))
	r := runCLI(t, context.Background(), nil, "import", "--endpoint", srv.URL, "--write-key", testWriteKey, "--redis", "redis://:redis-pw-5ecr3t@127.0.0.1:1/0", in)
	if r.code != exitUsage || !strings.Contains(r.stderr, "redis://:xxxxx@127.0.0.1:1/0") || strings.Contains(r.stderr, "redis-pw-5ecr3t") {
		t.Errorf("exit %d, stderr %q: want 2 naming the URL without its password", r.code, r.stderr)
	}
	if st := srv.Stats(); st.Requests != 0 {
		t.Errorf("%d requests sent", st.Requests)
	}
}

func TestImportSummarySaysShared(t *testing.T) {
	rs := testserver.Redis(t, testserver.RedisOptions{Password: "redis-pw-5ecr3t"})
	srv := newServer(t, segmenttest.Options{})
	in := writeFile(t, "in.csv", genCSV(30))
	t.Setenv(redisURLEnv, rs.URL)
	for _, tt := range []struct {
		format, want string
	}{
		{"text", "rate budget: shared through redis://:xxxxx@" + rs.Addr + "/0 (1 process seen)"},
		{"json", `"budget":"shared"`},
	} {
		r := runCLI(t, context.Background(), nil, "import", "--endpoint", srv.URL, "--write-key", testWriteKey, "--results", os.DevNull, "--log-format", tt.format, in)
		if r.code != 0 || !strings.Contains(r.stderr, tt.want) || strings.Contains(r.stderr, "redis-pw-5ecr3t") {
			t.Errorf("--log-format %s: exit %d, stderr %q: want %q and no password", tt.format, r.code, r.stderr, tt.want)
		}
	}
	t.Setenv(redisURLEnv, "")
	if r := runCLI(t, context.Background(), nil, "import", "--endpoint", srv.URL, "--write-key", testWriteKey, "--results", os.DevNull, in); !strings.Contains(r.stderr, "rate budget: this process only") {
		t.Errorf("without Redis: stderr %q", r.stderr)
	}
}

// TestProcessSharedBudget starts three segloop import processes together, 10,000 rows
// each in batches of 100 (300 requests in all), against one server that allows 20
// requests/s (bound 15 s): with --redis they share one budget, and no request goes
// into a Retry-After window; alone, each process converges on its own. The timings are
// logged, not asserted: bench/ measures them.
func TestProcessSharedBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("three processes for 15 s")
	}
	segloopBinary(t) // build once, before the parallel subtests
	for _, tc := range []struct {
		name  string
		redis bool
		rate  string
	}{
		{"redis", true, "20"},
		{"alone", false, "200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, segmenttest.Options{Rate: 20, Burst: 20})
			args := []string{"import", "--endpoint", srv.URL, "--rate", tc.rate, "--results", os.DevNull, "--log-format", "json"}
			if tc.redis {
				rs := testserver.Redis(t, testserver.RedisOptions{})
				args = append(args, "--redis", rs.URL)
			}
			dir := t.TempDir()
			var files []string
			for p := range 3 {
				var b strings.Builder
				b.WriteString("id,email\n")
				for i := range 10_000 {
					fmt.Fprintf(&b, "p%d-u%d,p%du%d@example.com\n", p, i, p, i)
				}
				files = append(files, filepath.Join(dir, fmt.Sprintf("in%d.csv", p)))
				if err := os.WriteFile(files[p], []byte(b.String()), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			var children []*child
			for _, f := range files {
				children = append(children, startChild(t, append(args, f)...))
			}
			var wg sync.WaitGroup
			codes := make([]int, len(children))
			for i, c := range children {
				wg.Go(func() { codes[i] = c.wait(t) })
			}
			wg.Wait()
			elapsed := time.Since(start)
			st := srv.Stats()
			share := float64(st.Throttled) / float64(st.Requests)
			t.Logf("%s: %v = %.2f× the 15 s bound; %d requests, %d answered 429 (%.1f%%), %d inside a Retry-After window, %d delivered",
				tc.name, elapsed.Round(time.Millisecond), elapsed.Seconds()/15, st.Requests, st.Throttled, 100*share, st.EarlyRequests, st.Unique)
			for i, code := range codes {
				if code != 0 {
					t.Errorf("process %d exited %d: %s", i, code, children[i].stderr.String())
				}
			}
			if st.Unique != 30_000 || st.Duplicates != 0 {
				t.Errorf("%d delivered, %d duplicates: want all 30000 once", st.Unique, st.Duplicates)
			}
			if !tc.redis {
				return // convergence without Redis: reported, and measured in bench/
			}
			if share > 0.01 {
				t.Errorf("%.1f%% of requests answered 429, want ≤ 1%%", 100*share)
			}
			if st.EarlyRequests != 0 {
				t.Errorf("%d requests inside a Retry-After window, want 0", st.EarlyRequests)
			}
			for i, c := range children {
				if !strings.Contains(c.stderr.String(), `"budget":"shared"`) {
					t.Errorf("process %d's summary does not say the budget was shared: %s", i, c.stderr.String())
				}
			}
		})
	}
}
