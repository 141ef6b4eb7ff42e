package atomicfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/atomicfile"
)

// leftovers lists what is in dir besides the names given.
func leftovers(t *testing.T, dir string, want ...string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	for _, e := range ents {
		found := false
		for _, w := range want {
			found = found || e.Name() == w
		}
		if !found {
			extra = append(extra, e.Name())
		}
	}
	return extra
}

func TestWriteFile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		old   []byte // nil: no file before
		data  []byte
		perm  os.FileMode
		umask int
	}{
		{"new file", nil, []byte("65536\n"), 0o640, 0o022},
		{"replaces", []byte("a longer old content\n"), []byte("new\n"), 0o600, 0o022},
		{"empty", []byte("old\n"), nil, 0o600, 0o022},
		{"mode despite the umask", nil, []byte("x"), 0o644, 0o077},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "state")
			if tc.old != nil {
				if err := os.WriteFile(p, tc.old, 0o666); err != nil {
					t.Fatal(err)
				}
			}
			old := syscall.Umask(tc.umask)
			err := atomicfile.WriteFile(p, tc.data, tc.perm)
			syscall.Umask(old)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Errorf("contents %q, %v; want %q", got, err, tc.data)
			}
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != tc.perm {
				t.Errorf("mode %v, %v; want %v", fi.Mode().Perm(), err, tc.perm)
			}
			if extra := leftovers(t, dir, "state"); len(extra) > 0 {
				t.Errorf("left behind: %q", extra)
			}
		})
	}
}

// A symbolic link at the target is replaced, never written through: a
// state directory writable by someone else cannot aim the daemon's write
// at another file.
func TestWriteFileReplacesALink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep\n"), 0o600)
	p := filepath.Join(dir, "state")
	if err := os.Symlink(victim, p); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFile(p, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep\n" {
		t.Errorf("the link's target was written: %q", b)
	}
	if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s is %v, %v; want a regular file", p, fi.Mode(), err)
	}
}

// A rename that fails (the target is a directory) leaves the target as it
// was and no temporary file.
func TestWriteFileFailedRename(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state")
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(p, "inside"), []byte("x"), 0o600)
	err := atomicfile.WriteFile(p, []byte("new\n"), 0o600)
	if err == nil {
		t.Fatal("WriteFile over a non-empty directory succeeded")
	}
	if !errors.Is(err, syscall.EISDIR) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		t.Errorf("error %v, want the rename's", err)
	}
	if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
		t.Errorf("target changed: %v, %v", fi, err)
	}
	if extra := leftovers(t, dir, "state"); len(extra) > 0 {
		t.Errorf("left behind: %q", extra)
	}
}

func TestWriteFileMissingDirectory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gone", "state")
	if err := atomicfile.WriteFile(p, []byte("x"), 0o600); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v, want one wrapping ErrNotExist", err)
	}
}

// A write that fails half-way (the file system is full) leaves the old
// file whole and no temporary file: a real, tiny tmpfs.
func TestIntegrationWriteFileDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700"); err != nil {
		t.Skipf("cannot mount a tmpfs (needs CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	p := filepath.Join(dir, "state")
	old := []byte("the old state\n")
	if err := atomicfile.WriteFile(p, old, 0o600); err != nil {
		t.Fatal(err)
	}
	err := atomicfile.WriteFile(p, bytes.Repeat([]byte("x"), 1<<20), 0o600)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("writing 1 MiB into 64 KiB: %v, want ENOSPC", err)
	}
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, old) {
		t.Errorf("old file now %q, %v; want %q", got, err, old)
	}
	if extra := leftovers(t, dir, "state"); len(extra) > 0 {
		t.Errorf("left behind: %q", extra)
	}
}

// Writers racing on one file never share a temporary file: each write
// succeeds, the file ends up holding one of them whole, nothing is left.
func TestWriteFileConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state")
	const writers, rounds = 8, 50
	contents := map[string]bool{}
	for i := range writers {
		contents[fmt.Sprintf("%d:%s\n", i, bytes.Repeat([]byte{byte('a' + i)}, 4096+i))] = true
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for c := range contents {
		wg.Go(func() {
			for range rounds {
				if err := atomicfile.WriteFile(p, []byte(c), 0o600); err != nil {
					errs <- err
				}
				// A reader never sees a partial file.
				if b, err := os.ReadFile(p); err != nil || !contents[string(b)] {
					errs <- fmt.Errorf("read %d bytes, %v: not one writer's contents", len(b), err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if extra := leftovers(t, dir, "state"); len(extra) > 0 {
		t.Errorf("left behind: %q", extra)
	}
}
