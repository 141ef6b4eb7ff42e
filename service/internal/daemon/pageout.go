package daemon

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// pageOutCode gives back the pages of the daemon's read-only file mappings
// (its executable, libudev, libsystemd): start-up ran much code the idle
// daemon never runs again (the configuration's parser, the inventories,
// the eBPF loader and its BTF parse), about 6 MB of RSS, and the kernel
// would keep those pages mapped until memory runs short. For each mapping:
//   - MADV_RANDOM: a page the daemon needs later comes back alone on its
//     first use, not with the up-to-1 MB folio readahead would bring.
//   - MADV_PAGEOUT: reclaims the pages no other process maps, from the
//     page cache too. The kernel does it only for a file the process owns
//     or may write (or with CAP_FOWNER): root, or a user running their own
//     build. Linux 5.4 and later.
//   - MADV_DONTNEED on its pages that are the file's (pagemap): unmaps
//     what is left from the daemon — all of it for the NixOS module's
//     user secmon, who runs the store's root-owned executable and for whom
//     MADV_PAGEOUT changes nothing. A page the daemon has written (a
//     library's relocations, made read-only after) is its own copy, which
//     MADV_DONTNEED would throw away: it stays.
//
// Unmapped pages stay in the page cache, where the kernel keeps them in
// large folios, and a fault maps back the whole folio around the page it
// needs; so the executable's pages that no process maps any more are
// dropped from the cache too (POSIX_FADV_DONTNEED, which only needs the
// file open for reading), and come back one at a time as the daemon uses
// them. It returns the bytes given to MADV_DONTNEED: whole ranges, mapped
// or not, so more than RSS drops by.
func pageOutCode() (int, error) {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("cannot list the daemon's mappings: %w", err)
	}
	pagemap, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return 0, fmt.Errorf("cannot read the daemon's page map: %w", err)
	}
	defer pagemap.Close()
	// An executable one may run but not read (mode 0711) is only
	// unmapped: its pages stay in the page cache.
	var st unix.Stat_t
	exe, err := os.Open("/proc/self/exe")
	if err == nil {
		defer exe.Close()
		if unix.Fstat(int(exe.Fd()), &st) != nil {
			st = unix.Stat_t{}
		}
	}
	advised := 0
	for line := range bytes.Lines(maps) {
		m, ok := readOnlyFileMapping(line)
		if !ok {
			continue
		}
		n := m.hi - m.lo
		unix.Syscall(unix.SYS_MADVISE, m.lo, n, unix.MADV_RANDOM)  // a hint: its failure changes nothing
		unix.Syscall(unix.SYS_MADVISE, m.lo, n, unix.MADV_PAGEOUT) // EINVAL before 5.4, nothing when not allowed
		runs, err := filePageRuns(pagemap, m.lo, m.hi)
		if err != nil {
			return advised, fmt.Errorf("cannot read the page map of %#x-%#x: %w", m.lo, m.hi, err)
		}
		for _, r := range runs {
			if _, _, e := unix.Syscall(unix.SYS_MADVISE, r[0], r[1]-r[0], unix.MADV_DONTNEED); e == 0 {
				advised += int(r[1] - r[0])
			}
		}
		if st.Ino != 0 && m.dev == st.Dev && m.ino == st.Ino {
			unix.Fadvise(int(exe.Fd()), int64(m.off), int64(n), unix.FADV_DONTNEED) // a hint too
		}
	}
	return advised, nil
}

// rssKB is the process's resident set in kB (VmRSS), 0 if unknown.
func rssKB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	_, v, _ := bytes.Cut(b, []byte("\nVmRSS:"))
	f := bytes.Fields(v)
	if len(f) == 0 {
		return 0
	}
	kb, _ := strconv.Atoi(string(f[0]))
	return kb
}

// Bits of a /proc/PID/pagemap entry (Documentation/admin-guide/mm/pagemap.rst).
const (
	pagePresent = 1 << 63
	pageSwapped = 1 << 62
	pageFile    = 1 << 61 // a page of a file (or shared memory), not a private copy
)

// filePageRuns returns the address ranges within lo-hi that hold no private
// copy of a page (one the process wrote, in memory or swapped out): those
// MADV_DONTNEED may drop, as the file gives back what they hold.
func filePageRuns(pagemap *os.File, lo, hi uintptr) ([][2]uintptr, error) {
	size := uintptr(os.Getpagesize())
	buf := make([]byte, (hi-lo)/size*8)
	if _, err := pagemap.ReadAt(buf, int64(lo/size*8)); err != nil {
		return nil, err
	}
	var runs [][2]uintptr
	start := lo
	for i := uintptr(0); i < (hi-lo)/size; i++ {
		e := binary.NativeEndian.Uint64(buf[i*8:])
		own := e&pageSwapped != 0 || e&pagePresent != 0 && e&pageFile == 0
		at := lo + i*size
		if own {
			if at > start {
				runs = append(runs, [2]uintptr{start, at})
			}
			start = at + size
		}
	}
	if hi > start {
		runs = append(runs, [2]uintptr{start, hi})
	}
	return runs, nil
}

// fileMapping is one line of /proc/PID/maps that maps a file.
type fileMapping struct {
	lo, hi, off uintptr
	dev, ino    uint64
}

// readOnlyFileMapping reads one /proc/PID/maps line ("lo-hi perms offset
// dev inode path") and says whether it maps a file without write
// permission, and where.
func readOnlyFileMapping(line []byte) (fileMapping, bool) {
	f := bytes.Fields(line)
	if len(f) < 6 || f[5][0] != '/' || len(f[1]) < 2 || f[1][1] == 'w' {
		return fileMapping{}, false
	}
	a, b, found := bytes.Cut(f[0], []byte("-"))
	major, minor, found2 := bytes.Cut(f[3], []byte(":"))
	if !found || !found2 {
		return fileMapping{}, false
	}
	l, err1 := strconv.ParseUint(string(a), 16, 64)
	h, err2 := strconv.ParseUint(string(b), 16, 64)
	off, err3 := strconv.ParseUint(string(f[2]), 16, 64)
	maj, err4 := strconv.ParseUint(string(major), 16, 32)
	mnr, err5 := strconv.ParseUint(string(minor), 16, 32)
	ino, err6 := strconv.ParseUint(string(f[4]), 10, 64)
	for _, err := range []error{err1, err2, err3, err4, err5, err6} {
		if err != nil {
			return fileMapping{}, false
		}
	}
	if h <= l {
		return fileMapping{}, false
	}
	return fileMapping{lo: uintptr(l), hi: uintptr(h), off: uintptr(off), dev: unix.Mkdev(uint32(maj), uint32(mnr)), ino: ino}, true
}
