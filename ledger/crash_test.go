package ledger_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/segloop/segloop/ledger"
)

// crashChildEnv makes the test binary a child that commits batches to the
// ledger it names until it is killed (see TestFileCrash); crashRoundEnv
// names the round, whose batches have users of their own.
const (
	crashChildEnv = "SEGLOOP_LEDGER_CRASH_CHILD"
	crashRoundEnv = "SEGLOOP_LEDGER_CRASH_ROUND"
)

const crashBatch = 200

func crashBatchEntries(round, b int) []ledger.Entry {
	return entries("r"+strconv.Itoa(round)+"b"+strconv.Itoa(b)+"-", crashBatch, 1)
}

// crashChild commits batch after batch, printing each one's number once
// Commit has returned.
func crashChild(path string) {
	round, _ := strconv.Atoi(os.Getenv(crashRoundEnv))
	l, err := ledger.Open(context.Background(), path, dest)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for b := 0; b < 100000; b++ {
		if err := l.Commit(context.Background(), crashBatchEntries(round, b)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("%d\n", b)
	}
	os.Exit(0)
}

// TestFileCrash kills a process with SIGKILL while it commits, then checks
// that every commit it reported survives, that each batch is there whole or
// not at all, and that the file is sound and usable.
func TestFileCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	for round := range 3 { // crash the same ledger several times
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashRoundEnv+"="+strconv.Itoa(round))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		reported := -1
		for reported < 5+5*round && lines.Scan() {
			reported, _ = strconv.Atoi(lines.Text())
		}
		// The child is inside its next Commit, or about to be.
		_ = cmd.Process.Signal(syscall.SIGKILL)
		for lines.Scan() { // commits that returned before the kill
			reported, _ = strconv.Atoi(lines.Text())
		}
		_ = cmd.Wait()
		if reported < 0 {
			t.Fatal("the child committed nothing")
		}

		checkIntegrity(t, path)
		l := open(t, path)
		present := -1
		for b := 0; ; b++ {
			n := count(unchanged(t, l, crashBatchEntries(round, b)))
			if n != 0 && n != crashBatch {
				t.Fatalf("round %d: batch %d is partly there: %d of %d", round, b, n, crashBatch)
			}
			if n == 0 {
				break
			}
			present = b
		}
		if present < reported {
			t.Fatalf("round %d: batches up to %d were reported committed, only up to %d are there", round, reported, present)
		}
		if present > reported+1 {
			t.Fatalf("round %d: batches up to %d are there, the child was inside %d", round, present, reported+1)
		}
		t.Logf("round %d: killed after %d reported commits, %d present", round, reported+1, present+1)
		for r := range round { // earlier rounds' batches are still whole
			if n := count(unchanged(t, l, crashBatchEntries(r, 0))); n != crashBatch {
				t.Fatalf("round %d: batch 0 of round %d: %d of %d there", round, r, n, crashBatch)
			}
		}
		l.Close()
	}
}

// checkIntegrity runs SQLite's integrity check on the file.
func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q, %v", res, err)
	}
}
