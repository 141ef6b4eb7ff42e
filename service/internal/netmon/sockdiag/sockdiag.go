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
// bpf_get_netns_cookie gives in cgroup programs (SO_NETNS_COOKIE, Linux
// 5.14; its number differs between architectures).
func (c *Conn) NetnsCookie() (uint64, error) {
	v, err := unix.GetsockoptUint64(c.fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if err != nil {
		return 0, fmt.Errorf("cannot read the network namespace cookie: %w", err)
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

func (c *Conn) dump(family, proto uint8, states uint32) ([]Socket, error) {
	c.seq++
	// write, not sendto: an unconnected netlink socket sends to the kernel.
	if _, err := unix.Write(c.fd, request(c.seq, family, proto, states)); err != nil {
		return nil, fmt.Errorf("cannot ask sock_diag: %w", err)
	}
	r := reply{seq: c.seq, proto: protoName[proto]}
	buf := make([]byte, 64*1024)
	for {
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return nil, fmt.Errorf("cannot read sock_diag: %w", err)
		}
		if n == 0 {
			return nil, errors.New("cannot read sock_diag: the socket was shut down before the dump ended")
		}
		// Only the kernel answers a dump (port 0); sending to another
		// process's netlink socket needs CAP_NET_ADMIN, but that is no
		// reason to believe one.
		if nl, ok := from.(*unix.SockaddrNetlink); ok && nl.Pid != 0 {
			continue
		}
		done, err := r.add(buf[:n])
		if err != nil {
			return nil, err
		}
		if done {
			return r.socks, nil
		}
	}
}

// The wire format (linux/netlink.h, linux/inet_diag.h): a datagram holds
// netlink messages, each a 16-byte header (length, type, flags, seq, port)
// and a body, padded to 4 bytes. A dump's answer is SOCK_DIAG_BY_FAMILY
// messages with an inet_diag_msg body over one or more datagrams, ended by
// NLMSG_DONE, or NLMSG_ERROR on failure.
const (
	nlHdr   = unix.SizeofNlMsghdr // 16
	nlAlign = 4
	reqLen  = 56 // struct inet_diag_req_v2
	msgLen  = 72 // struct inet_diag_msg, without attributes
)

var protoName = map[uint8]string{unix.IPPROTO_TCP: "tcp", unix.IPPROTO_UDP: "udp"}

// request is a dump request for the sockets of one family and protocol in
// the states given (a bit mask of TCP states).
func request(seq uint32, family, proto uint8, states uint32) []byte {
	req := make([]byte, nlHdr+reqLen)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], seq)
	// inet_diag_req_v2: sdiag_family, sdiag_protocol, idiag_ext, pad,
	// idiag_states, then an inet_diag_sockid of zeros (any socket).
	req[nlHdr] = family
	req[nlHdr+1] = proto
	ne.PutUint32(req[nlHdr+4:], states)
	return req
}

// reply collects the answer to the dump with sequence number seq.
type reply struct {
	seq   uint32
	proto string
	socks []Socket
}

// add takes one datagram of the answer; done says the dump is over.
// Messages of another sequence number (an earlier, abandoned dump) are
// skipped; a message whose length runs past the datagram is an error.
func (r *reply) add(dgram []byte) (done bool, err error) {
	ne := binary.NativeEndian
	for b := dgram; len(b) > 0; {
		if len(b) < nlHdr {
			return false, errors.New("cannot read sock_diag: truncated message header")
		}
		l := int(ne.Uint32(b[0:]))
		typ := ne.Uint16(b[4:])
		seq := ne.Uint32(b[8:])
		if l < nlHdr || l > len(b) {
			return false, fmt.Errorf("cannot read sock_diag: message length %d in %d bytes", l, len(b))
		}
		body := b[nlHdr:l]
		b = b[min((l+nlAlign-1)&^(nlAlign-1), len(b)):]
		if seq != r.seq {
			continue
		}
		switch typ {
		case unix.NLMSG_DONE:
			// Its body, when there is one, is the dump's result: a
			// negative errno if it failed midway.
			if len(body) >= 4 {
				if errno := int32(ne.Uint32(body)); errno < 0 {
					return true, fmt.Errorf("cannot dump sockets: %w", unix.Errno(-errno))
				}
			}
			return true, nil
		case unix.NLMSG_ERROR:
			// struct nlmsgerr: a negative errno, then the request's header.
			if len(body) < 4 {
				return true, errors.New("cannot read sock_diag: truncated error message")
			}
			if errno := int32(ne.Uint32(body)); errno != 0 {
				return true, fmt.Errorf("cannot dump sockets: %w", unix.Errno(-errno))
			}
			return true, nil // an acknowledgement: nothing (more) to list
		case unix.SOCK_DIAG_BY_FAMILY:
			if len(body) < msgLen {
				return false, fmt.Errorf("cannot read sock_diag: a socket of %d bytes, want %d", len(body), msgLen)
			}
			if s, ok := parseMsg(body, r.proto); ok {
				r.socks = append(r.socks, s)
			}
		}
	}
	return false, nil
}

// parseMsg reads an inet_diag_msg: family, state, timer, retrans, then the
// inet_diag_sockid (ports big-endian, addresses, interface, cookie), then
// expires, rqueue, wqueue, uid and inode.
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
