// Package sockdiag lists the listening TCP sockets and the bound,
// unconnected UDP sockets of a network namespace through NETLINK_SOCK_DIAG
// (inet_diag), and finds the processes holding them from /proc/PID/fd.
//
// It is an inventory, not a source of events: sock_diag has no
// notifications. It needs no privilege; naming other users' processes needs
// CAP_SYS_PTRACE (their fd directories are private). Measured here
// (BenchmarkListeners1000): the four dumps (TCP and UDP, IPv4 and IPv6)
// with 1,000 TCP listeners open take 0.7 ms.
package sockdiag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/procinfo"
)

// Socket is one socket found.
type Socket struct {
	Proto  string // "tcp" or "udp"
	Addr   netip.Addr
	Port   uint16
	Cookie uint64 // the kernel's socket cookie, as eBPF's bpf_get_socket_cookie gives it
	Inode  uint64
	UID    uint32
}

// Conn is a sock_diag socket in one network namespace.
type Conn struct {
	fd  int
	seq uint32
}

// soNetnsCookie is SO_NETNS_COOKIE (Linux 5.14), missing from x/sys/unix.
const soNetnsCookie = 71

// Dial opens a sock_diag socket in the network namespace at netns (a path
// such as /run/netns/NAME or /proc/PID/ns/net), or in the caller's when
// netns is empty. A netlink socket stays in the namespace it was made in.
func Dial(netns string) (*Conn, error) {
	var fd int
	open := func() (err error) {
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
		return err
	}
	var err error
	if netns == "" {
		err = open()
	} else {
		err = inNetns(netns, open)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot open a sock_diag socket: %w", err)
	}
	return &Conn{fd: fd}, nil
}

// inNetns runs fn on a thread moved into the namespace at path, and moves
// the thread back. If it cannot, the thread stays locked and dies with the
// goroutine instead of running other goroutines in the wrong namespace.
func inNetns(path string, fn func() error) error {
	target, err := os.Open(path)
	if err != nil {
		return err
	}
	defer target.Close()
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer self.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("cannot enter network namespace %s: %w", path, err)
	}
	ferr := fn()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("cannot return from network namespace %s: %w", path, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Close closes the socket.
func (c *Conn) Close() error { return unix.Close(c.fd) }

// NetnsCookie is the cookie of the socket's network namespace, which eBPF's
// bpf_get_netns_cookie gives in cgroup programs.
func (c *Conn) NetnsCookie() (uint64, error) {
	var v uint64
	l := uint32(8)
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(c.fd), unix.SOL_SOCKET, soNetnsCookie,
		uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return 0, fmt.Errorf("cannot read the network namespace cookie: %w", e)
	}
	return v, nil
}

const (
	tcpEstablished = 1
	tcpClose       = 7
	tcpListen      = 10
)

// Listeners returns the listening TCP sockets and the bound UDP sockets
// with no peer, IPv4 and IPv6.
func (c *Conn) Listeners() ([]Socket, error) {
	var all []Socket
	for _, q := range []struct {
		family uint8
		proto  uint8
		states uint32
	}{
		{unix.AF_INET, unix.IPPROTO_TCP, 1 << tcpListen},
		{unix.AF_INET6, unix.IPPROTO_TCP, 1 << tcpListen},
		{unix.AF_INET, unix.IPPROTO_UDP, 1 << tcpClose},
		{unix.AF_INET6, unix.IPPROTO_UDP, 1 << tcpClose},
	} {
		socks, err := c.dump(q.family, q.proto, q.states)
		if err != nil {
			return nil, err
		}
		for _, s := range socks {
			if s.Port != 0 {
				all = append(all, s)
			}
		}
	}
	return all, nil
}

// inet_diag_req_v2 and inet_diag_msg (linux/inet_diag.h).
const (
	reqLen  = 56
	msgLen  = 72
	nlHdr   = unix.SizeofNlMsghdr
	nlAlign = 4
)

func (c *Conn) dump(family, proto uint8, states uint32) ([]Socket, error) {
	c.seq++
	req := make([]byte, nlHdr+reqLen)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], c.seq)
	req[nlHdr] = family
	req[nlHdr+1] = proto
	ne.PutUint32(req[nlHdr+4:], states)
	if err := unix.Sendto(c.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("cannot ask sock_diag: %w", err)
	}
	name := map[uint8]string{unix.IPPROTO_TCP: "tcp", unix.IPPROTO_UDP: "udp"}[proto]
	var out []Socket
	buf := make([]byte, 64*1024)
	for {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return nil, fmt.Errorf("cannot read sock_diag: %w", err)
		}
		for b := buf[:n]; len(b) >= nlHdr; {
			l := int(ne.Uint32(b[0:]))
			typ := ne.Uint16(b[4:])
			seq := ne.Uint32(b[8:])
			if l < nlHdr || l > len(b) {
				return nil, errors.New("cannot read sock_diag: truncated message")
			}
			body := b[nlHdr:l]
			b = b[min((l+nlAlign-1)&^(nlAlign-1), len(b)):]
			if seq != c.seq {
				continue
			}
			switch typ {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(body) >= 4 {
					if errno := int32(ne.Uint32(body)); errno != 0 {
						return nil, fmt.Errorf("cannot dump sockets: %w", unix.Errno(-errno))
					}
				}
				return out, nil
			case unix.SOCK_DIAG_BY_FAMILY:
				if len(body) < msgLen {
					continue
				}
				if s, ok := parseMsg(body, name); ok {
					out = append(out, s)
				}
			}
		}
	}
}

func parseMsg(m []byte, proto string) (Socket, bool) {
	ne := binary.NativeEndian
	family := m[0]
	id := m[4:52]
	sport := binary.BigEndian.Uint16(id[0:])
	dport := binary.BigEndian.Uint16(id[2:])
	if dport != 0 {
		return Socket{}, false // a connected UDP socket is a client's
	}
	var addr netip.Addr
	switch family {
	case unix.AF_INET:
		addr = netip.AddrFrom4([4]byte(id[4:8]))
	case unix.AF_INET6:
		addr = netip.AddrFrom16([16]byte(id[4:20]))
	default:
		return Socket{}, false
	}
	cookie := uint64(ne.Uint32(id[40:])) | uint64(ne.Uint32(id[44:]))<<32
	return Socket{
		Proto: proto, Addr: addr, Port: sport, Cookie: cookie,
		UID:   ne.Uint32(m[64:]),
		Inode: uint64(ne.Uint32(m[68:])),
	}, true
}

// Owners finds, under the /proc root given, a process holding each socket
// inode asked for: the lowest pid among the holders, usually the one that
// opened it. Inodes no readable process holds are missing from the result.
func Owners(proc string, inodes map[uint64]bool) map[uint64]int {
	out := map[uint64]int{}
	if len(inodes) == 0 {
		return out
	}
	pids, err := procinfo.PIDs(proc)
	if err != nil {
		return out
	}
	for _, pid := range pids {
		fds, err := procinfo.FDs(proc, pid)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(fd)
			if err != nil {
				continue
			}
			rest, ok := strings.CutPrefix(link, "socket:[")
			if !ok {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(rest, "]"), 10, 64)
			if err != nil || !inodes[ino] {
				continue
			}
			if _, seen := out[ino]; !seen {
				out[ino] = pid
			}
		}
		if len(out) == len(inodes) {
			break
		}
	}
	return out
}
