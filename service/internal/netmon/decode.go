package netmon

// The ring buffer's records, decoded, and what each does to the
// monitor's state (listeners, connections, scans).

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/netmon/scan"
)

// The kinds of bpf/netmon.c's enum kind, by hand: bpf2go -type would
// generate them but needs clang to run; TestKindsMatchTheSource holds them
// to the C source.
const (
	kListen      = 1
	kListenClose = 2
	kUDPBind     = 3
	kUDPClose    = 4
	kConnectOut  = 5
	kConnectIn   = 6
	kTouchTCP    = 7
	kTouchUDP    = 8
)

type rawEvent struct {
	cookie, drops uint64
	pid           uint32
	kind          uint8
	proto         string
	lport, rport  uint16
	laddr, raddr  netip.Addr
	comm          string
}

func decode(b []byte) (rawEvent, error) {
	var e netmonEvent
	if _, err := binary.Decode(b, binary.NativeEndian, &e); err != nil {
		return rawEvent{}, err
	}
	r := rawEvent{cookie: e.Cookie, drops: e.Drops, pid: e.Pid, kind: e.Kind, lport: e.Lport, rport: e.Rport}
	switch e.Protocol {
	case unix.IPPROTO_TCP:
		r.proto = "tcp"
	case unix.IPPROTO_UDP:
		r.proto = "udp"
	}
	switch e.Family {
	case unix.AF_INET:
		r.laddr = netip.AddrFrom4([4]byte(e.Laddr[:4]))
		r.raddr = netip.AddrFrom4([4]byte(e.Raddr[:4]))
	case unix.AF_INET6:
		r.laddr = netip.AddrFrom16(e.Laddr).Unmap()
		r.raddr = netip.AddrFrom16(e.Raddr).Unmap()
	}
	comm := make([]byte, 0, len(e.Comm))
	for _, c := range e.Comm {
		if c == 0 {
			break
		}
		comm = append(comm, byte(c))
	}
	r.comm = string(comm)
	return r, nil
}

func (w *Watcher) handle(ev rawEvent) {
	if ev.drops > w.drops.seen {
		w.drops.pending += ev.drops - w.drops.seen
		w.drops.seen = ev.drops
	}
	switch ev.kind {
	case kListen, kUDPBind:
		w.onListen(ev)
	case kListenClose, kUDPClose:
		w.onClose(ev)
	case kConnectOut:
		w.onConnect(ev, "outbound")
	case kConnectIn:
		w.touch(ev.raddr, "tcp", ev.lport)
		w.onConnect(ev, "inbound")
	case kTouchTCP:
		w.touch(ev.raddr, "tcp", ev.lport)
	case kTouchUDP:
		w.touch(ev.raddr, "udp", ev.lport)
	}
}

func (w *Watcher) onListen(ev rawEvent) {
	if _, dup := w.listeners[ev.cookie]; dup {
		return // listen() again on a listening socket, or found at start too
	}
	port := ev.lport
	if port == 0 && w.diag != nil {
		// listen() without bind(): the tracepoint fires before the kernel
		// picks the port; it has by now.
		if socks, err := w.diag.Listeners(); err == nil {
			for _, s := range socks {
				if s.Cookie == ev.cookie {
					port = s.Port
				}
			}
		}
	}
	proc := w.process(ev.pid, ev.comm)
	l := &listener{proto: ev.proto, addr: ev.laddr, port: port, proc: proc}
	w.remember(ev.cookie, l)
	w.emit(w.listenEvent(l, "listening", proc))
}

func (w *Watcher) onClose(ev rawEvent) {
	l, ok := w.listeners[ev.cookie]
	delete(w.listeners, ev.cookie)
	if !ok {
		if ev.kind == kUDPClose {
			return // never reported as bound: its end is not news
		}
		l = &listener{proto: ev.proto, addr: ev.laddr, port: ev.lport}
	}
	// Named by who closed it: the owner, or its successor after a fork.
	proc := l.proc
	if ev.pid != 0 && (proc == nil || proc.PID != int(ev.pid)) {
		proc = w.process(ev.pid, ev.comm)
	}
	w.emit(w.listenEvent(l, "closed", proc))
}

// owner is the process behind the listener an inbound connection came to.
func (w *Watcher) owner(addr netip.Addr, port uint16) *event.Process {
	var wildcard *event.Process
	for _, l := range w.listeners {
		if l.proto != "tcp" || l.port != port {
			continue
		}
		if l.addr == addr {
			return l.proc
		}
		if l.addr.IsUnspecified() {
			wildcard = l.proc
		}
	}
	return wildcard
}

type connKey struct {
	program   string
	direction string
	remote    netip.Addr
	port      uint16 // the service's: remote for outbound, local for inbound
}

type conn struct {
	direction    string
	pid          uint32 // outbound: the connecting process, named only when reported
	comm         string
	proc         *event.Process
	laddr, raddr netip.Addr
	lport, rport uint16
}

func (w *Watcher) onConnect(ev rawEvent, direction string) {
	c := conn{direction: direction, laddr: ev.laddr, raddr: ev.raddr, lport: ev.lport, rport: ev.rport}
	k := connKey{direction: direction, remote: ev.raddr, port: ev.rport}
	if direction == "outbound" {
		// The kernel's comm is the key: a repeat costs no /proc look-up.
		c.pid, c.comm = ev.pid, ev.comm
		k.program = ev.comm
	} else {
		c.proc = w.owner(ev.laddr, ev.lport)
		k.port = ev.lport
		if c.proc != nil {
			k.program = c.proc.Comm
		}
	}
	if w.conns.Allow(k, c, w.now()) {
		w.emit(w.connEvent(c, 0))
	}
}

func (w *Watcher) touch(remote netip.Addr, proto string, port uint16) {
	s, ok := w.scans.Touch(remote, scan.Port{Proto: proto, Num: port}, w.now())
	if !ok {
		return
	}
	secs := strconv.Itoa(int(w.cfg.ScanWindow / time.Second))
	w.emit(event.Event{
		Type: event.PortScanDetected, Severity: event.High, Path: s.Remote.String(),
		Description: fmt.Sprintf("%s probed %d local ports within %s s: %s", s.Remote, len(s.Ports), secs, s.PortList()),
		Metadata:    map[string]string{"remote_ip": s.Remote.String(), "ports": s.PortList(), "window_seconds": secs},
	})
}

// flush emits the connection summaries that are due and the count of
// events the ring buffer lost (at most once a second).
func (w *Watcher) flush() {
	now := w.now()
	for _, s := range w.conns.Due(now) {
		w.emit(w.connEvent(s.Last, s.Suppressed))
	}
	if w.drops.pending > 0 && now.Sub(w.drops.last) >= time.Second {
		n := w.drops.pending
		w.drops.pending, w.drops.last = 0, now
		reason := "the kernel's eBPF ring buffer was full"
		w.log.Warn("network events lost", "dropped", n)
		w.emit(event.Event{
			Type: event.EventsDropped, Severity: event.High,
			Description: fmt.Sprintf("%d network events were lost: %s", n, reason),
			Metadata:    map[string]string{"monitor": "network", "dropped": strconv.FormatUint(n, 10), "reason": reason},
		})
	}
}

func (w *Watcher) nextWake() (time.Time, bool) {
	at, ok := w.conns.Next()
	if w.drops.pending > 0 {
		if d := w.drops.last.Add(time.Second); !ok || d.Before(at) {
			at, ok = d, true
		}
	}
	return at, ok
}
