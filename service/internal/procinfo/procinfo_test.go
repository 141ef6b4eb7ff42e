package procinfo_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pantheros/secmon/dbus/testutil"
	"github.com/pantheros/secmon/service/internal/procinfo"
)

func TestCgroup(t *testing.T) {
	tests := []struct {
		name, file, unit, app string
	}{
		{"system service v2", "0::/system.slice/pipewire.service\n", "pipewire.service", ""},
		{"user app scope", "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-niri-firefox-4242.scope\n", "app-niri-firefox-4242.scope", ""},
		{"flatpak", "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-flatpak-org.mozilla.firefox-1234567.scope\n", "app-flatpak-org.mozilla.firefox-1234567.scope", "org.mozilla.firefox"},
		{"user service", "0::/user.slice/user-1000.slice/user@1000.service/session.slice/wireplumber.service\n", "wireplumber.service", ""},
		{"v1 name=systemd", "12:pids:/\n1:name=systemd:/system.slice/sshd.service\n0::/\n", "sshd.service", ""},
		{"root cgroup", "0::/\n", "", ""},
		{"container", "0::/\n4:memory:/process_api/8253ccd6\n", "", ""},
		{"garbage", "no colons here\n::\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unit, app := procinfo.Cgroup([]byte(tt.file))
			if unit != tt.unit || app != tt.app {
				t.Fatalf("Cgroup = %q, %q; want %q, %q", unit, app, tt.unit, tt.app)
			}
		})
	}
}

// start runs a copy of /bin/sleep under a recognisable name.
func start(t *testing.T, name string) *exec.Cmd {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	src, err := os.Open("/bin/sleep")
	if err != nil {
		t.Skip("no /bin/sleep:", err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(dst, src)
	dst.Close()
	cmd := exec.Command(bin, "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func TestLookupLiveProcess(t *testing.T) {
	cmd := start(t, "cam-opener")
	p := procinfo.New().Lookup(cmd.Process.Pid)
	if p == nil {
		t.Fatal("Lookup of a running process returned nil")
	}
	if p.PID != cmd.Process.Pid || p.Comm != "cam-opener" || p.Exe != cmd.Path || p.UID != int64(os.Getuid()) {
		t.Fatalf("Lookup = %+v, want pid %d, comm cam-opener, exe %s, uid %d", p, cmd.Process.Pid, cmd.Path, os.Getuid())
	}
	if os.Getuid() == 0 && p.User != "root" {
		t.Fatalf("user %q, want root", p.User)
	}
}

// A zombie keeps its comm but not its exe: what a monitor sees when an
// opener has already exited.
func TestLookupZombieKeepsComm(t *testing.T) {
	cmd := start(t, "short-lived")
	pid := cmd.Process.Pid
	cmd.Process.Signal(syscall.SIGKILL)
	// Wait until it is a zombie (state Z), without reaping it.
	testutil.WaitFor(t, 10*time.Second, "the process becoming a zombie", func() bool {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		i := strings.LastIndexByte(string(b), ')')
		return i > 0 && strings.HasPrefix(string(b[i+2:]), "Z")
	})
	p := procinfo.New().Lookup(pid)
	if p == nil || p.Comm != "short-lived" || p.Exe != "" {
		t.Fatalf("Lookup of a zombie = %+v, want comm short-lived and no exe", p)
	}
}

func TestLookupGoneProcess(t *testing.T) {
	cmd := start(t, "gone")
	pid := cmd.Process.Pid
	cmd.Process.Kill()
	cmd.Wait()
	if p := procinfo.New().Lookup(pid); p != nil {
		t.Fatalf("Lookup of a reaped pid = %+v, want nil", p)
	}
}

// What naming an opener costs: the camera, microphone and network monitors
// run it per event.
func BenchmarkLookupSelf(b *testing.B) {
	r := procinfo.New()
	pid := os.Getpid()
	b.ReportAllocs()
	for b.Loop() {
		if p := r.Lookup(pid); p == nil || p.Comm == "" {
			b.Fatal("no comm for self")
		}
	}
}
