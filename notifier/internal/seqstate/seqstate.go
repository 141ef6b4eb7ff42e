// Package seqstate keeps the seq of the last event secmon-notifier handed
// on, in $XDG_STATE_HOME/secmon/notifier-last-seq, so that a restart of the
// notifier, a logout or a reboot resumes after it and shows what came
// meanwhile, instead of starting from the daemon's newest event.
//
// The file is written atomically (a temporary file in the same directory,
// fsync, rename, fsync of the directory): after a crash it holds the old
// number or the new one, never a torn one. The notifier saves at most once
// a second, so a crash replays up to a second of events again rather than
// losing any.
package seqstate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FileName is the state file's name under $XDG_STATE_HOME/secmon.
const FileName = "notifier-last-seq"

// DefaultPath is $XDG_STATE_HOME/secmon/notifier-last-seq, or
// ~/.local/state/secmon/notifier-last-seq; "" when neither can be known.
func DefaultPath() string {
	dir := os.Getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			return ""
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "secmon", FileName)
}

// Load reads the seq saved at path. A missing file is not an error: ok is
// false (the notifier never ran here). A file that is not a number is an
// error that names it.
func Load(path string) (seq uint64, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("cannot read the last seq handed on: %w", err)
	}
	seq, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s:1: not a seq number: %q", path, strings.TrimSpace(string(b)))
	}
	return seq, true, nil
}

// Save writes seq to path atomically, creating the directory (0700).
func Save(path string, seq uint64) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot save the last seq handed on: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("cannot save the last seq handed on: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("cannot save the last seq handed on to %s: %w", path, err)
		}
	}()
	if _, err = f.WriteString(strconv.FormatUint(seq, 10) + "\n"); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
