// Package netmon is secmon's network monitor: which programs listen on
// which ports (and stop), the TCP connections they make and accept, and
// remote addresses probing many local ports (port scans).
//
// # Mechanism
//
// eBPF, with the objects generated from bpf/netmon.c and committed (see
// generate.go), loaded with cilium/ebpf and read from a ring buffer with a
// blocking read (epoll_wait with no timeout): nothing polls. Measured on
// this project's machine (Linux 6.18, lockdown=integrity) before choosing:
//
//   - conntrack netlink events carry no pid, need CAP_NET_ADMIN and a
//     conntrack rule in the namespace, and never show a listener;
//   - sock_diag has no events at all (an inventory: 0.7 ms to list 1,000
//     listeners), so it serves only the start-up inventory and the fallback;
//   - the audit netlink names pid, comm and exe but taxes every system call
//     (about 110 ns) while a rule is loaded;
//   - eBPF sees each listen, bind and connection as it happens, in the
//     calling process's context. Of its program types, kprobes are not even
//     built into this kernel (CONFIG_KPROBES unset), and fentry/fexit are
//     refused at BPF_PROG_LOAD with EPERM under lockdown=integrity (the
//     default with Secure Boot on Fedora, Ubuntu, Debian); tp_btf
//     tracepoints and cgroup programs load, so only those are used.
//
// Idle cost: `strace -f -c -p PID` on an idle daemon with every monitor on
// counts 6 system calls in 30 s, all within 1 ms of strace attaching (the Go
// runtime re-entering the waits strace interrupted), and /proc/PID/stat 0
// CPU ticks in 61 s. The programs cost other programs' socket calls nothing
// measurable when they filter the event out (go test -bench, NETMON_BENCH,
// see bench_test.go); each reported event costs the monitor a wake-up and a
// /proc look-up (a loop of 8,000 loopback connections a second slows from
// 83 to 125 µs per connection on 2 cores while every one is reported).
//
// What is seen, and how:
//   - TCP listen and its end, outbound and inbound connections: the
//     tracepoint sock:inet_sock_set_state. listen() and connect() run in the
//     caller's context, so the pid is the caller's; an inbound connection
//     completes in softirq context and is put on the listener's owner.
//   - UDP binds to a named port, and their release: cgroup bind4/6,
//     post_bind4/6 and sock_release programs on the cgroup v2 root. Each
//     returns 1 (allow) on every path; a test checks every exit of the
//     compiled object. A bind to port 0 (an ephemeral client port) is not a
//     listener and is not reported.
//   - Probes of closed ports: the tracepoint tcp:tcp_send_reset with no
//     socket (SYN, FIN, NULL, Xmas and ACK probes all get a reset), and
//     icmp:icmp_send's port-unreachable for UDP (IPv4 only). A completed
//     inbound connection also counts as touching its port.
//
// What is not seen: half-open (SYN) probes of open ports (the kernel answers
// from a request socket that no tracepoint shows; a full connect is seen),
// anything a firewall drops before the TCP or UDP stack, UDP probes over
// IPv6, probes of open UDP ports, refused or timed-out outbound connection
// attempts, and other network namespaces (containers): only the daemon's own
// namespace is watched.
//
// # Privileges and fallback
//
// The tracepoints need CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN); the
// cgroup programs also CAP_NET_ADMIN. Naming other users' processes needs
// CAP_SYS_PTRACE. Without them the monitor says so in a MonitorStatus event
// and reports the listeners present at start (sock_diag) as a Low
// inventory, instead of failing or going silent.
package netmon

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/netmon/ratelimit"
	"github.com/pantheros/secmon/service/internal/netmon/scan"
	"github.com/pantheros/secmon/service/internal/netmon/sockdiag"
	"github.com/pantheros/secmon/service/internal/procinfo"
)

// Config sets the monitor ([network] in the configuration).
type Config struct {
	// AllowedListeners are programs expected to listen on the network: a
	// comm ("sshd") or an absolute exe path, which may be a glob
	// ("/nix/store/*-openssh-*/bin/sshd"). A comm is only a name a program
	// gives itself; an exe path is stronger.
	AllowedListeners []string
	// ScanThreshold distinct local ports touched by one remote address
	// within ScanWindow make a port scan.
	ScanThreshold int
	ScanWindow    time.Duration
	// ConnectionRateLimit: at most one NetworkConnection per program,
	// direction, remote address and service port in this time; the rest
	// are counted into one summary. 0 reports every connection.
	ConnectionRateLimit time.Duration
	// NetNS is the network namespace to watch, as a path such as
	// /run/netns/NAME; empty is the daemon's own. For tests.
	NetNS string
}

// Bounds on what is remembered, whatever the traffic.
const (
	maxScanAddrs = 4096
	maxConnKeys  = 4096
	maxListeners = 16384
)

// Watcher is the network monitor.
type Watcher struct {
	cfg   Config
	log   *slog.Logger
	procs *procinfo.Reader
	now   func() time.Time
	ready chan struct{}

	emit      func(event.Event)
	diag      *sockdiag.Conn
	listeners map[uint64]*listener // by socket cookie
	scans     *scan.Detector
	conns     *ratelimit.Limiter[connKey, conn]
	drops     struct {
		seen, pending uint64
		last          time.Time
	}
}

type listener struct {
	proto string
	addr  netip.Addr
	port  uint16
	proc  *event.Process
}

// New checks the configuration.
func New(cfg Config, logger *slog.Logger) (*Watcher, error) {
	if cfg.ScanThreshold < 2 {
		return nil, fmt.Errorf("cannot watch the network: port scan threshold %d is below 2", cfg.ScanThreshold)
	}
	if cfg.ScanWindow <= 0 {
		return nil, errors.New("cannot watch the network: the port scan window must be positive")
	}
	if cfg.ConnectionRateLimit < 0 {
		return nil, errors.New("cannot watch the network: the connection rate limit must not be negative")
	}
	for _, a := range cfg.AllowedListeners {
		if a == "" {
			return nil, errors.New("cannot watch the network: an allowed listener is empty")
		}
		if _, err := filepath.Match(a, "/"); err != nil {
			return nil, fmt.Errorf("cannot watch the network: allowed listener %q: %w", a, err)
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{
		cfg: cfg, log: logger.With("component", "network"), procs: procinfo.New(), now: time.Now,
		ready:     make(chan struct{}),
		listeners: map[uint64]*listener{},
		scans:     scan.New(scan.Config{Threshold: cfg.ScanThreshold, Window: cfg.ScanWindow, MaxAddrs: maxScanAddrs}),
		conns:     ratelimit.New[connKey, conn](cfg.ConnectionRateLimit, maxConnKeys),
	}, nil
}

// Ready is closed once the monitor watches (or has fallen back) and has
// reported the listeners present at start.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Run watches until ctx ends.
func (w *Watcher) Run(ctx context.Context, emit func(event.Event)) error {
	readyOnce := sync.OnceFunc(func() { close(w.ready) })
	defer readyOnce()
	w.emit = emit

	nsPath := w.cfg.NetNS
	if nsPath == "" {
		nsPath = "/proc/self/ns/net"
	}
	var st unix.Stat_t
	if err := unix.Stat(nsPath, &st); err != nil {
		return fmt.Errorf("cannot find network namespace %s: %w", nsPath, err)
	}
	diag, err := sockdiag.Dial(w.cfg.NetNS)
	if err != nil {
		w.log.Warn("no inventory of listeners", "err", err)
	} else {
		w.diag = diag
		defer diag.Close()
	}
	var cookie uint64
	if diag != nil {
		if cookie, err = diag.NetnsCookie(); err != nil {
			w.log.Warn("UDP binds are not filtered by namespace", "err", err)
		}
	}

	// Attach first, then take the inventory: a listener opened in between
	// is in both, and its cookie makes it one.
	p, perr := loadProbe(uint32(st.Ino), cookie)
	if perr == nil {
		defer p.close()
	}
	n := w.inventory(p)
	switch {
	case perr != nil:
		w.log.Warn("network monitor degraded", "err", perr)
		w.status(event.Degraded, event.Medium, fmt.Sprintf("%v; only the listeners present at start are reported (%s, from sock_diag): new listeners, connections and port scans are not seen", perr, listeners(n)))
	case len(p.missing) > 0:
		w.status(event.Degraded, event.Medium, fmt.Sprintf("eBPF, %s at start; not seen: %s", listeners(n), strings.Join(p.missing, "; ")))
	default:
		w.status(event.Running, event.Low, fmt.Sprintf("eBPF: listeners, UDP binds, TCP connections and closed-port probes; %s at start", listeners(n)))
	}
	readyOnce()
	if p == nil {
		<-ctx.Done()
		return nil
	}

	events := make(chan rawEvent, 64)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(events)
		for {
			rec, err := p.reader.Read() // blocks in epoll_wait, no timeout
			if err != nil {
				if !errors.Is(err, ringbuf.ErrClosed) {
					w.log.Error("cannot read the eBPF ring buffer", "err", err)
				}
				return
			}
			ev, err := decode(rec.RawSample)
			if err != nil {
				w.log.Error("bad eBPF record", "err", err)
				continue
			}
			select {
			case events <- ev:
			case <-stop:
				return
			}
		}
	}()
	defer wg.Wait()
	defer p.reader.Close()
	defer close(stop)

	var timer *time.Timer
	var wake <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil
		case ev, ok := <-events:
			if !ok {
				return errors.New("cannot read network events: the eBPF ring buffer reader stopped")
			}
			w.handle(ev)
		case <-wake:
		}
		w.flush()
		// A timer only while something is counted: idle means asleep.
		if at, ok := w.nextWake(); ok {
			d := max(at.Sub(w.now()), 0)
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			wake = timer.C
		} else if timer != nil {
			timer.Stop()
			wake = nil
		}
	}
}

func (w *Watcher) status(state event.State, sev event.Severity, reason string) {
	w.emit(event.Status("network", state, sev, reason))
}

// inventory reports the listeners present now, as Low events (they are not
// news, but a listener that started before secmon should not be invisible),
// and remembers them to name the owner of inbound connections and to report
// their end.
func (w *Watcher) inventory(p *probe) int {
	if w.diag == nil {
		return 0
	}
	socks, err := w.diag.Listeners()
	if err != nil {
		w.log.Warn("no inventory of listeners", "err", err)
		return 0
	}
	inodes := map[uint64]bool{}
	for _, s := range socks {
		inodes[s.Inode] = true
	}
	owners := sockdiag.Owners("/proc", inodes)
	for _, s := range socks {
		var proc *event.Process
		if pid, ok := owners[s.Inode]; ok {
			proc = w.procs.Lookup(pid)
		}
		l := &listener{proto: s.Proto, addr: s.Addr.Unmap(), port: s.Port, proc: proc}
		w.remember(s.Cookie, l)
		if p != nil && s.Proto == "udp" {
			if err := p.maps.Maps["udp_bound"].Put(s.Cookie, uint8(1)); err != nil {
				w.log.Warn("the end of this UDP socket will not be seen", "port", s.Port, "err", err)
			}
		}
		e := w.listenEvent(l, "listening", proc)
		e.Severity = event.Low
		e.Metadata["found_by"] = "inventory"
		e.Description = fmt.Sprintf("%s was listening on %s %s when the monitor started", who(proc), strings.ToUpper(l.proto), hostPort(l.addr, l.port))
		w.emit(e)
	}
	return len(socks)
}

func (w *Watcher) remember(cookie uint64, l *listener) {
	if len(w.listeners) >= maxListeners {
		// Only if ends were lost (a full ring buffer): forget any one.
		for k := range w.listeners {
			delete(w.listeners, k)
			break
		}
	}
	w.listeners[cookie] = l
}

// process names pid now; when it is already gone, by the comm the kernel
// gave with the event.
func (w *Watcher) process(pid uint32, comm string) *event.Process {
	if pid == 0 {
		return nil
	}
	if p := w.procs.Lookup(int(pid)); p != nil {
		return p
	}
	return &event.Process{PID: int(pid), Comm: comm, UID: -1}
}

func listeners(n int) string {
	if n == 1 {
		return "1 listener"
	}
	return strconv.Itoa(n) + " listeners"
}

func who(p *event.Process) string {
	if p == nil {
		return "an unknown process"
	}
	if p.Comm == "" {
		return fmt.Sprintf("pid %d", p.PID)
	}
	return fmt.Sprintf("%s (pid %d)", p.Comm, p.PID)
}

func hostPort(a netip.Addr, port uint16) string {
	if !a.IsValid() {
		return ":" + strconv.Itoa(int(port))
	}
	return netip.AddrPortFrom(a, port).String()
}

// allowed says whether p is in the allow-list of listeners.
func (w *Watcher) allowed(p *event.Process) bool {
	if p == nil {
		return false
	}
	for _, a := range w.cfg.AllowedListeners {
		if strings.HasPrefix(a, "/") {
			if ok, _ := filepath.Match(a, p.Exe); ok && p.Exe != "" {
				return true
			}
		} else if a == p.Comm {
			return true
		}
	}
	return false
}

func (w *Watcher) listenEvent(l *listener, state string, proc *event.Process) event.Event {
	sev := event.Low
	reach := "loopback only"
	if !l.addr.IsLoopback() {
		reach = "reachable from the network"
		if state == "listening" && !w.allowed(proc) {
			sev = event.High
		}
	}
	desc := fmt.Sprintf("%s listens on %s %s (%s)", who(proc), strings.ToUpper(l.proto), hostPort(l.addr, l.port), reach)
	if state == "closed" {
		desc = fmt.Sprintf("%s stopped listening on %s %s", who(proc), strings.ToUpper(l.proto), hostPort(l.addr, l.port))
	}
	return event.Event{
		Type: event.NetworkListen, Severity: sev, Path: hostPort(l.addr, l.port),
		Description: desc, Process: proc,
		Metadata: map[string]string{
			"protocol": l.proto, "address": l.addr.String(), "port": strconv.Itoa(int(l.port)), "state": state,
		},
	}
}

// The kinds of bpf/netmon.c's enum kind.
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

func (w *Watcher) connEvent(c conn, suppressed int) event.Event {
	if c.proc == nil && c.pid != 0 {
		c.proc = w.process(c.pid, c.comm)
	}
	remote := hostPort(c.raddr, c.rport)
	local := hostPort(c.laddr, c.lport)
	var desc string
	switch {
	case suppressed > 0 && c.direction == "outbound":
		desc = fmt.Sprintf("%s made %d more connections to %s within %s (counted, not reported one by one)",
			who(c.proc), suppressed, remote, w.cfg.ConnectionRateLimit)
	case suppressed > 0:
		desc = fmt.Sprintf("%d more connections from %s to %s on TCP port %d within %s (counted, not reported one by one)",
			suppressed, c.raddr, who(c.proc), c.lport, w.cfg.ConnectionRateLimit)
	case c.direction == "outbound":
		desc = fmt.Sprintf("%s connected to %s (TCP, from %s)", who(c.proc), remote, local)
	default:
		desc = fmt.Sprintf("%s connected to %s on TCP %s", remote, who(c.proc), local)
	}
	md := map[string]string{
		"protocol": "tcp", "direction": c.direction,
		"local_address": c.laddr.String(), "local_port": strconv.Itoa(int(c.lport)),
		"remote_address": c.raddr.String(), "remote_port": strconv.Itoa(int(c.rport)),
	}
	if suppressed > 0 {
		md["suppressed"] = strconv.Itoa(suppressed)
	}
	return event.Event{Type: event.NetworkConnection, Severity: event.Low, Path: remote,
		Description: desc, Process: c.proc, Metadata: md}
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
