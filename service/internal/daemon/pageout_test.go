package daemon

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestReadOnlyFileMapping(t *testing.T) {
	exe := fileMapping{lo: 0x400000, hi: 0xc5e000, off: 0, dev: unix.Mkdev(0xfe, 0), ino: 1234}
	lib := fileMapping{lo: 0x7f1c2a000000, hi: 0x7f1c2a1b4000, off: 0x26000, dev: unix.Mkdev(0x103, 0x1f), ino: 99}
	for _, tc := range []struct {
		line string
		want fileMapping
		ok   bool
	}{
		{"00400000-00c5e000 r-xp 00000000 fe:00 1234  /usr/bin/secmon-daemon\n", exe, true},
		{"7f1c2a000000-7f1c2a1b4000 r--p 00026000 103:1f 99 /usr/lib/x86_64-linux-gnu/libudev.so.1.7.5\n", lib, true},
		{"01200000-01300000 rw-p 00e00000 fe:00 1234  /usr/bin/secmon-daemon\n", fileMapping{}, false}, // data: written, private
		{"c000000000-c000400000 rw-p 00000000 00:00 0 \n", fileMapping{}, false},                       // heap
		{"7ffd1000-7ffd3000 r-xp 00000000 00:00 0                          [vdso]\n", fileMapping{}, false},
		{"7f00-7f10 r--s 00000000 00:0e 42 anon_inode:bpf-map\n", fileMapping{}, false},
		{"7f10-7f00 r--p 00000000 fe:00 1 /lib/x\n", fileMapping{}, false}, // upside down
		{"zz-7f00 r--p 00000000 fe:00 1 /lib/x\n", fileMapping{}, false},
		{"7f00-7f10 r--p 00000000 fe00 1 /lib/x\n", fileMapping{}, false},   // no device minor
		{"7f00-7f10 r--p 00000000 fe:00 x1 /lib/x\n", fileMapping{}, false}, // inode
		{"garbage\n", fileMapping{}, false},
		{"", fileMapping{}, false},
	} {
		got, ok := readOnlyFileMapping([]byte(tc.line))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: %+v %v, want %+v %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// A read-only private mapping may hold pages the process wrote before it
// made the mapping read-only (a library's relocations): the page-out
// unmaps the file's pages and must keep those, which the file cannot give
// back.
func TestPageOutCodeKeepsWrittenPages(t *testing.T) {
	size := os.Getpagesize()
	path := filepath.Join(t.TempDir(), "relro")
	if err := os.WriteFile(path, bytes.Repeat([]byte("f"), 3*size), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, 3*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	mem[size] = 'w'                 // the middle page becomes the process's own copy
	readSink = mem[0] + mem[2*size] // maps the other two
	if err := unix.Mprotect(mem, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	if !present(t, mem, 0) || !present(t, mem, 2*size) {
		t.Fatal("the file's pages are not mapped before the page-out")
	}
	if _, err := pageOutCode(); err != nil {
		t.Fatal(err)
	}
	if mem[size] != 'w' {
		t.Fatalf("the written page reads %q after the page-out, want 'w': the process's copy was thrown away", mem[size])
	}
	if present(t, mem, 0) || present(t, mem, 2*size) {
		t.Error("the file's own pages are still mapped after the page-out")
	}
}

// readSink keeps a read the compiler would drop.
var readSink byte

// present says whether the page at mem[off] is mapped (/proc/self/pagemap).
func present(t *testing.T, mem []byte, off int) bool {
	t.Helper()
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	var e [8]byte
	addr := uintptr(unsafe.Pointer(&mem[off]))
	if _, err := pm.ReadAt(e[:], int64(addr/uintptr(os.Getpagesize())*8)); err != nil {
		t.Fatal(err)
	}
	return binary.NativeEndian.Uint64(e[:])&pagePresent != 0
}

// The test binary's code pages, which it alone maps, leave its RSS.
func TestPageOutCodeShrinksRSS(t *testing.T) {
	// A just-built binary's pages are dirty in the page cache, and reclaim
	// does not write them back: make them clean first, as an installed
	// binary's are.
	// A binary the test may run but not read (TestPageOutCodeAsServiceUser)
	// was made clean, and checked, by the test that copied it.
	if exe, err := os.Open("/proc/self/exe"); err == nil {
		cleanExecutable(t, exe)
		exe.Close()
	} else if !errors.Is(err, os.ErrPermission) {
		t.Fatal(err)
	}
	before := rssFile(t)
	n, err := pageOutCode()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	t.Logf("advised %d kB; RssFile %d kB → %d kB", n>>10, before, after)
	if n == 0 || after >= before-1024 {
		t.Fatalf("RssFile %d kB → %d kB after advising %d kB, want at least 1 MB less", before, after, n>>10)
	}
}

// cleanExecutable skips the test if exe is on a tmpfs, where its pages
// are shared memory (RssShmem) that only swap can take, and writes its
// pages to disk otherwise.
func cleanExecutable(t *testing.T, exe *os.File) {
	t.Helper()
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(exe.Fd()), &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type == unix.TMPFS_MAGIC {
		t.Skip("the test binary is on a tmpfs (GOTMPDIR or /tmp): its pages cannot be paged out without swap")
	}
	if err := exe.Sync(); err != nil {
		t.Fatal(err)
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

// The NixOS module runs the daemon as the user secmon from the store's
// root-owned executable, where MADV_PAGEOUT does nothing: the page-out must
// shrink RSS there too. TestPageOutCodeShrinksRSS runs again, as nobody,
// from a root-owned copy of this test binary, readable (0755) and not
// (0711: it cannot be opened to drop its page cache, only unmapped).
func TestPageOutCodeAsServiceUser(t *testing.T) {
	for _, mode := range []os.FileMode{0o755, 0o711} {
		t.Run(mode.String(), func(t *testing.T) { pageOutAs(t, mode) })
	}
}

func pageOutAs(t *testing.T, mode os.FileMode) {
	if os.Getuid() != 0 {
		t.Skip("needs root, to run a root-owned copy of the test as another user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	dir, err := os.MkdirTemp("", "pageout")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "daemon.test")
	if err := os.WriteFile(exe, self, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(exe, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	cleanExecutable(t, f)
	f.Close()
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--",
		exe, "-test.run=^TestPageOutCodeShrinksRSS$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	t.Logf("as uid 65534:\n%s", out)
	if err != nil {
		t.Fatalf("TestPageOutCodeShrinksRSS as uid 65534: %v", err)
	}
	if bytes.Contains(out, []byte("SKIP")) {
		t.Skip("skipped as uid 65534, see its output")
	}
}
