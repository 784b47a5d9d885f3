package checkpoint_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/segloop/segloop/checkpoint"
)

// readDisk reads the checkpoint at path as another process would (Read).
func readDisk(t *testing.T, path string) *checkpoint.State {
	t.Helper()
	st, err := checkpoint.Read(path)
	if err != nil {
		data, _ := os.ReadFile(path)
		t.Fatalf("%s: %v\n%s", path, err, data)
	}
	return st
}

func open(t *testing.T, path, fp string) *checkpoint.File {
	t.Helper()
	f, err := checkpoint.Open(path, fp, checkpoint.Options{Interval: time.Hour})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func mark(t *testing.T, f *checkpoint.File, idx ...int64) {
	t.Helper()
	for _, i := range idx {
		if err := f.Mark(i); err != nil {
			t.Fatalf("Mark(%d): %v", i, err)
		}
	}
}

func TestOpenCreatesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.ckpt")
	f := open(t, path, "fp1")
	if f.RunKey() != "" || f.Count() != 0 || f.Watermark() != 0 || f.Done(0) {
		t.Fatalf("new checkpoint not empty: runKey %q count %d", f.RunKey(), f.Count())
	}
	got := readDisk(t, path)
	if got.Fingerprint != "fp1" || got.RunKey != "" || len(got.Ranges) != 0 || got.Updated.IsZero() {
		t.Errorf("file = %+v, want an empty record for fp1", got)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "segloop-checkpoint 2 {") || strings.Count(string(data), "\n") != 1 {
		t.Errorf("file = %q, want one format 2 snapshot line", data)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("created with mode %v, want 0600", st.Mode().Perm())
	}
	if f.Path() != path {
		t.Errorf("Path = %q, want %q", f.Path(), path)
	}
}

func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.ckpt")
	f := open(t, path, "fp")
	if err := f.SetRunKey("key-1"); err != nil {
		t.Fatal(err)
	}
	mark(t, f, 0, 1, 2, 5, 6, 9)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := [][2]int64{{0, 3}, {5, 7}, {9, 10}}
	if got := readDisk(t, path).Ranges; !reflect.DeepEqual(got, want) {
		t.Fatalf("ranges on disk = %v, want %v", got, want)
	}

	g := open(t, path, "fp")
	if g.RunKey() != "key-1" {
		t.Errorf("RunKey = %q, want key-1", g.RunKey())
	}
	if g.Count() != 6 || g.Watermark() != 3 {
		t.Errorf("Count, Watermark = %d, %d, want 6, 3", g.Count(), g.Watermark())
	}
	for i := int64(0); i < 12; i++ {
		want := i < 3 || i == 5 || i == 6 || i == 9
		if g.Done(i) != want {
			t.Errorf("Done(%d) = %v, want %v", i, g.Done(i), want)
		}
	}
	// The resumed run fills the gaps; the record collapses to one range.
	mark(t, g, 3, 4, 7, 8)
	if err := g.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := readDisk(t, path).Ranges; !reflect.DeepEqual(got, [][2]int64{{0, 10}}) {
		t.Errorf("ranges after filling gaps = %v, want [[0 10]]", got)
	}
}

func TestRunKey(t *testing.T) {
	tests := []struct {
		name    string
		stored  string // set before the call under test; "" for none
		set     string
		wantErr error
		want    string
	}{
		{"set on a new checkpoint", "", "k1", nil, "k1"},
		{"same key again", "k1", "k1", nil, "k1"},
		{"different key refused", "k1", "k2", checkpoint.ErrRunKeyConflict, "k1"},
		{"empty key refused", "", "", checkpoint.ErrInvalid, ""},
		{"empty key does not clear", "k1", "", checkpoint.ErrInvalid, "k1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c")
			f := open(t, path, "fp")
			if tt.stored != "" {
				if err := f.SetRunKey(tt.stored); err != nil {
					t.Fatal(err)
				}
			}
			err := f.SetRunKey(tt.set)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("SetRunKey(%q) = %v, want %v", tt.set, err, tt.wantErr)
			}
			if f.RunKey() != tt.want {
				t.Errorf("RunKey = %q, want %q", f.RunKey(), tt.want)
			}
			// The key is durable as soon as SetRunKey returns: no Flush, no Close.
			if got := readDisk(t, path).RunKey; got != tt.want {
				t.Errorf("runKey on disk = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("conflict error names both keys", func(t *testing.T) {
		f := open(t, filepath.Join(t.TempDir(), "c"), "fp")
		_ = f.SetRunKey("old")
		var rk *checkpoint.RunKeyError
		if err := f.SetRunKey("new"); !errors.As(err, &rk) || rk.Stored != "old" || rk.Want != "new" {
			t.Fatalf("err = %v, want a *RunKeyError old -> new", err)
		}
	})
}

func TestOpenInvalid(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		fp   string
		opts checkpoint.Options
		want error
	}{
		{"empty path", "", "fp", checkpoint.Options{}, checkpoint.ErrInvalid},
		{"empty fingerprint", filepath.Join(dir, "a"), "", checkpoint.Options{}, checkpoint.ErrInvalid},
		{"negative interval", filepath.Join(dir, "b"), "fp", checkpoint.Options{Interval: -1}, checkpoint.ErrInvalid},
		{"missing directory", filepath.Join(dir, "no", "such", "c"), "fp", checkpoint.Options{}, os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := checkpoint.Open(tt.path, tt.fp, tt.opts)
			if !errors.Is(err, tt.want) {
				if f != nil {
					_ = f.Close()
				}
				t.Fatalf("Open = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMarkInvalidIndex(t *testing.T) {
	f := open(t, filepath.Join(t.TempDir(), "c"), "fp")
	for _, i := range []int64{-1, -1 << 62, 1<<63 - 1} {
		if err := f.Mark(i); !errors.Is(err, checkpoint.ErrInvalid) {
			t.Errorf("Mark(%d) = %v, want ErrInvalid", i, err)
		}
	}
	if f.Count() != 0 {
		t.Errorf("Count = %d after invalid marks", f.Count())
	}
}

func TestClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c")
	f, err := checkpoint.Open(path, "fp", checkpoint.Options{Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	mark(t, f, 0, 1)
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := readDisk(t, path).Ranges; !reflect.DeepEqual(got, [][2]int64{{0, 2}}) {
		t.Errorf("ranges after Close = %v, want [[0 2]]", got)
	}
	for name, err := range map[string]error{
		"Mark":      f.Mark(2),
		"Flush":     f.Flush(),
		"SetRunKey": f.SetRunKey("k"),
	} {
		if !errors.Is(err, checkpoint.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if !f.Done(1) || f.Count() != 2 {
		t.Errorf("Done/Count after Close: %v, %d", f.Done(1), f.Count())
	}
	if data, _ := os.ReadFile(path); strings.Count(string(data), "\n") != 1 {
		t.Errorf("Close left the journal uncompacted:\n%s", data)
	}
}

// failing is a fault injector that fails every I/O operation while on is set.
type failing struct {
	mu sync.Mutex
	on bool
	n  int // operations failed
}

func (fl *failing) set(on bool) {
	fl.mu.Lock()
	fl.on = on
	fl.mu.Unlock()
}

func (fl *failing) fault(op string) error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if !fl.on {
		return nil
	}
	fl.n++
	return errors.New("injected " + op + " failure")
}

// TestWriteError makes every write fail, and checks that Mark reports it,
// that nothing on disk is lost, and that the marks reach the disk once
// writes work again. It runs in a synctest bubble so that the background
// writer (which writes the first mark at once, then waits the hour-long
// Interval) has finished before each look at the disk: outside one, a
// writer caught between its write and the cut-back after a failed fsync
// shows a record that is about to be removed.
func TestWriteError(t *testing.T) {
	for _, op := range []string{"write", "sync"} {
		t.Run(op, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "c")
				var fl failing
				f, err := checkpoint.Open(path, "fp", checkpoint.WithFault(checkpoint.Options{Interval: time.Hour}, func(o string) error {
					if o != op {
						return nil
					}
					return fl.fault(o)
				}))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				mark(t, f, 0)
				synctest.Wait()
				if err := f.Flush(); err != nil {
					t.Fatal(err)
				}
				fl.set(true)
				mark(t, f, 1)
				if err := f.Flush(); err == nil {
					t.Fatal("Flush succeeded with writes failing")
				}
				if err := f.Mark(2); err == nil {
					t.Fatal("Mark after a failed write returned nil, want the write error")
				}
				synctest.Wait()
				if got := readDisk(t, path).Ranges; !reflect.DeepEqual(got, [][2]int64{{0, 1}}) {
					t.Errorf("ranges on disk = %v after failed writes, want the earlier state [[0 1]]", got)
				}
				fl.set(false)
				if err := f.Flush(); err != nil {
					t.Fatalf("Flush after writes work again: %v", err)
				}
				if err := f.Mark(3); err != nil {
					t.Fatalf("Mark after a successful write: %v", err)
				}
				if err := f.Flush(); err != nil {
					t.Fatal(err)
				}
				if got := readDisk(t, path).Ranges; !reflect.DeepEqual(got, [][2]int64{{0, 4}}) {
					t.Errorf("ranges = %v, want [[0 4]]", got)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func TestOpenUnwritable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c")
	fail := func(string) error { return errors.New("read-only") }
	if f, err := checkpoint.Open(path, "fp", checkpoint.WithFault(checkpoint.Options{}, fail)); err == nil {
		_ = f.Close()
		t.Fatal("Open succeeded although the checkpoint cannot be written")
	}
	if f, err := checkpoint.Open(t.TempDir(), "fp", checkpoint.Options{}); err == nil {
		_ = f.Close()
		t.Fatal("Open succeeded on a directory")
	}
}

// TestNotRegular refuses a checkpoint that is not a regular file, without
// waiting on it (a FIFO) or writing to it.
func TestNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, os.DevNull} {
		if f, err := checkpoint.Open(path, "fp", checkpoint.Options{}); !errors.Is(err, checkpoint.ErrInvalid) {
			if f != nil {
				f.Close()
			}
			t.Errorf("Open(%s) = %v, want ErrInvalid", path, err)
		}
	}
}

// TestConcurrent marks overlapping index sets from several goroutines while
// others read and flush; run it with -race.
func TestConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c")
	f, err := checkpoint.Open(path, "fp", checkpoint.Options{Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const workers, n = 4, 5000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			// Each worker marks every index with i%workers != w: every index
			// is marked by three workers, each in its own order.
			for _, i := range jittered(n, 16+w) {
				if int(i)%workers == w {
					continue
				}
				if err := f.Mark(i); err != nil {
					t.Errorf("Mark(%d): %v", i, err)
					return
				}
				_ = f.Done(i - 1)
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if err := f.Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			_, _ = f.Count(), f.Watermark()
		}
	})
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if f.Count() != n || f.Watermark() != n {
		t.Errorf("Count, Watermark = %d, %d, want %d, %d", f.Count(), f.Watermark(), n, n)
	}
	if got := readDisk(t, path).Ranges; !reflect.DeepEqual(got, [][2]int64{{0, n}}) {
		t.Errorf("ranges = %v, want [[0 %d]]", got, n)
	}
}
