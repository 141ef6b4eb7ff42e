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
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
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
	// Unprivileged: the daemon runs without the privileges eBPF needs, as
	// expected (user mode): going without is said, not alarmed.
	Unprivileged bool
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

// Run watches until ctx ends. Without eBPF it reports the listeners
// present at start, says why the rest is not seen, and waits.
func (w *Watcher) Run(ctx context.Context, emit func(event.Event)) error {
	readyOnce := sync.OnceFunc(func() { close(w.ready) })
	defer readyOnce()
	w.emit = emit

	netnsIno, netnsCookie, err := w.openNamespace()
	if err != nil {
		return err
	}
	if w.diag != nil {
		defer w.diag.Close()
	}
	// Attach first, then take the inventory: a listener opened in between
	// is in both, and its cookie makes it one.
	p, perr := loadProbe(netnsIno, netnsCookie)
	if perr == nil {
		defer p.close()
	}
	w.startStatus(p, perr, w.inventory(p))
	readyOnce()
	if p == nil {
		// The fallback: the inventory was all there is to report.
		<-ctx.Done()
		return nil
	}
	return w.watch(ctx, p)
}

// openNamespace finds the network namespace to watch, by the inode the
// tracepoints compare, and opens sock_diag in it (w.diag) for the inventory
// and the cookie the cgroup programs compare. Without sock_diag the monitor
// goes on: no inventory, and UDP binds from every namespace.
func (w *Watcher) openNamespace() (netnsIno uint32, netnsCookie uint64, err error) {
	nsPath := w.cfg.NetNS
	if nsPath == "" {
		nsPath = "/proc/self/ns/net"
	}
	var st unix.Stat_t
	if err := unix.Stat(nsPath, &st); err != nil {
		return 0, 0, fmt.Errorf("cannot find network namespace %s: %w", nsPath, err)
	}
	diag, err := sockdiag.Dial(w.cfg.NetNS)
	if err != nil {
		w.log.Warn("no inventory of listeners", "err", err)
		return uint32(st.Ino), 0, nil
	}
	w.diag = diag
	if netnsCookie, err = diag.NetnsCookie(); err != nil {
		w.log.Warn("UDP binds are not filtered by namespace", "err", err)
	}
	return uint32(st.Ino), netnsCookie, nil
}

// watch handles the ring buffer's records until ctx ends or the reader
// stops. The read blocks, so it runs on a goroutine of its own; the records
// are handled on this one, which owns the monitor's state.
func (w *Watcher) watch(ctx context.Context, p *probe) error {
	events := make(chan rawEvent, 64)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { w.read(p.reader, events, stop) })
	defer wg.Wait()
	defer p.reader.Close()
	defer close(stop)
	return w.loop(ctx, events)
}

// read decodes the ring buffer's records into events until the reader is
// closed (or fails) or stop is closed, and then closes events.
func (w *Watcher) read(rd *ringbuf.Reader, events chan<- rawEvent, stop <-chan struct{}) {
	defer close(events)
	for {
		rec, err := rd.Read() // blocks in epoll_wait, no timeout
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
}

// loop handles each record from events and, after it or when the timer
// fires, emits what is due (summaries, lost events), until ctx ends. It
// fails when events closes: the reader stopped.
func (w *Watcher) loop(ctx context.Context, events <-chan rawEvent) error {
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
			if err := p.udpBound.Put(s.Cookie, uint8(1)); err != nil {
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
