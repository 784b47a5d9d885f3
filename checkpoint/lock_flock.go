//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lock takes an exclusive advisory lock (flock) on the lock file beside the
// checkpoint at path, creating it, without waiting. The kernel drops the
// lock when the returned file is closed or the process dies, SIGKILL
// included, so a killed run never leaves a stale lock behind. The lock file
// itself is left in place: removing it would race with the next locker.
func lock(path string) (*os.File, error) {
	fh, err := os.OpenFile(path+lockSuffix, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock checkpoint: %w", err)
	}
	for {
		err = syscall.Flock(int(fh.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	switch {
	case err == nil:
		return fh, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		_ = fh.Close()
		return nil, fmt.Errorf("%w: checkpoint %s is in use by another run (lock %s%s); "+
			"wait for it to finish or use another --checkpoint", ErrLocked, path, path, lockSuffix)
	default:
		_ = fh.Close()
		return nil, fmt.Errorf("lock checkpoint %s: %w", path, err)
	}
}
