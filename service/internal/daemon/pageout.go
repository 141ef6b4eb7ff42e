package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// pageOutCode asks the kernel to drop the pages of the daemon's read-only
// file mappings (its executable, libudev, libsystemd) that it alone holds:
// start-up ran much code the idle daemon never runs again (the
// configuration's parser, the inventories, the eBPF loader and its BTF
// parse), about 6 MB of RSS, and the kernel would keep those pages
// resident until memory runs short. MADV_RANDOM first: a page the daemon
// needs later comes back alone on its first use (about 1 ms more for the
// first event after start), not with the up-to-1 MB folio the page cache
// would read around it. Pages another process maps too (libc) are left
// alone by the kernel, and so is a file the daemon neither owns nor may
// write (without CAP_FOWNER): it works for root and for a user running
// their own build (user mode as nobody, own copy: RSS 13.3 -> 6.5 MB), not
// for the NixOS module's secmon user, whose executable is root's in the
// store; there the call changes nothing. It returns the bytes advised.
// Without MADV_PAGEOUT (Linux before 5.4) nothing happens and the error
// says so.
func pageOutCode() (int, error) {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("cannot list the daemon's mappings: %w", err)
	}
	advised := 0
	for line := range bytes.Lines(maps) {
		lo, hi, ok := readOnlyFileMapping(line)
		if !ok {
			continue
		}
		unix.Syscall(unix.SYS_MADVISE, lo, hi-lo, unix.MADV_RANDOM) // a hint: its failure changes nothing
		_, _, e := unix.Syscall(unix.SYS_MADVISE, lo, hi-lo, unix.MADV_PAGEOUT)
		if e == unix.EINVAL && advised == 0 {
			return 0, errors.New("cannot page out start-up's code: this kernel has no MADV_PAGEOUT")
		}
		if e == 0 {
			advised += int(hi - lo)
		}
	}
	return advised, nil
}

// readOnlyFileMapping reads one /proc/PID/maps line ("lo-hi perms offset
// dev inode path") and says whether it maps a file without write
// permission, and where.
func readOnlyFileMapping(line []byte) (lo, hi uintptr, ok bool) {
	f := bytes.Fields(line)
	if len(f) < 6 || f[5][0] != '/' || len(f[1]) < 2 || f[1][1] == 'w' {
		return 0, 0, false
	}
	a, b, found := bytes.Cut(f[0], []byte("-"))
	if !found {
		return 0, 0, false
	}
	l, err1 := strconv.ParseUint(string(a), 16, 64)
	h, err2 := strconv.ParseUint(string(b), 16, 64)
	if err1 != nil || err2 != nil || h <= l {
		return 0, 0, false
	}
	return uintptr(l), uintptr(h), true
}
