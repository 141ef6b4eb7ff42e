package netmon

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// probe is the loaded eBPF side as the daemon holds it: programs attached,
// the ring buffer open.
type probe struct {
	events   *ebpf.Map // the ring buffer
	udpBound *ebpf.Map // the UDP sockets whose release is reported
	reader   *ringbuf.Reader
	// held keeps the programs attached and the maps alive (links, maps,
	// and loaded in process the programs); closing them detaches.
	held []io.Closer
	// missing names what could not be loaded or attached and so is not seen.
	missing []string
}

// attached is what attach loaded: the maps, the programs and their links.
type attached struct {
	maps  *ebpf.Collection // the maps (and global variables) all programs share
	progs []*ebpf.Program
	links []attachedLink
	// missing names what could not be loaded or attached and so is not seen.
	missing []string
}

// attachedLink is a link with its descriptor: only a bpf_link, which
// detaches when its last descriptor closes, may be handed to the daemon.
type attachedLink struct {
	link.Link
	fd int
}

// withFD returns l as an attachedLink, or closes it (detaching the
// program) when it has no descriptor of its own: cgroup programs on a
// kernel before 5.7 are attached by the old interface, which only an
// explicit detach undoes.
func withFD(l link.Link) (attachedLink, error) {
	if f, ok := l.(interface{ FD() int }); ok {
		return attachedLink{l, f.FD()}, nil
	}
	l.Close()
	return attachedLink{}, errors.New("no bpf_link for it (Linux 5.7 or later)")
}

// effectiveCaps is this thread's effective capability set (the daemon's
// threads share one).
func effectiveCaps() (uint64, bool) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // version 3: two 32-bit halves
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, false
	}
	return uint64(data[0].Effective) | uint64(data[1].Effective)<<32, true
}

// missingCaps names what tracing programs (and, with cgroups, the bind and
// release programs) need that this process lacks.
func missingCaps(cgroup bool) []string {
	caps, ok := effectiveCaps()
	if !ok {
		return nil
	}
	has := func(c uint) bool { return caps&(1<<c) != 0 }
	var miss []string
	if !has(unix.CAP_SYS_ADMIN) {
		if !has(unix.CAP_BPF) {
			miss = append(miss, "CAP_BPF")
		}
		if !has(unix.CAP_PERFMON) {
			miss = append(miss, "CAP_PERFMON")
		}
	}
	if cgroup && !has(unix.CAP_NET_ADMIN) {
		miss = append(miss, "CAP_NET_ADMIN")
	}
	return miss
}

// cgroup2Root is where the cgroup v2 hierarchy is mounted ("" if nowhere).
func cgroup2Root() string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER
		fields := strings.Fields(sc.Text())
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" && len(fields) > 4 {
				return fields[4]
			}
		}
	}
	return ""
}

// attach loads the programs for the namespace given by its inode and
// cookie, and attaches them. Each part is loaded on its own, so a kernel
// without one tracepoint (icmp:icmp_send is from Linux 6.10) or a daemon
// without CAP_NET_ADMIN loses only that part, listed in missing. It fails
// when the core (sock:inet_sock_set_state) cannot be had.
func attach(netnsIno uint32, netnsCookie uint64) (*attached, error) {
	// Only kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; this is
	// a no-op on later ones.
	_ = rlimit.RemoveMemlock()
	spec, err := loadNetmon()
	if err != nil {
		return nil, fmt.Errorf("cannot read the embedded eBPF object: %w", err)
	}
	if err := spec.Variables["netns_ino"].Set(netnsIno); err != nil {
		return nil, fmt.Errorf("cannot set the namespace filter: %w", err)
	}
	if err := spec.Variables["netns_cookie"].Set(netnsCookie); err != nil {
		return nil, fmt.Errorf("cannot set the namespace filter: %w", err)
	}
	mapsOnly := spec.Copy()
	mapsOnly.Programs = map[string]*ebpf.ProgramSpec{}
	maps, err := ebpf.NewCollection(mapsOnly)
	if err != nil {
		return nil, fmt.Errorf("cannot create eBPF maps: %w", explain(err, true))
	}
	p := &attached{maps: maps}
	cache := btf.NewCache() // the kernel's BTF, parsed once for all programs
	load := func(name string) (*ebpf.Program, error) {
		one := spec.Copy()
		one.Programs = map[string]*ebpf.ProgramSpec{name: spec.Programs[name]}
		c, err := ebpf.NewCollectionWithOptions(one, ebpf.CollectionOptions{MapReplacements: maps.Maps, Cache: cache})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		prog := c.DetachProgram(name)
		p.progs = append(p.progs, prog)
		return prog, nil
	}
	fail := func(err error) (*attached, error) {
		p.close()
		return nil, err
	}

	for _, tp := range []struct {
		prog, what string
	}{
		{"set_state", "listeners and TCP connections"},
		{"send_reset", "probes of closed TCP ports"},
		{"icmp_send", "probes of closed UDP ports"},
	} {
		tracepoint := strings.TrimPrefix(spec.Programs[tp.prog].SectionName, "tp_btf/")
		prog, err := load(tp.prog)
		var l attachedLink
		if err == nil {
			var tl link.Link
			if tl, err = link.AttachTracing(link.TracingOptions{Program: prog}); err == nil {
				l, err = withFD(tl)
			}
		}
		if err != nil {
			err = explain(err, false)
			if tp.prog == "set_state" {
				return fail(fmt.Errorf("cannot use the tracepoint %s: %w", tracepoint, err))
			}
			p.missing = append(p.missing, fmt.Sprintf("%s (tracepoint %s: %v)", tp.what, tracepoint, err))
			continue
		}
		p.links = append(p.links, l)
	}

	// The UDP programs go together: half of them would mislead.
	if cgRoot := cgroup2Root(); cgRoot == "" {
		p.missing = append(p.missing, "UDP binds and their release (no cgroup v2 hierarchy is mounted)")
	} else {
		var links []attachedLink
		for _, cg := range []struct {
			prog   string
			attach ebpf.AttachType
		}{
			{"bind4", ebpf.AttachCGroupInet4Bind},
			{"bind6", ebpf.AttachCGroupInet6Bind},
			{"post_bind4", ebpf.AttachCGroupInet4PostBind},
			{"post_bind6", ebpf.AttachCGroupInet6PostBind},
			{"sock_release", ebpf.AttachCgroupInetSockRelease},
		} {
			prog, err := load(cg.prog)
			var l attachedLink
			if err == nil {
				var cl link.Link
				if cl, err = link.AttachCgroup(link.CgroupOptions{Path: cgRoot, Attach: cg.attach, Program: prog}); err == nil {
					l, err = withFD(cl)
				}
			}
			if err != nil {
				for _, l := range links {
					l.Close()
				}
				links = nil
				p.missing = append(p.missing, fmt.Sprintf("UDP binds and their release (cgroup program %s on %s: %v)", cg.prog, cgRoot, explain(err, true)))
				break
			}
			links = append(links, l)
		}
		p.links = append(p.links, links...)
	}

	return p, nil
}

// loadProbeHere attaches the programs in this process (when no loader can
// be started) and opens the ring buffer.
func loadProbeHere(netnsIno uint32, netnsCookie uint64) (*probe, error) {
	a, err := attach(netnsIno, netnsCookie)
	if err != nil {
		return nil, err
	}
	p := &probe{events: a.maps.Maps["events"], udpBound: a.maps.Maps["udp_bound"], missing: a.missing}
	for _, l := range a.links {
		p.held = append(p.held, l)
	}
	for _, prog := range a.progs {
		p.held = append(p.held, prog)
	}
	p.held = append(p.held, closer(a.maps.Close))
	if p.reader, err = ringbuf.NewReader(p.events); err != nil {
		p.close()
		return nil, fmt.Errorf("cannot open the eBPF ring buffer: %w", err)
	}
	// Loading parsed the kernel's BTF (several MB, garbage now): give the
	// memory back at once rather than keep it while idle.
	debug.FreeOSMemory()
	return p, nil
}

// explain names the missing capabilities behind a permission error (the
// kernel says only EPERM).
func explain(err error, cgroup bool) error {
	if errors.Is(err, os.ErrPermission) {
		if miss := missingCaps(cgroup); len(miss) > 0 {
			return &capsError{miss, err}
		}
	}
	// lockdown=confidentiality forbids reading kernel memory from eBPF:
	// the verifier then refuses the helper (EINVAL), whatever the caps.
	if b, rerr := os.ReadFile("/sys/kernel/security/lockdown"); rerr == nil && strings.Contains(string(b), "[confidentiality]") {
		return fmt.Errorf("the kernel is locked down (lockdown=confidentiality): %w", err)
	}
	return err
}

type capsError struct {
	missing []string
	err     error
}

func (e *capsError) Error() string { return "missing " + strings.Join(e.missing, ", ") }
func (e *capsError) Unwrap() error { return e.err }

func (p *probe) close() {
	if p.reader != nil {
		p.reader.Close()
	}
	for _, c := range p.held {
		c.Close()
	}
}

// closer makes a Close without an error an io.Closer.
type closer func()

func (c closer) Close() error { c(); return nil }

func (a *attached) close() {
	for _, l := range a.links {
		l.Close()
	}
	for _, prog := range a.progs {
		prog.Close()
	}
	a.maps.Close()
}
