package netmon

// What the events say: their wording, severity and metadata.

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pantheros/secmon/service/internal/event"
)

func (w *Watcher) status(state event.State, sev event.Severity, reason string) {
	w.emit(event.Status("network", state, sev, reason))
}

// startStatus says how the monitor started: with every eBPF program, with
// some (p.missing says what is not seen), or without eBPF (perr says why),
// when only the n listeners of the inventory are reported.
func (w *Watcher) startStatus(p *probe, perr error, n int) {
	switch {
	case perr != nil && w.cfg.Unprivileged:
		w.log.Info("network monitor without eBPF", "err", perr)
		w.status(event.Unavailable, event.Low, fmt.Sprintf("%v (expected without the system service); only the listeners present at start are reported (%s, from sock_diag)", perr, listeners(n)))
	case perr != nil:
		w.log.Warn("network monitor degraded", "err", perr)
		w.status(event.Degraded, event.Medium, fmt.Sprintf("%v; only the listeners present at start are reported (%s, from sock_diag): new listeners, connections and port scans are not seen", perr, listeners(n)))
	case len(p.missing) > 0:
		w.status(event.Degraded, event.Medium, fmt.Sprintf("eBPF, %s at start; not seen: %s", listeners(n), strings.Join(p.missing, "; ")))
	default:
		w.status(event.Running, event.Low, fmt.Sprintf("eBPF: listeners, UDP binds, TCP connections and closed-port probes; %s at start", listeners(n)))
	}
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
