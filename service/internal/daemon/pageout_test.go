package daemon

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestReadOnlyFileMapping(t *testing.T) {
	for _, tc := range []struct {
		line   string
		lo, hi uintptr
		ok     bool
	}{
		{"00400000-00c5e000 r-xp 00000000 fe:00 1234  /usr/bin/secmon-daemon\n", 0x400000, 0xc5e000, true},
		{"7f1c2a000000-7f1c2a1b4000 r--p 00000000 fe:00 99 /usr/lib/x86_64-linux-gnu/libudev.so.1.7.5\n", 0x7f1c2a000000, 0x7f1c2a1b4000, true},
		{"01200000-01300000 rw-p 00e00000 fe:00 1234  /usr/bin/secmon-daemon\n", 0, 0, false}, // data: written, private
		{"c000000000-c000400000 rw-p 00000000 00:00 0 \n", 0, 0, false},                       // heap
		{"7ffd1000-7ffd3000 r-xp 00000000 00:00 0                          [vdso]\n", 0, 0, false},
		{"7f00-7f10 r--s 00000000 00:0e 42 anon_inode:bpf-map\n", 0, 0, false},
		{"7f10-7f00 r--p 00000000 fe:00 1 /lib/x\n", 0, 0, false}, // upside down
		{"zz-7f00 r--p 00000000 fe:00 1 /lib/x\n", 0, 0, false},
		{"garbage\n", 0, 0, false},
		{"", 0, 0, false},
	} {
		lo, hi, ok := readOnlyFileMapping([]byte(tc.line))
		if lo != tc.lo || hi != tc.hi || ok != tc.ok {
			t.Errorf("%q: %#x-%#x %v, want %#x-%#x %v", tc.line, lo, hi, ok, tc.lo, tc.hi, tc.ok)
		}
	}
}

// The test binary's code pages, which it alone maps, leave its RSS.
func TestPageOutCodeShrinksRSS(t *testing.T) {
	// A just-built binary's pages are dirty in the page cache, and reclaim
	// does not write them back: make them clean first, as an installed
	// binary's are.
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(exe.Fd()), &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type == unix.TMPFS_MAGIC {
		// Its pages are shared memory (RssShmem), which only swap can take.
		t.Skip("the test binary is on a tmpfs (GOTMPDIR or /tmp): its pages cannot be paged out without swap")
	}
	if err := exe.Sync(); err != nil {
		t.Fatal(err)
	}
	exe.Close()
	before := rssFile(t)
	n, err := pageOutCode()
	if err != nil {
		t.Skip(err) // a kernel before 5.4
	}
	after := rssFile(t)
	t.Logf("advised %d kB; RssFile %d kB → %d kB", n>>10, before, after)
	if n == 0 || after >= before-1024 {
		t.Fatalf("RssFile %d kB → %d kB after advising %d kB, want at least 1 MB less", before, after, n>>10)
	}
}

func rssFile(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, err := strconv.Atoi(strings.Fields(v)[0])
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}
