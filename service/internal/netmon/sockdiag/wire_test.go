package sockdiag_test

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/netmon/sockdiag"
)

// The kernel's side of sock_diag, written here byte by byte as
// linux/netlink.h and linux/inet_diag.h lay it out (as mdlayher/netlink's
// nltest fakes the wire): the parser never sees anything but bytes.

var ne = binary.NativeEndian

// nlmsg is one netlink message: a 16-byte header and body, padded to 4.
func nlmsg(typ, flags uint16, seq uint32, body []byte) []byte {
	m := make([]byte, 16, 16+len(body)+3)
	ne.PutUint32(m[0:], uint32(16+len(body)))
	ne.PutUint16(m[4:], typ)
	ne.PutUint16(m[6:], flags)
	ne.PutUint32(m[8:], seq)
	m = append(m, body...)
	for len(m)%4 != 0 {
		m = append(m, 0)
	}
	return m
}

// sock is the part of an inet_diag_msg the parser reads.
type sock struct {
	family       uint8
	sport, dport uint16
	addr         netip.Addr
	cookie       uint64
	uid, inode   uint32
}

// diag is a SOCK_DIAG_BY_FAMILY message carrying s, with extra bytes after
// the 72 of struct inet_diag_msg (attributes, which the parser skips).
func diag(seq uint32, s sock, extra ...byte) []byte {
	b := make([]byte, 72, 72+len(extra))
	b[0] = s.family
	b[1] = 10 // TCP_LISTEN
	binary.BigEndian.PutUint16(b[4:], s.sport)
	binary.BigEndian.PutUint16(b[6:], s.dport)
	copy(b[8:24], s.addr.AsSlice()) // 4 or 16 bytes, or none

	ne.PutUint32(b[44:], uint32(s.cookie))
	ne.PutUint32(b[48:], uint32(s.cookie>>32))
	ne.PutUint32(b[64:], s.uid)
	ne.PutUint32(b[68:], s.inode)
	return nlmsg(unix.SOCK_DIAG_BY_FAMILY, unix.NLM_F_MULTI, seq, append(b, extra...))
}

func done(seq uint32, result int32) []byte {
	b := make([]byte, 4)
	ne.PutUint32(b, uint32(result))
	return nlmsg(unix.NLMSG_DONE, unix.NLM_F_MULTI, seq, b)
}

// nlerr is an NLMSG_ERROR: struct nlmsgerr, a negative errno (0 for an
// acknowledgement) and the request's header.
func nlerr(seq uint32, errno int32) []byte {
	b := make([]byte, 4+16)
	ne.PutUint32(b, uint32(errno))
	return nlmsg(unix.NLMSG_ERROR, 0, seq, b)
}

func cat(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = append(b, m...)
	}
	return b
}

var (
	lo4  = sock{family: unix.AF_INET, sport: 22, addr: netip.MustParseAddr("127.0.0.1"), cookie: 0x1122334455667788, uid: 0, inode: 4242}
	any6 = sock{family: unix.AF_INET6, sport: 8080, addr: netip.MustParseAddr("::"), cookie: 7, uid: 1000, inode: 99}

	wantLo4  = sockdiag.Socket{Proto: "tcp", Addr: netip.MustParseAddr("127.0.0.1"), Port: 22, Cookie: 0x1122334455667788, UID: 0, Inode: 4242}
	wantAny6 = sockdiag.Socket{Proto: "tcp", Addr: netip.MustParseAddr("::"), Port: 8080, Cookie: 7, UID: 1000, Inode: 99}
)

func TestReply(t *testing.T) {
	const seq = 5
	for _, tc := range []struct {
		name   string
		dgrams [][]byte
		want   []sockdiag.Socket
		done   bool
		err    error  // errors.Is
		errMsg string // or a message, when no errno says it
	}{
		{name: "one datagram", dgrams: [][]byte{cat(diag(seq, lo4), diag(seq, any6), done(seq, 0))},
			want: []sockdiag.Socket{wantLo4, wantAny6}, done: true},
		{name: "multipart over three datagrams", dgrams: [][]byte{diag(seq, lo4), diag(seq, any6), done(seq, 0)},
			want: []sockdiag.Socket{wantLo4, wantAny6}, done: true},
		{name: "no socket", dgrams: [][]byte{done(seq, 0)}, done: true},
		{name: "DONE without a result", dgrams: [][]byte{cat(diag(seq, lo4), nlmsg(unix.NLMSG_DONE, 0, seq, nil))},
			want: []sockdiag.Socket{wantLo4}, done: true},
		{name: "not done yet", dgrams: [][]byte{diag(seq, lo4)}, want: []sockdiag.Socket{wantLo4}},
		{name: "an earlier dump's messages are skipped", dgrams: [][]byte{cat(diag(seq-1, any6), done(seq-1, 0), diag(seq, lo4)), done(seq, 0)},
			want: []sockdiag.Socket{wantLo4}, done: true},
		{name: "attributes after the message, unaligned", dgrams: [][]byte{cat(diag(seq, lo4, 1, 2, 3, 4, 5), diag(seq, any6), done(seq, 0))},
			want: []sockdiag.Socket{wantLo4, wantAny6}, done: true},
		{name: "NOOP and unknown types are skipped", dgrams: [][]byte{cat(nlmsg(unix.NLMSG_NOOP, 0, seq, nil), nlmsg(99, 0, seq, []byte{1}), diag(seq, lo4), done(seq, 0))},
			want: []sockdiag.Socket{wantLo4}, done: true},
		{name: "a connected socket is no listener", dgrams: [][]byte{cat(diag(seq, sock{family: unix.AF_INET, sport: 5353, dport: 53, addr: netip.MustParseAddr("10.0.0.1")}), done(seq, 0))},
			done: true},
		{name: "an unknown family is skipped", dgrams: [][]byte{cat(diag(seq, sock{family: unix.AF_UNIX, sport: 1}), diag(seq, lo4), done(seq, 0))},
			want: []sockdiag.Socket{wantLo4}, done: true},
		{name: "NLMSG_ERROR", dgrams: [][]byte{nlerr(seq, -int32(unix.EACCES))}, done: true, err: unix.EACCES},
		{name: "NLMSG_ERROR after sockets", dgrams: [][]byte{diag(seq, lo4), nlerr(seq, -int32(unix.ENOBUFS))},
			want: []sockdiag.Socket{wantLo4}, done: true, err: unix.ENOBUFS},
		{name: "an acknowledgement ends it", dgrams: [][]byte{nlerr(seq, 0)}, done: true},
		{name: "DONE with a failure", dgrams: [][]byte{cat(diag(seq, lo4), done(seq, -int32(unix.EINTR)))},
			want: []sockdiag.Socket{wantLo4}, done: true, err: unix.EINTR},
		{name: "truncated NLMSG_ERROR", dgrams: [][]byte{nlmsg(unix.NLMSG_ERROR, 0, seq, []byte{1, 2})}, done: true, errMsg: "cannot read sock_diag: truncated error message"},
		{name: "truncated header", dgrams: [][]byte{diag(seq, lo4)[:10]}, errMsg: "cannot read sock_diag: truncated message header"},
		{name: "header after a message, truncated", dgrams: [][]byte{cat(diag(seq, lo4), make([]byte, 8))},
			want: []sockdiag.Socket{wantLo4}, errMsg: "cannot read sock_diag: truncated message header"},
		{name: "length past the datagram", dgrams: [][]byte{diag(seq, lo4)[:40]}, errMsg: "cannot read sock_diag: message length 88 in 40 bytes"},
		{name: "length shorter than a header", dgrams: [][]byte{func() []byte { m := done(seq, 0); ne.PutUint32(m, 8); return m }()},
			errMsg: "cannot read sock_diag: message length 8 in 20 bytes"},
		{name: "a socket message too short", dgrams: [][]byte{nlmsg(unix.SOCK_DIAG_BY_FAMILY, unix.NLM_F_MULTI, seq, make([]byte, 40))},
			errMsg: "cannot read sock_diag: a socket of 40 bytes, want 72"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, done, err := sockdiag.ParseReply(seq, "tcp", tc.dgrams...)
			switch {
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Errorf("err = %v, want %v", err, tc.err)
				}
			case tc.errMsg != "":
				if err == nil || err.Error() != tc.errMsg {
					t.Errorf("err = %v, want %q", err, tc.errMsg)
				}
			case err != nil:
				t.Errorf("err = %v", err)
			}
			if done != tc.done {
				t.Errorf("done = %v, want %v", done, tc.done)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// fakeKernel answers on the other end of a socket pair: for each request
// it reads, it sends the datagrams answer returns, then closes its end if
// answer says so. It returns the requests it read.
func fakeKernel(t *testing.T, answer func(req []byte) (dgrams [][]byte, hangUp bool)) (*sockdiag.Conn, <-chan []byte) {
	t.Helper()
	// SEQPACKET: datagrams like netlink's, and a read returns 0 once the
	// other end has closed (a DGRAM pair would wait for ever).
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := sockdiag.NewConn(fds[0])
	t.Cleanup(func() { c.Close() })
	reqs := make(chan []byte, 16)
	go func() {
		defer unix.Close(fds[1])
		buf := make([]byte, 4096)
		for {
			n, err := unix.Read(fds[1], buf)
			if err != nil || n == 0 {
				return
			}
			req := append([]byte(nil), buf[:n]...)
			reqs <- req
			dgrams, hangUp := answer(req)
			for _, d := range dgrams {
				if _, err := unix.Write(fds[1], d); err != nil {
					return
				}
			}
			if hangUp {
				return
			}
		}
	}()
	return c, reqs
}

// Listeners asks for TCP listeners and unconnected UDP sockets of both
// families, each as a dump request laid out as the kernel reads it, and
// keeps the sockets with a port from the answers.
func TestListenersOverTheWire(t *testing.T) {
	type query struct {
		family, proto uint8
		states        uint32
	}
	ask := func(req []byte) query { return query{req[16], req[17], ne.Uint32(req[20:])} }
	c, reqs := fakeKernel(t, func(req []byte) ([][]byte, bool) {
		seq := ne.Uint32(req[8:])
		switch ask(req) {
		case query{unix.AF_INET, unix.IPPROTO_TCP, 1 << 10}:
			return [][]byte{diag(seq, lo4), done(seq, 0)}, false
		case query{unix.AF_INET6, unix.IPPROTO_UDP, 1 << 7}:
			unbound := any6
			unbound.sport = 0 // a socket not bound to a port yet
			return [][]byte{cat(diag(seq, any6), diag(seq, unbound), done(seq, 0))}, false
		}
		return [][]byte{done(seq, 0)}, false
	})
	got, err := c.Listeners()
	if err != nil {
		t.Fatal(err)
	}
	wantUDP := wantAny6
	wantUDP.Proto = "udp"
	if want := []sockdiag.Socket{wantLo4, wantUDP}; !reflect.DeepEqual(got, want) {
		t.Errorf("\n got %+v\nwant %+v", got, want)
	}
	// Each request: nlmsghdr (length 72, SOCK_DIAG_BY_FAMILY, REQUEST|DUMP,
	// a new seq) and an inet_diag_req_v2 for one family, protocol and
	// state set, matching any socket.
	for i, want := range []query{
		{unix.AF_INET, unix.IPPROTO_TCP, 1 << 10}, {unix.AF_INET6, unix.IPPROTO_TCP, 1 << 10},
		{unix.AF_INET, unix.IPPROTO_UDP, 1 << 7}, {unix.AF_INET6, unix.IPPROTO_UDP, 1 << 7},
	} {
		i := uint32(i + 1)
		req := <-reqs
		if got := ask(req); got != want {
			t.Errorf("request %d asks %+v, want %+v", i, got, want)
		}
		if len(req) != 72 || ne.Uint32(req[0:]) != 72 || ne.Uint16(req[4:]) != unix.SOCK_DIAG_BY_FAMILY ||
			ne.Uint16(req[6:]) != unix.NLM_F_REQUEST|unix.NLM_F_DUMP || ne.Uint32(req[8:]) != i {
			t.Errorf("request %d: header % x", i, req[:min(16, len(req))])
		}
		if rest := req[24:]; !reflect.DeepEqual(rest, make([]byte, len(rest))) {
			t.Errorf("request %d: sockid not zero: % x", i, rest)
		}
	}
}

func TestListenersWireFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(seq uint32) ([][]byte, bool)
		err    error
		errMsg string
	}{
		{name: "the kernel refuses", answer: func(seq uint32) ([][]byte, bool) { return [][]byte{nlerr(seq, -int32(unix.EPERM))}, false }, err: unix.EPERM},
		{name: "a malformed answer", answer: func(seq uint32) ([][]byte, bool) { return [][]byte{diag(seq, lo4)[:30]}, false },
			errMsg: "cannot read sock_diag: message length 88 in 30 bytes"},
		// Without this the dump would wait for NLMSG_DONE for ever.
		{name: "the other end goes away midway", answer: func(seq uint32) ([][]byte, bool) { return [][]byte{diag(seq, lo4)}, true },
			errMsg: "cannot read sock_diag: the socket was shut down before the dump ended"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fakeKernel(t, func(req []byte) ([][]byte, bool) { return tc.answer(ne.Uint32(req[8:])) })
			socks, err := c.Listeners()
			if socks != nil {
				t.Errorf("sockets %+v from a failed dump", socks)
			}
			if tc.err != nil && !errors.Is(err, tc.err) || tc.errMsg != "" && (err == nil || err.Error() != tc.errMsg) {
				t.Errorf("err = %v, want %v%s", err, tc.err, tc.errMsg)
			}
		})
	}
}

// FuzzReply: whatever a datagram holds, parsing it does not panic or run
// away, and every socket it yields is well formed and came from a message
// of its own. The datagram's first header names the dump, so that its
// messages are read rather than skipped as another dump's.
func FuzzReply(f *testing.F) {
	f.Add(cat(diag(1, lo4), diag(1, any6), done(1, 0)))
	f.Add(cat(diag(2, lo4, 9, 9, 9), nlerr(2, -13)))
	f.Add(cat(done(3, -4), diag(3, lo4)))
	f.Add(diag(4, lo4)[:50])
	f.Fuzz(func(t *testing.T, dgram []byte) {
		var seq uint32
		if len(dgram) >= 12 {
			seq = ne.Uint32(dgram[8:])
		}
		socks, done, _ := sockdiag.ParseReply(seq, "tcp", dgram)
		if done && len(dgram) < 16 {
			t.Fatalf("done from %d bytes", len(dgram))
		}
		if n := len(dgram) / (16 + 72); len(socks) > n {
			t.Fatalf("%d sockets from %d bytes (at most %d fit)", len(socks), len(dgram), n)
		}
		for _, s := range socks {
			if s.Proto != "tcp" || !(s.Addr.Is4() || s.Addr.Is6()) {
				t.Fatalf("malformed socket %+v", s)
			}
		}
	})
}
