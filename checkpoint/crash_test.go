package checkpoint_test

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segloop/segloop/checkpoint"
)

// TestCrashCopies copies the checkpoint file at arbitrary moments while two
// goroutines mark, with a 1 ms Interval, as a crash would freeze it. Every
// copy must open cleanly and hold only indexes whose Mark had started.
func TestCrashCopies(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c")
	f, err := checkpoint.Open(path, "fp", checkpoint.Options{Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1 << 20 // more than marking gets through before it is stopped
	order := jittered(n, 48)
	pos := make([]int, n) // pos[i] is i's place in order
	for k, i := range order {
		pos[i] = k
	}
	var next atomic.Int64 // marks of order[:next] have started
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			work := rand.New(rand.NewPCG(uint64(w), 1))
			for !stop.Load() {
				k := next.Add(1) - 1
				if k >= n {
					return
				}
				for range 200 { // stand-in for sending the item
					_ = work.Uint64()
				}
				if err := f.Mark(order[k]); err != nil {
					t.Errorf("Mark: %v", err)
					return
				}
			}
		})
	}

	// Take copies while marking goes on; check them afterwards so that
	// checking does not slow down copying.
	type snapshot struct {
		data    []byte
		started int64
	}
	var snaps []snapshot
	changes := 0
	rng := rand.New(rand.NewPCG(3, 4))
	for next.Load() < n && changes < 25 && len(snaps) < 20000 {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("copy %d: %v", len(snaps), err)
		}
		if len(snaps) > 0 && !bytes.Equal(data, snaps[len(snaps)-1].data) {
			changes++
		}
		snaps = append(snaps, snapshot{data, next.Load()})
		for range rng.IntN(20000) { // vary the moment of the next copy
			_ = rng.Uint64()
		}
	}
	stop.Store(true)
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if want := min(next.Load(), n); f.Count() != want {
		t.Fatalf("Count = %d, want %d", f.Count(), want)
	}

	// Identical consecutive copies are checked once, against the earliest
	// (strictest) started count.
	distinct := 0
	for k, s := range snaps {
		if k > 0 && bytes.Equal(s.data, snaps[k-1].data) {
			continue
		}
		distinct++
		cp := filepath.Join(dir, "copy")
		if err := os.WriteFile(cp, s.data, 0o644); err != nil {
			t.Fatal(err)
		}
		g, err := checkpoint.Open(cp, "fp", checkpoint.Options{})
		if err != nil {
			t.Fatalf("copy %d does not open: %v\n%s", k, err, s.data)
		}
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		for _, r := range readDisk(t, cp).Ranges {
			for i := r[0]; i < r[1]; i++ {
				if i >= n || int64(pos[i]) >= s.started {
					t.Fatalf("copy %d holds %d, which was not marked yet", k, i)
				}
			}
		}
	}
	if distinct < 3 {
		t.Errorf("only %d distinct states among %d copies: the test saw too little", distinct, len(snaps))
	}
	t.Logf("%d copies checked, %d distinct states", len(snaps), distinct)
}

// The kill test re-runs this test binary as a child that marks items until
// the parent kills it with SIGKILL; crashEnv carries the checkpoint path.
const crashEnv = "CHECKPOINT_CRASH_CHILD"

// Items with index%failEvery == failRem are never marked: they stand for
// items that failed, and must stay gaps across every crash and resume.
const (
	crashItems = 100000
	failEvery  = 97
	failRem    = 5
)

// TestKillHelper is the child side of TestKill; it does nothing otherwise.
func TestKillHelper(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("only runs as the child of TestKill")
	}
	f, err := checkpoint.Open(path, "fp", checkpoint.Options{Interval: time.Millisecond})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	if f.RunKey() == "" {
		if err := f.SetRunKey("rk"); err != nil {
			fmt.Println("set run key:", err)
			os.Exit(2)
		}
	}
	out := bufio.NewWriter(os.Stdout)
	marked := 0
	for _, i := range jittered(crashItems, 64) {
		if i%failEvery == failRem || f.Done(i) {
			continue
		}
		if err := f.Mark(i); err != nil {
			fmt.Println("mark:", err)
			os.Exit(2)
		}
		if marked++; marked%1000 == 0 {
			fmt.Fprintln(out, marked)
			_ = out.Flush()
		}
	}
	if err := f.Close(); err != nil {
		fmt.Println("close:", err)
		os.Exit(2)
	}
	fmt.Fprintln(out, "done")
	_ = out.Flush()
	os.Exit(0)
}

// TestKill kills a marking child process with SIGKILL several times, resuming
// each time, then lets it finish. After each kill the checkpoint must open
// (never torn), keep its run key, never shrink and never hold a failed item.
func TestKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip("no executable:", err)
	}
	path := filepath.Join(t.TempDir(), "c")
	rng := rand.New(rand.NewPCG(5, 6))
	var prev int64
	const kills = 5
	for round := 0; round <= kills; round++ {
		cmd := exec.Command(exe, "-test.run=^TestKillHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		killAfter := 1 + rng.IntN(12)
		last, seen := "", 0
		for lines.Scan() {
			last = lines.Text()
			if _, err := strconv.Atoi(last); err != nil {
				break // "done" or an error message
			}
			if seen++; round < kills && seen == killAfter {
				_ = cmd.Process.Kill()
				break
			}
		}
		_ = cmd.Wait()
		if round == kills && last != "done" {
			t.Fatalf("final run did not finish: last output %q", last)
		}

		f, err := checkpoint.Open(path, "fp", checkpoint.Options{})
		if err != nil {
			t.Fatalf("round %d: checkpoint does not open after the kill: %v", round, err)
		}
		count := f.Count()
		if f.RunKey() != "rk" {
			t.Errorf("round %d: RunKey = %q, want rk", round, f.RunKey())
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if count < prev {
			t.Fatalf("round %d: Count went back from %d to %d", round, prev, count)
		}
		for _, r := range readDisk(t, path).Ranges {
			if r[1] > crashItems {
				t.Fatalf("round %d: range %v beyond the %d items", round, r, crashItems)
			}
			for i := r[0]; i < r[1]; i++ {
				if i%failEvery == failRem {
					t.Fatalf("round %d: failed item %d is marked", round, i)
				}
			}
		}
		t.Logf("round %d: killed after %d progress lines, %d marked on disk", round, seen, count)
		prev = count
	}
	wantFailed := int64((crashItems - failRem + failEvery - 1) / failEvery)
	if want := crashItems - wantFailed; prev != want {
		t.Errorf("final Count = %d, want %d (all but the %d failed items)", prev, want, wantFailed)
	}
}
