package e2e_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/event"
)

// netHelperEnv turns the test binary into a network helper (see init);
// netNSEnv names the namespace it moves into first.
const (
	netHelperEnv = "SECMON_E2E_NET_HELPER"
	netNSEnv     = "SECMON_E2E_NETNS"
)

// init runs a helper before TestMain builds anything: "netns" (started in a
// new network namespace: bring its loopback up), "listen ADDR",
// "connect ADDR" or "scan FROM TO FIRST LAST". Each says "ready …" and
// holds its sockets until stdin closes.
func init() {
	mode := os.Getenv(netHelperEnv)
	if mode == "" {
		return
	}
	runtime.LockOSThread() // every socket below is made in this thread's namespace
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "net helper:", err)
		os.Exit(3)
	}
	if ns := os.Getenv(netNSEnv); ns != "" {
		f, err := os.Open(ns)
		if err == nil {
			err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		}
		if err != nil {
			fail(err)
		}
	}
	args := strings.Fields(mode)
	var held io.Closer // closed when stdin closes, before exiting
	switch args[0] {
	case "netns":
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
		if err != nil {
			fail(err)
		}
		ifr, _ := unix.NewIfreq("lo")
		if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
			fail(err)
		}
		ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
		if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
			fail(err)
		}
		fmt.Println("ready")
	case "listen":
		ln, err := net.Listen("tcp4", args[1])
		if err != nil {
			fail(err)
		}
		held = ln
		fmt.Println("ready", ln.Addr().(*net.TCPAddr).Port)
	case "connect":
		c, err := net.Dial("tcp4", args[1])
		if err != nil {
			fail(err)
		}
		held = c
		fmt.Println("ready")
	case "scan":
		first, _ := strconv.Atoi(args[3])
		last, _ := strconv.Atoi(args[4])
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(args[1])}, Timeout: 2 * time.Second}
		for p := first; p <= last; p++ {
			if c, err := d.Dial("tcp4", net.JoinHostPort(args[2], strconv.Itoa(p))); err == nil {
				c.Close()
			}
		}
		fmt.Println("ready")
	}
	io.Copy(io.Discard, os.Stdin)
	if held != nil {
		held.Close()
	}
	os.Exit(0)
}

type netHelper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	words []string
}

// netHelper runs a copy of the test binary called name as a helper.
func startNetHelper(t *testing.T, dir, name, netns string, mode ...string) *netHelper {
	t.Helper()
	self, _ := os.Executable()
	bin := filepath.Join(dir, name)
	if _, err := os.Stat(bin); err != nil {
		b, err := os.ReadFile(self)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), netHelperEnv+"="+strings.Join(mode, " "), netNSEnv+"="+netns, "GORACE=atexit_sleep_ms=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if mode[0] == "netns" {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET
	}
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	words := strings.Fields(line)
	if err != nil || len(words) == 0 || words[0] != "ready" {
		t.Fatalf("helper %s %v did not get ready: %q %v", name, mode, line, err)
	}
	return &netHelper{cmd: cmd, stdin: stdin, words: words[1:]}
}

func (h *netHelper) stop() { h.stdin.Close(); h.cmd.Wait() }

// The daemon, run in a network namespace of the test's, reports through
// its socket a program listening (named, with its pid), its connections,
// one port scan for a 20-port scan, and the listener closing.
// startNetDaemon runs the daemon with e's config in a network namespace of
// its own, held by a helper, and returns it and the namespace's path once
// it is ready. It skips where the network monitor cannot run.
func startNetDaemon(t *testing.T, e *env) (*daemonProc, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the network monitor's eBPF programs and a network namespace need root (CI runs as root)")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skipf("the kernel has no BTF, which the network monitor's eBPF programs need: %v", err)
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		t.Skip("nsenter (util-linux) is not installed")
	}
	holder := startNetHelper(t, e.dir, "nm-netns", "", "netns")
	ns := "/proc/" + strconv.Itoa(holder.cmd.Process.Pid) + "/ns/net"

	// nsenter moves into the namespace and execs the daemon (same pid).
	d := launch(t, exec.Command(nsenter, "--net="+ns, "--", filepath.Join(bin, "secmon-daemon"), e.config))
	d.notify.waitFor("READY=1", d)
	return d, ns
}

func TestNetworkMonitorThroughTheDaemon(t *testing.T) {
	e := newEnv(t)
	e.network = true
	e.writeConfig(t, "\n[network]\nallowed_listeners = [\"sshd\"]\nport_scan_threshold = 10\nport_scan_window_seconds = 60\nconnection_rate_limit_seconds = 60\n")
	_, ns := startNetDaemon(t, e)
	s := connect(t, e.socket)
	s.send(`{"replay_after":0,"types":["MonitorStatus","NetworkListen","NetworkConnection","PortScanDetected"]}`)
	st := s.until(func(ev event.Event) bool {
		return ev.Type == event.MonitorStatus && ev.Metadata["monitor"] == "network"
	})
	if ev := st[len(st)-1]; ev.Metadata["state"] != "running" {
		t.Fatalf("network monitor %s: %s", ev.Metadata["state"], ev.Metadata["reason"])
	}

	srv := startNetHelper(t, e.dir, "nm-e2e-server", ns, "listen", "0.0.0.0:0")
	port := srv.words[0]
	evs := s.until(func(ev event.Event) bool { return ev.Type == event.NetworkListen })
	ev := evs[len(evs)-1]
	if ev.Process == nil || ev.Process.Comm != "nm-e2e-server" || ev.Process.PID != srv.cmd.Process.Pid ||
		ev.Metadata["port"] != port || ev.Metadata["state"] != "listening" || ev.Severity != event.High {
		t.Fatalf("got %s %v by %+v: %s; want a High NetworkListen by nm-e2e-server on port %s", ev.Severity, ev.Metadata, ev.Process, ev.Description, port)
	}

	cli := startNetHelper(t, e.dir, "nm-e2e-client", ns, "connect", "127.0.0.1:"+port)
	var out, in bool
	for !out || !in {
		ev := s.next()
		if ev.Type != event.NetworkConnection {
			continue
		}
		switch ev.Metadata["direction"] {
		case "outbound":
			out = ev.Process != nil && ev.Process.PID == cli.cmd.Process.Pid && ev.Metadata["remote_port"] == port
		case "inbound":
			in = ev.Process != nil && ev.Process.PID == srv.cmd.Process.Pid && ev.Metadata["local_port"] == port
		}
		if !out && !in {
			t.Fatalf("connection event %v by %+v names neither end", ev.Metadata, ev.Process)
		}
	}

	startNetHelper(t, e.dir, "nm-e2e-scanner", ns, "scan", "127.0.0.9", "127.0.0.1", "40000", "40019")
	// Closing the listener is the marker: every probe came before it.
	srv.stop()
	evs = s.until(func(ev event.Event) bool { return ev.Type == event.NetworkListen && ev.Metadata["state"] == "closed" })
	scans := 0
	for _, ev := range evs {
		if ev.Type == event.PortScanDetected {
			scans++
			if ev.Metadata["remote_ip"] != "127.0.0.9" || len(strings.Split(ev.Metadata["ports"], ",")) != 10 || ev.Severity != event.High {
				t.Errorf("got %s %v", ev.Severity, ev.Metadata)
			}
		}
	}
	if scans != 1 {
		t.Fatalf("got %d PortScanDetected for a 20-port scan, want 1", scans)
	}
	if ev := evs[len(evs)-1]; ev.Metadata["port"] != port || ev.Process == nil || ev.Process.Comm != "nm-e2e-server" {
		t.Fatalf("close: %v by %+v", ev.Metadata, ev.Process)
	}
}
