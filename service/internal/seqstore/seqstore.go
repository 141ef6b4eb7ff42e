// Package seqstore keeps the promise that event sequence numbers resume above
// the last one after a restart: the hub reserves numbers in blocks, and each
// reservation's ceiling is written here durably (atomicfile: a crash leaves the old ceiling or the new one) before
// any number above the previous ceiling is used.
package seqstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pantheros/secmon/service/internal/atomicfile"
)

// FileName is the file kept in the state directory.
const FileName = "seq"

// File is the reservation file.
type File struct{ path string }

// Open creates dir if needed and returns the store and the last reserved
// ceiling (0 when there is none yet). A file that cannot be read is an error
// naming the file; the caller decides how to go on.
func Open(dir string) (*File, uint64, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, 0, fmt.Errorf("cannot create state directory: %w", err)
	}
	f := &File{path: filepath.Join(dir, FileName)}
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return f, 0, nil
	}
	if err != nil {
		return f, 0, fmt.Errorf("cannot read sequence reservation: %w", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return f, 0, fmt.Errorf("%s:1: not a sequence number: %q", f.path, strings.TrimSpace(string(b)))
	}
	if n > MaxSeq {
		return f, 0, fmt.Errorf("%s:1: sequence number %d is above %d: numbering from it would wrap to 0, the number of drop notices", f.path, n, uint64(MaxSeq))
	}
	return f, n, nil
}

// MaxSeq bounds a stored ceiling: far above any number a daemon reaches
// (a million events a second for 140,000 years), far below where adding a
// reservation block would wrap.
const MaxSeq = 1 << 62

// Reserve records ceiling.
func (f *File) Reserve(ceiling uint64) error {
	if err := atomicfile.WriteFile(f.path, []byte(strconv.FormatUint(ceiling, 10)+"\n"), 0o640); err != nil {
		return fmt.Errorf("cannot write sequence reservation: %w", err)
	}
	return nil
}
