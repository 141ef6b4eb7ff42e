package devaccess_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/devaccess"
	"github.com/pantheros/secmon/service/internal/event"
)

const seccompEnv = "SECMON_DEVACCESS_TEST_SECCOMP"

// denyFanotifyInit installs a seccomp filter on every thread of the process
// that fails fanotify_init with EPERM, as systemd's SystemCallFilter= or
// systemd-nspawn's own filter do.
func denyFanotifyInit() error {
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_FANOTIFY_INIT},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog))); errno != 0 {
		return errno
	}
	return nil
}

// With CAP_SYS_ADMIN but fanotify_init refused by seccomp, the monitor
// says what really failed (the errno, the likely cause), not that the
// capability is missing. The filter is real, in a child process: a copy of
// this test binary.
func TestFanotifyDeniedBySeccomp(t *testing.T) {
	if os.Getenv(seccompEnv) != "" {
		if err := denyFanotifyInit(); err != nil {
			t.Fatalf("cannot install the seccomp filter: %v", err)
		}
		w, err := devaccess.New(devaccess.Camera, []string{filepath.Join(t.TempDir(), "video*")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx, func(event.Event) {}) }()
		<-w.Ready()
		os.Stdout.WriteString("attribution=" + w.Attribution() + "\nwhy=" + w.NoFanotify() + "\n")
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return
	}
	if !devaccess.HasSysAdmin() {
		t.Skip("needs CAP_SYS_ADMIN (CI runs as root): without it the capability is what is missing")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestFanotifyDeniedBySeccomp$", "-test.count=1")
	cmd.Env = append(os.Environ(), seccompEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	got := string(out)
	if !strings.Contains(got, "attribution=procfs") {
		t.Fatalf("with fanotify_init denied, want openers named from /proc; the child said:\n%s", got)
	}
	for _, want := range []string{"operation not permitted", "although CAP_SYS_ADMIN is effective", "seccomp"} {
		if !strings.Contains(got, want) {
			t.Errorf("the reason does not say %q:\n%s", want, got)
		}
	}
}
