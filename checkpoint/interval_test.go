package checkpoint_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segloop/segloop/checkpoint"
)

// TestInterval checks, on synctest's fake clock, that a mark after a quiet
// spell is written at once, that marks within Interval of the last write
// wait until it is Interval old (one write for all of them), that an idle
// File does not write, and that Close stops the writer goroutine (the
// bubble would fail on a leak).
func TestInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "c")
		f, err := checkpoint.Open(path, "fp", checkpoint.Options{Interval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		expect := func(when string, want [][2]int64) {
			t.Helper()
			synctest.Wait()
			if got := readDisk(t, path).Ranges; !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: ranges on disk = %v, want %v", when, got, want)
			}
		}
		mark(t, f, 0)
		expect("right after the first Mark", [][2]int64{{0, 1}})

		mark(t, f, 1)
		time.Sleep(500 * time.Millisecond)
		mark(t, f, 2)
		expect("half an Interval after the last write", [][2]int64{{0, 1}})
		time.Sleep(499 * time.Millisecond)
		expect("1ms before the last write is Interval old", [][2]int64{{0, 1}})
		time.Sleep(time.Millisecond)
		expect("Interval after the last write", [][2]int64{{0, 3}})

		written, _ := os.ReadFile(path)
		time.Sleep(time.Minute)
		expect("idle", [][2]int64{{0, 3}})
		if got, _ := os.ReadFile(path); string(got) != string(written) {
			t.Errorf("an idle File wrote:\n%s\nthen\n%s", written, got)
		}

		mark(t, f, 3)
		mark(t, f, 3) // a duplicate changes nothing
		expect("after a long idle, at once", [][2]int64{{0, 4}})

		mark(t, f, 7)
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		expect("Close writes at once", [][2]int64{{0, 4}, {7, 8}})
	})
}

// TestIntervalRetry checks that a failed background write is reported by
// Mark and retried an Interval later.
func TestIntervalRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "c")
		var fl failing
		f, err := checkpoint.Open(path, "fp", checkpoint.WithFault(checkpoint.Options{Interval: time.Second}, fl.fault))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fl.set(true)
		mark(t, f, 0)
		time.Sleep(time.Second)
		synctest.Wait()
		if err := f.Mark(1); err == nil {
			t.Fatal("Mark after a failed background write returned nil")
		}
		fl.set(false)
		time.Sleep(time.Second)
		synctest.Wait()
		if got := readDisk(t, path).Ranges; !reflect.DeepEqual(got, [][2]int64{{0, 2}}) {
			t.Fatalf("ranges after the retry = %v, want [[0 2]]", got)
		}
		if err := f.Mark(2); err != nil {
			t.Fatalf("Mark after a successful retry: %v", err)
		}
	})
}
