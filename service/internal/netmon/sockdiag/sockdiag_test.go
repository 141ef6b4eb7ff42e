package sockdiag_test

import (
	"bufio"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"github.com/pantheros/secmon/service/internal/netmon/sockdiag"
)

func inode(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	rc.Control(func(fd uintptr) { err = syscall.Fstat(int(fd), &st) })
	if err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestListenersFindsOurSocketsAndUs(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer pc.Close()
	// A connected UDP socket is a client's, not a listener.
	client, err := net.Dial("udp4", "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	c, err := sockdiag.Dial("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	socks, err := c.Listeners()
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]sockdiag.Socket{
		inode(t, ln.(*net.TCPListener)): {Proto: "tcp", Addr: netip.MustParseAddr("127.0.0.1"), Port: uint16(ln.Addr().(*net.TCPAddr).Port)},
		inode(t, pc.(*net.UDPConn)):     {Proto: "udp", Addr: netip.MustParseAddr("::1"), Port: uint16(pc.LocalAddr().(*net.UDPAddr).Port)},
	}
	clientIno := inode(t, client.(*net.UDPConn))
	found := map[uint64]bool{}
	for _, s := range socks {
		if s.Inode == clientIno {
			t.Errorf("connected UDP socket listed: %+v", s)
		}
		w, ok := want[s.Inode]
		if !ok {
			continue
		}
		if s.Proto != w.Proto || s.Addr != w.Addr || s.Port != w.Port || s.Cookie == 0 || s.UID != uint32(os.Getuid()) {
			t.Errorf("got %+v, want %+v with a cookie and uid %d", s, w, os.Getuid())
		}
		found[s.Inode] = true
	}
	if len(found) != len(want) {
		t.Fatalf("found %v of %v in %+v", found, want, socks)
	}
	owners := sockdiag.Owners("/proc", found)
	for ino := range found {
		if owners[ino] != os.Getpid() {
			t.Errorf("owner of %d = %d, want us (%d)", ino, owners[ino], os.Getpid())
		}
	}
}

// Dial with a namespace lists that namespace's sockets, not ours.
func TestDialOtherNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("entering a network namespace needs CAP_SYS_ADMIN (CI runs as root)")
	}
	cmd := exec.Command("unshare", "--net", "--", "sh", "-c", "echo ready; exec cat")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot run unshare: %v", err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Skipf("cannot make a network namespace (unshare said %q)", line)
	}
	ns := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/net"

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := sockdiag.Dial(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	socks, err := c.Listeners()
	if err != nil {
		t.Fatal(err)
	}
	if len(socks) != 0 {
		t.Fatalf("a new namespace has listeners: %+v", socks)
	}
	own, err := sockdiag.Dial("")
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	a, errA := c.NetnsCookie()
	b, errB := own.NetnsCookie()
	if errA != nil || errB != nil || a == 0 || a == b {
		t.Fatalf("netns cookies %d (%v), %d (%v): want two different ones", a, errA, b, errB)
	}
}

// go test -run '^$' -bench Listeners ./service/internal/netmon/sockdiag/
func BenchmarkListeners1000(b *testing.B) {
	for range 1000 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			b.Skipf("cannot open 1,000 listeners: %v", err)
		}
		defer ln.Close()
	}
	c, err := sockdiag.Dial("")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for b.Loop() {
		socks, err := c.Listeners()
		if err != nil || len(socks) < 1000 {
			b.Fatalf("%d sockets, %v", len(socks), err)
		}
	}
}
