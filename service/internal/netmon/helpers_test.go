package netmon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
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
	"github.com/pantheros/secmon/service/internal/netmon"
)

// helperEnv turns the test binary into a helper program; netnsEnv names the
// network namespace it first moves into.
const (
	helperEnv = "SECMON_NETMON_HELPER"
	netnsEnv  = "SECMON_NETMON_NETNS"
)

// TestMain runs the helper when asked. Helpers say "ready …" on stdout
// when their sockets are in place and hold them until stdin closes.
func TestMain(m *testing.M) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		os.Exit(m.Run())
	}
	// Every socket below is made on this thread, in this namespace.
	runtime.LockOSThread()
	if ns := os.Getenv(netnsEnv); ns != "" {
		f, err := os.Open(ns)
		if err != nil {
			fail(err)
		}
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			fail(err)
		}
	}
	args := strings.Fields(os.Getenv("SECMON_NETMON_ARGS"))
	switch mode {
	case "netns":
		// Started in a new network namespace: bring its loopback up.
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
		io.Copy(io.Discard, os.Stdin)
	case "listen":
		// listen NETWORK ADDR…: each in turn; "ready" and the ports.
		var closers []io.Closer
		var ports []string
		for _, a := range args[1:] {
			if strings.HasPrefix(args[0], "tcp") {
				ln, err := net.Listen(args[0], a)
				if err != nil {
					fail(err)
				}
				closers = append(closers, ln)
				ports = append(ports, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
			} else {
				pc, err := net.ListenPacket(args[0], a)
				if err != nil {
					fail(err)
				}
				closers = append(closers, pc)
				ports = append(ports, strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port))
			}
		}
		fmt.Println("ready " + strings.Join(ports, " "))
		io.Copy(io.Discard, os.Stdin)
		for _, c := range closers {
			c.Close()
		}
	case "connect":
		// connect ADDR N: N connections one after another.
		n, _ := strconv.Atoi(args[1])
		for range n {
			c, err := net.Dial("tcp", args[0])
			if err != nil {
				fail(err)
			}
			c.Close()
		}
		fmt.Println("ready")
	case "scan":
		// scan PROTO FROM TO FIRST LAST: one probe per port.
		first, _ := strconv.Atoi(args[3])
		last, _ := strconv.Atoi(args[4])
		for p := first; p <= last; p++ {
			probe(args[0], args[1], net.JoinHostPort(args[2], strconv.Itoa(p)))
		}
		fmt.Println("ready")
	case "binds":
		// Binds, listens, connects and closes of every kind must succeed.
		for _, a := range []struct{ network, addr string }{
			{"udp4", "127.0.0.1:0"}, {"udp4", "127.0.0.1:5399"}, {"udp6", "[::1]:5399"}, {"udp", "[::]:0"},
		} {
			pc, err := net.ListenPacket(a.network, a.addr)
			if err != nil {
				fail(err)
			}
			pc.Close()
		}
		for _, a := range []struct{ network, addr string }{{"tcp4", "127.0.0.1:0"}, {"tcp6", "[::1]:0"}} {
			network := a.network
			ln, err := net.Listen(network, a.addr)
			if err != nil {
				fail(err)
			}
			c, err := net.Dial(network, ln.Addr().String())
			if err != nil {
				fail(err)
			}
			s, err := ln.Accept()
			if err != nil {
				fail(err)
			}
			s.Close()
			c.Close()
			ln.Close()
		}
		fmt.Println("ready")
	case "churn":
		// churn N: bind a named UDP port and close it, N times.
		n, _ := strconv.Atoi(args[0])
		for range n {
			pc, err := net.ListenPacket("udp4", "127.0.0.1:5400")
			if err != nil {
				fail(err)
			}
			pc.Close()
		}
		fmt.Println("ready")
	case "watch":
		// Run the monitor here (no privileges, see the fallback test)
		// next to a listener, and print its events once ready.
		ln, err := net.Listen("tcp", "0.0.0.0:4321")
		if err != nil {
			fail(err)
		}
		defer ln.Close()
		w, err := netmon.New(netmon.DefaultConfig(), nil)
		if err != nil {
			fail(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var evs []event.Event
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx, func(e event.Event) { evs = append(evs, e) }) }()
		<-w.Ready()
		cancel()
		if err := <-done; err != nil {
			fail(err)
		}
		enc := json.NewEncoder(os.Stdout)
		for _, e := range evs {
			enc.Encode(e)
		}
	default:
		fail(fmt.Errorf("unknown helper mode %q", mode))
	}
	os.Exit(0)
}

func probe(proto, from, to string) {
	if proto == "udp" {
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(to)))
		if err != nil {
			fail(err)
		}
		c.Write([]byte("probe"))
		// The port-unreachable comes back as ECONNREFUSED on the next read.
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		c.Read(make([]byte, 16))
		c.Close()
		return
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	if c, err := d.Dial("tcp", to); err == nil {
		c.Close()
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "helper:", err)
	os.Exit(3)
}

// binCopy is a copy of the test binary named name, in a directory anyone
// may enter (for helpers run as nobody).
func binCopy(t *testing.T, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "netmon-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, name)
	if err := os.Link(self, bin); err != nil {
		b, err := os.ReadFile(self)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	// ready holds the words after "ready".
	ready []string
}

func (h *helper) pid() int { return h.cmd.Process.Pid }

// stop closes stdin (the helper lets go of its sockets) and waits.
func (h *helper) stop(t *testing.T) {
	t.Helper()
	h.stdin.Close()
	if err := h.cmd.Wait(); err != nil && h.cmd.ProcessState == nil {
		t.Fatalf("helper: %v", err)
	}
}

// startHelper runs a copy of the test binary called name in mode, inside
// netns (if given), and waits for its "ready" line.
func startHelper(t *testing.T, name, netns, mode string, args ...string) *helper {
	t.Helper()
	cmd := exec.Command(binCopy(t, name))
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, netnsEnv+"="+netns,
		"SECMON_NETMON_ARGS="+strings.Join(args, " "), "GORACE=atexit_sleep_ms=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if mode == "netns" {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET
	}
	return runHelper(t, cmd)
}

func runHelper(t *testing.T, cmd *exec.Cmd) *helper {
	t.Helper()
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start helper: %v", err)
	}
	h := &helper{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := h.out.ReadString('\n')
	words := strings.Fields(line)
	if err != nil || len(words) == 0 || words[0] != "ready" {
		t.Fatalf("helper %s did not get ready: %q %v", cmd.Path, line, err)
	}
	h.ready = words[1:]
	return h
}

// newNetns makes a network namespace with its loopback up, for the length
// of the test, and returns its path.
func newNetns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making a network namespace needs CAP_SYS_ADMIN (CI runs as root)")
	}
	h := startHelper(t, "nm-netns", "", "netns")
	return "/proc/" + strconv.Itoa(h.pid()) + "/ns/net"
}

// needBPF skips when the kernel refuses our programs for want of privilege.
func needBPF(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the eBPF monitor needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (CI runs as root)")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skipf("the kernel has no BTF, which the eBPF programs need: %v", err)
	}
}

type watch struct {
	t  *testing.T
	ch chan event.Event
	// atStart are the events before the monitor's status: the inventory.
	atStart []event.Event
	// seen collects what within read.
	seen []event.Event
}

// run starts a watcher on netns and returns its events, after its status.
func run(t *testing.T, cfg netmon.Config) *watch {
	t.Helper()
	return runWith(t, cfg, func(e event.Event) {})
}

// runWith is run with before called ahead of passing each event on.
func runWith(t *testing.T, cfg netmon.Config, before func(event.Event)) *watch {
	t.Helper()
	w, err := netmon.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan event.Event, 1<<16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, func(e event.Event) { before(e); ch <- e }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-w.Ready():
	case err := <-done:
		t.Fatalf("Run ended before ready: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("watcher not ready within 20 s")
	}
	wt := &watch{t: t, ch: ch}
	wt.atStart = wt.until(func(e event.Event) bool { return e.Type == event.MonitorStatus }, "the monitor's status")
	st := wt.atStart[len(wt.atStart)-1]
	wt.atStart = wt.atStart[:len(wt.atStart)-1]
	if st.Metadata["state"] != "running" {
		t.Fatalf("monitor %s: %s", st.Metadata["state"], st.Metadata["reason"])
	}
	return wt
}

// within returns the first event matching within d, or false.
func (w *watch) within(match func(event.Event) bool, d time.Duration) (event.Event, bool) {
	deadline := time.After(d)
	for {
		select {
		case e := <-w.ch:
			w.seen = append(w.seen, e)
			if match(e) {
				return e, true
			}
		case <-deadline:
			return event.Event{}, false
		}
	}
}

// next returns the first event matching, skipping others, within 10 s.
func (w *watch) next(match func(event.Event) bool, what string) event.Event {
	w.t.Helper()
	evs := w.until(match, what)
	return evs[len(evs)-1]
}

// until returns the events up to and including the first matching one.
func (w *watch) until(match func(event.Event) bool, what string) []event.Event {
	w.t.Helper()
	var seen []event.Event
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-w.ch:
			seen = append(seen, e)
			if match(e) {
				return seen
			}
		case <-deadline:
			var b strings.Builder
			for _, e := range seen {
				fmt.Fprintf(&b, "\n  %s %s %v", e.Type, e.Description, e.Metadata)
			}
			w.t.Fatalf("no %s within 10 s; saw:%s", what, b.String())
		}
	}
}
