//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lock takes an exclusive advisory lock (flock) on the open checkpoint file
// itself, without waiting. The lock belongs to the file, not to a name: a
// second run that reaches it through a hard link, a symlink or another path
// is refused too. The kernel drops it when fh is closed or the process
// dies, SIGKILL included, so a killed run never leaves a stale lock.
func lock(fh *os.File, path string) error {
	var err error
	for {
		err = syscall.Flock(int(fh.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		return fmt.Errorf("%w: checkpoint %s is in use by another run (by this name or another); "+
			"wait for it to finish or use another --checkpoint", ErrLocked, path)
	default:
		return fmt.Errorf("lock checkpoint %s: %w", path, err)
	}
}
