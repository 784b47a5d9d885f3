//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package checkpoint_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/segloop/segloop/checkpoint"
)

// TestLocked checks that a checkpoint cannot be open twice at once, and is
// free again after Close. (TestKill shows that SIGKILL frees it too.)
func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c")
	f := open(t, path, "fp")
	g, err := checkpoint.Open(path, "fp", checkpoint.Options{})
	if !errors.Is(err, checkpoint.ErrLocked) {
		if g != nil {
			_ = g.Close()
		}
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	for _, want := range []string{path, "in use", "--checkpoint"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not contain %q", err, want)
		}
	}
	// A refused Open (mismatch) must not keep the lock either.
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := checkpoint.Open(path, "other", checkpoint.Options{}); !errors.Is(err, checkpoint.ErrMismatch) {
		t.Fatalf("Open with another fingerprint = %v, want ErrMismatch", err)
	}
	h := open(t, path, "fp")
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLockedByEveryName: the lock belongs to the file, so a second Open by
// another name (a hard link, a symlink, a symlinked directory) is refused
// too, and a refused Open leaves the file as it was.
func TestLockedByEveryName(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.ckpt")
	f := open(t, path, "fp")
	mark(t, f, 0, 1, 2)
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	hard, sym, dirlink := filepath.Join(other, "hard"), filepath.Join(other, "sym"), filepath.Join(other, "dir")
	for _, err := range []error{os.Link(path, hard), os.Symlink(path, sym), os.Symlink(dir, dirlink)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	before, _ := os.ReadFile(path)
	for _, name := range []string{hard, sym, filepath.Join(dirlink, "run.ckpt")} {
		g, err := checkpoint.Open(name, "fp", checkpoint.Options{})
		if !errors.Is(err, checkpoint.ErrLocked) {
			if g != nil {
				g.Close()
			}
			t.Errorf("Open(%s) while %s is open = %v, want ErrLocked", name, path, err)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("a refused Open changed the file")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g := open(t, hard, "fp") // free again: and the hard link is still the same file
	if g.Count() != 3 {
		t.Errorf("through the hard link: Count %d, want 3", g.Count())
	}
}

// TestSymlinkWrittenThrough: a symlinked checkpoint is written through to
// its target; the link stays a link.
func TestSymlinkWrittenThrough(t *testing.T) {
	target := filepath.Join(t.TempDir(), "target.ckpt")
	link := filepath.Join(t.TempDir(), "link.ckpt")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		f := open(t, link, "fp")
		if err := f.SetRunKey("rk"); err != nil {
			t.Fatal(err)
		}
		mark(t, f, int64(round))
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		st, err := os.Lstat(link)
		if err != nil || st.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("round %d: the link is now %v (%v)", round, st.Mode().Type(), err)
		}
		if got := readDisk(t, target); !reflect.DeepEqual(got.Ranges, [][2]int64{{0, int64(round) + 1}}) || got.RunKey != "rk" {
			t.Fatalf("round %d: the target holds %+v", round, got)
		}
	}
}
