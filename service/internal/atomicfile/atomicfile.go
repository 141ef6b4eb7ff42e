// Package atomicfile replaces a state file so that a crash at any moment
// leaves either the old contents or the new ones, never a mix, an empty
// file or a stray temporary. It is snapd's osutil.AtomicWriteFile, reduced
// to what secmon's state files need:
//
//  1. a temporary file with a unique name (O_EXCL) in the same directory,
//     so the rename cannot cross file systems and two writers never share
//     one;
//  2. write, set the mode, fsync: the data is on disk before its name is;
//  3. rename over the target;
//  4. fsync the directory: the rename itself is on disk.
//
// On any failure the temporary file is removed and the target is untouched.
// A symbolic link at the target is replaced, not followed.
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile replaces path with data, with mode perm (exactly: the umask
// does not apply). The directory must exist. An error after the rename
// (the directory's fsync) means the new contents are in place but may not
// survive a crash.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := fill(f, data, perm); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("cannot make %s durable: %w", path, err)
	}
	return nil
}

// fill writes and syncs f, and closes it in every case.
func fill(f *os.File, data []byte, perm fs.FileMode) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
