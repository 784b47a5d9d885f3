//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package checkpoint_test

import (
	"errors"
	"path/filepath"
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
