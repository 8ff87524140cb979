// Package atomicfile writes a file whole or not at all: the content goes to
// a temporary file in the same directory, which is synced, given its mode
// and renamed over the destination. A failure removes the temporary file
// and leaves the destination as it was; a crash or power cut leaves either
// the old file or the new one, never a partial one.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write runs write on a new temporary file beside path, then syncs it, sets
// mode and renames it to path. write must not close the file.
func Write(path string, mode os.FileMode, write func(f *os.File) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// WriteBytes is Write with data as the content.
func WriteBytes(path string, data []byte, mode os.FileMode) error {
	return Write(path, mode, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}
