package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// tempSuffix names the scratch file a flush writes before renaming it over
// the checkpoint. The name is fixed, so a crash leaves at most one stale
// scratch file, which the next flush truncates and reuses.
const tempSuffix = ".tmp"

// lockSuffix names the lock file beside the checkpoint (see lock).
const lockSuffix = ".lock"

// writeAtomic replaces the file at path with data so that, at any moment and
// across a crash or power loss, path holds either its old content or the new
// one, never a mix: it writes path+".tmp" in the same directory, fsyncs it,
// renames it over path and fsyncs the directory so the rename itself is
// durable. The caller serialises calls for the same path.
func writeAtomic(path string, data []byte) (err error) {
	tmp := path + tempSuffix
	fh, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	defer func() {
		if err != nil {
			_ = fh.Close()
			_ = os.Remove(tmp)
			err = fmt.Errorf("write checkpoint %s: %w", path, err)
		}
	}()
	if _, err = fh.Write(data); err != nil {
		return err
	}
	if err = fh.Sync(); err != nil {
		return err
	}
	if err = fh.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir fsyncs the directory dir so that a rename into it survives a
// crash. Windows cannot fsync a directory (and makes renames durable by
// itself), so it is a no-op there.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}
