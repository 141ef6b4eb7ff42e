package netmon_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/netmon"
)

func cfgFor(netns string) netmon.Config {
	c := netmon.DefaultConfig()
	c.NetNS = netns
	return c
}

func listenOf(pid int, port, state string) func(event.Event) bool {
	return func(e event.Event) bool {
		return e.Type == event.NetworkListen && e.Process != nil && e.Process.PID == pid &&
			e.Metadata["port"] == port && e.Metadata["state"] == state
	}
}

// A program that listens is named with its pid; High on a wildcard address
// unless allowed, Low on loopback; closing is reported too.
func TestListenAndStop(t *testing.T) {
	needBPF(t)
	ns := newNetns(t)
	cfg := cfgFor(ns)
	cfg.AllowedListeners = []string{"nm-allowed"}
	w := run(t, cfg)

	tests := []struct {
		name, proto, addr string
		wantAddr          string
		want              event.Severity
	}{
		{"nm-listener", "tcp4", "0.0.0.0:0", "0.0.0.0", event.High},
		{"nm-loopback", "tcp4", "127.0.0.1:0", "127.0.0.1", event.Low},
		{"nm-allowed", "tcp", "[::]:0", "::", event.Low},
		{"nm-udp", "udp4", "0.0.0.0:5353", "0.0.0.0", event.High},
		{"nm-udp6-lo", "udp6", "[::1]:5300", "::1", event.Low},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHelper(t, tt.name, ns, "listen", tt.proto, tt.addr)
			port := h.ready[0]
			e := w.next(listenOf(h.pid(), port, "listening"), tt.name+" listening")
			proto := tt.proto[:3]
			if e.Process.Comm != tt.name || e.Severity != tt.want || e.Metadata["protocol"] != proto ||
				e.Metadata["address"] != tt.wantAddr || e.Metadata["found_by"] != "" {
				t.Fatalf("got %s %v by %+v: %s; want %s by %s on %s", e.Severity, e.Metadata, e.Process, e.Description, tt.want, tt.name, tt.wantAddr)
			}
			h.stop(t)
			e = w.next(func(e event.Event) bool {
				return e.Type == event.NetworkListen && e.Metadata["port"] == port && e.Metadata["state"] == "closed"
			}, tt.name+" closed")
			if e.Process == nil || e.Process.Comm != tt.name || e.Process.PID != h.pid() || e.Severity != event.Low ||
				e.Metadata["protocol"] != proto || e.Metadata["address"] != tt.wantAddr {
				t.Fatalf("got %s %v by %+v, want Low closed by %s", e.Severity, e.Metadata, e.Process, tt.name)
			}
		})
	}
}

// A UDP bind to port 0 is a client's ephemeral port, not a listener: the
// first event of a program that binds one and then a named port is the
// named port.
func TestEphemeralUDPBindIsNotAListener(t *testing.T) {
	needBPF(t)
	ns := newNetns(t)
	w := run(t, cfgFor(ns))
	h := startHelper(t, "nm-ephemeral", ns, "listen", "udp4", "127.0.0.1:0", "127.0.0.1:5301")
	e := w.next(func(e event.Event) bool {
		return e.Type == event.NetworkListen && e.Process != nil && e.Process.PID == h.pid()
	}, "a NetworkListen of nm-ephemeral")
	if e.Metadata["port"] != "5301" {
		t.Fatalf("first event is for port %s (%s), want 5301", e.Metadata["port"], e.Description)
	}
}

// Listeners present before the monitor starts are reported as a Low
// inventory, and their end is seen.
func TestListenersAtStartAreInventory(t *testing.T) {
	needBPF(t)
	ns := newNetns(t)
	tcp := startHelper(t, "nm-early-tcp", ns, "listen", "tcp4", "0.0.0.0:2222")
	udp := startHelper(t, "nm-early-udp", ns, "listen", "udp4", "0.0.0.0:5555")
	w := run(t, cfgFor(ns))
	for _, h := range []*helper{tcp, udp} {
		found := false
		for _, e := range w.atStart {
			if e.Type == event.NetworkListen && e.Process != nil && e.Process.PID == h.pid() {
				found = true
				if e.Metadata["found_by"] != "inventory" || e.Severity != event.Low || e.Metadata["state"] != "listening" ||
					e.Process.Comm != filepathBase(h.cmd.Path) || e.Metadata["port"] != h.ready[0] {
					t.Errorf("got %s %v by %+v", e.Severity, e.Metadata, e.Process)
				}
			}
		}
		if !found {
			t.Errorf("no inventory event for %s in %v", h.cmd.Path, w.atStart)
		}
	}
	for _, c := range []struct {
		h           *helper
		proto, port string
	}{{tcp, "tcp", "2222"}, {udp, "udp", "5555"}} {
		c.h.stop(t)
		e := w.next(func(e event.Event) bool {
			return e.Type == event.NetworkListen && e.Metadata["port"] == c.port && e.Metadata["state"] == "closed"
		}, c.proto+" "+c.port+" closed")
		if e.Metadata["protocol"] != c.proto || e.Process == nil || e.Process.PID != c.h.pid() {
			t.Fatalf("got %v by %+v", e.Metadata, e.Process)
		}
	}
}

func filepathBase(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// Connections are reported outbound (by the connecting program) and
// inbound (put on the listener's program), one per program and remote in
// the rate-limit window, with the rest counted into a summary.
func TestConnections(t *testing.T) {
	needBPF(t)
	ns := newNetns(t)
	cfg := cfgFor(ns)
	cfg.ConnectionRateLimit = time.Second
	w := run(t, cfg)
	srv := startHelper(t, "nm-server", ns, "listen", "tcp4", "127.0.0.1:0")
	port := srv.ready[0]
	w.next(listenOf(srv.pid(), port, "listening"), "nm-server listening")

	cli := startHelper(t, "nm-client", ns, "connect", "127.0.0.1:"+port, "3")
	var out, in, outSum, inSum *event.Event
	for out == nil || in == nil || outSum == nil || inSum == nil {
		e := w.next(func(e event.Event) bool { return e.Type == event.NetworkConnection }, "the connections and their summaries")
		switch {
		case e.Metadata["direction"] == "outbound" && e.Metadata["suppressed"] == "":
			if out != nil {
				t.Fatalf("second outbound event within the rate limit: %s %+v %v; first %s %+v %v", e.Description, e.Process, e.Metadata, out.Description, out.Process, out.Metadata)
			}
			out = &e
		case e.Metadata["direction"] == "outbound":
			outSum = &e
		case e.Metadata["suppressed"] == "":
			if in != nil {
				t.Fatalf("second inbound event within the rate limit: %s", e.Description)
			}
			in = &e
		default:
			inSum = &e
		}
	}
	if out.Process == nil || out.Process.Comm != "nm-client" || out.Process.PID != cli.pid() ||
		out.Metadata["remote_address"] != "127.0.0.1" || out.Metadata["remote_port"] != port || out.Metadata["protocol"] != "tcp" ||
		out.Severity != event.Low || out.Path != "127.0.0.1:"+port {
		t.Errorf("outbound: %s %v by %+v", out.Description, out.Metadata, out.Process)
	}
	if in.Process == nil || in.Process.Comm != "nm-server" || in.Process.PID != srv.pid() ||
		in.Metadata["local_port"] != port || in.Metadata["remote_address"] != "127.0.0.1" {
		t.Errorf("inbound: %s %v by %+v", in.Description, in.Metadata, in.Process)
	}
	if outSum.Metadata["suppressed"] != "2" || inSum.Metadata["suppressed"] != "2" || outSum.Process.Comm != "nm-client" {
		t.Errorf("summaries: %s %v; %s %v", outSum.Description, outSum.Metadata, inSum.Description, inSum.Metadata)
	}
}

// A scan of 20 closed ports from one address is one PortScanDetected.
func TestPortScanIsReportedOnce(t *testing.T) {
	needBPF(t)
	ns := newNetns(t)
	w := run(t, cfgFor(ns))
	for _, tt := range []struct {
		proto, from string
		first       int
	}{
		{"tcp", "127.0.0.7", 20000},
		{"udp", "127.0.0.8", 30000},
	} {
		t.Run(tt.proto, func(t *testing.T) {
			startHelper(t, "nm-scanner", ns, "scan", tt.proto, tt.from, "127.0.0.1", strconv.Itoa(tt.first), strconv.Itoa(tt.first+19))
			// Then a marker: every touch of the scan comes before it.
			m := startHelper(t, "nm-marker", ns, "listen", "tcp4", "127.0.0.1:0")
			evs := w.until(listenOf(m.pid(), m.ready[0], "listening"), "the marker listener")
			var scans []event.Event
			for _, e := range evs {
				if e.Type == event.PortScanDetected {
					scans = append(scans, e)
				}
			}
			if len(scans) != 1 {
				t.Fatalf("got %d PortScanDetected, want 1: %v", len(scans), scans)
			}
			e := scans[0]
			ports := strings.Split(e.Metadata["ports"], ",")
			if e.Severity != event.High || e.Metadata["remote_ip"] != tt.from || e.Path != tt.from ||
				e.Metadata["window_seconds"] != "60" || len(ports) != 10 || ports[0] != strconv.Itoa(tt.first)+"/"+tt.proto {
				t.Fatalf("got %s %v: %s", e.Severity, e.Metadata, e.Description)
			}
			m.stop(t)
		})
	}
}

// Without the capabilities, the monitor says which are missing and still
// reports the listeners present at start; with CAP_BPF and CAP_PERFMON but
// not CAP_NET_ADMIN it loses only the UDP part.
func TestFallbackWithoutCapabilities(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("dropping to nobody in a new namespace needs root (CI runs as root)")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) is not installed")
	}
	tests := []struct {
		name  string
		caps  string // ambient capabilities kept as nobody
		state string
		says  []string
	}{
		{"none", "", "degraded", []string{"missing CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN", "only the listeners present at start"}},
		{"no CAP_NET_ADMIN", "+bpf,+perfmon", "degraded", []string{"UDP binds and their release", "missing CAP_NET_ADMIN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.caps != "" {
				needBPF(t)
			}
			bin := binCopy(t, "nm-unprivileged")
			args := []string{"--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"}
			if tt.caps != "" {
				args = []string{"--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=" + tt.caps, "--ambient-caps=" + tt.caps}
			}
			cmd := exec.Command(setpriv, append(args, bin)...)
			cmd.Env = append(os.Environ(), helperEnv+"=watch", "GORACE=atexit_sleep_ms=0")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Cloneflags: syscall.CLONE_NEWNET}
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("unprivileged watcher: %v", err)
			}
			var status, inventory *event.Event
			dec := json.NewDecoder(strings.NewReader(string(out)))
			for dec.More() {
				var e event.Event
				if err := dec.Decode(&e); err != nil {
					t.Fatal(err)
				}
				switch e.Type {
				case event.MonitorStatus:
					status = &e
				case event.NetworkListen:
					inventory = &e
				}
			}
			if status == nil || status.Metadata["monitor"] != "network" || status.Metadata["state"] != tt.state {
				t.Fatalf("status %+v, want %s", status, tt.state)
			}
			for _, s := range tt.says {
				if !strings.Contains(status.Metadata["reason"], s) {
					t.Errorf("reason %q does not say %q", status.Metadata["reason"], s)
				}
			}
			if inventory == nil || inventory.Metadata["found_by"] != "inventory" || inventory.Metadata["port"] != "4321" ||
				inventory.Process == nil || inventory.Process.Comm != "nm-unprivileged" || inventory.Process.PID != cmd.Process.Pid {
				t.Fatalf("inventory %+v, want port 4321 by nm-unprivileged pid %d", inventory, cmd.Process.Pid)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*netmon.Config)
	}{
		{"threshold 1", func(c *netmon.Config) { c.ScanThreshold = 1 }},
		{"zero window", func(c *netmon.Config) { c.ScanWindow = 0 }},
		{"negative rate limit", func(c *netmon.Config) { c.ConnectionRateLimit = -time.Second }},
		{"empty allowed listener", func(c *netmon.Config) { c.AllowedListeners = []string{""} }},
		{"bad glob", func(c *netmon.Config) { c.AllowedListeners = []string{"/usr/bin/["} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := netmon.DefaultConfig()
			tt.edit(&c)
			if _, err := netmon.New(c, nil); err == nil || !strings.HasPrefix(err.Error(), "cannot watch the network") {
				t.Fatalf("New = %v, want a 'cannot watch the network' error", err)
			}
		})
	}
}

// When the ring buffer overflows (here: the consumer held up while a
// program binds and closes a UDP port 4,000 times), the loss is counted and
// reported as EventsDropped: every event was either delivered or counted.
func TestRingBufferOverflowIsCounted(t *testing.T) {
	needBPF(t)
	ns := newNetns(t)
	gate := make(chan struct{})
	var hold atomic.Bool
	w := runWith(t, cfgFor(ns), func(event.Event) {
		if hold.Load() {
			<-gate
		}
	})
	const n = 4000
	hold.Store(true)
	churn := startHelper(t, "nm-churn", ns, "churn", strconv.Itoa(n))
	hold.Store(false)
	close(gate)
	// A marker after the churn carries the count; retried, because while
	// the buffer drains it may be lost as well (and counted).
	var drops *event.Event
	isDrop := func(e event.Event) bool { return e.Type == event.EventsDropped }
	for attempt := 0; drops == nil; attempt++ {
		if attempt == 20 {
			t.Fatal("no EventsDropped after 20 markers")
		}
		m := startHelper(t, "nm-marker", ns, "listen", "tcp4", "127.0.0.1:0")
		if _, ok := w.within(listenOf(m.pid(), m.ready[0], "listening"), 2*time.Second); !ok {
			continue
		}
		for _, e := range w.seen {
			if isDrop(e) {
				drops = &e
			}
		}
		if drops == nil {
			if e, ok := w.within(isDrop, 2*time.Second); ok {
				drops = &e
			}
		}
	}
	dropped, _ := strconv.Atoi(drops.Metadata["dropped"])
	if drops.Metadata["monitor"] != "network" || drops.Severity != event.High || dropped == 0 || drops.Metadata["reason"] == "" {
		t.Fatalf("got %s %v", drops.Severity, drops.Metadata)
	}
	delivered := 0
	for _, e := range w.seen {
		if e.Type == event.NetworkListen && e.Process != nil && e.Process.PID == churn.pid() {
			delivered++
		}
	}
	// Each bind and each close is delivered or counted, except the close
	// of a bind that was lost (not news then): so between 2n-dropped and 2n.
	if sum := delivered + dropped; sum > 2*n || sum < 2*n-dropped {
		t.Fatalf("delivered %d + dropped %d = %d; want between %d and %d", delivered, dropped, sum, 2*n-dropped, 2*n)
	}
	t.Logf("delivered %d, dropped %d", delivered, dropped)
}
