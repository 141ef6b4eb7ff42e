package e2e_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/dbus/dbustest"
	"github.com/pantheros/secmon/dbus/testutil"
	"github.com/pantheros/secmon/service/internal/event"
)

const policy = "../../dbus/org.pantheros.Secmon.conf"

func needBus(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the system-like bus applies the shipped policy, which lets only root own " + secmondbus.BusName)
	}
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon is not installed (Debian package dbus)")
	}
}

// busDaemon starts a system-like bus with the repo's policy and the daemon
// on it, and returns both once the daemon owns the name.
func busDaemon(t *testing.T) (*env, *dbustest.Bus, *daemonProc) {
	t.Helper()
	needBus(t)
	bus := dbustest.StartSystemLike(t, policy)
	e := newEnv(t)
	e.dbus = "system"
	e.writeConfig(t, "")
	d := startDaemon(t, []string{e.config}, bus.Env()...)
	return e, bus, d
}

// signals subscribes conn to the Event signal.
func signals(t *testing.T, conn *dbus.Conn) chan *dbus.Signal {
	t.Helper()
	if err := conn.AddMatchSignal(dbus.WithMatchInterface(secmondbus.Interface), dbus.WithMatchMember(secmondbus.SignalEvent)); err != nil {
		t.Fatal(err)
	}
	ch := make(chan *dbus.Signal, 1024)
	conn.Signal(ch)
	return ch
}

func waitSignal(t *testing.T, ch chan *dbus.Signal, match func(secmondbus.Event) bool) secmondbus.Event {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case s := <-ch:
			if s.Name != secmondbus.SignalEventMember {
				continue
			}
			ev, err := secmondbus.DecodeEvent(s.Body)
			if err != nil {
				t.Fatalf("Event signal does not decode: %v", err)
			}
			if match(ev) {
				return ev
			}
		case <-deadline:
			t.Fatal("no matching Event signal within 15s")
		}
	}
}

// A real file change arrives as an Event signal with the same seq, type,
// severity, path and description as the JSON line.
func TestDBusEventSignalMatchesJSONLine(t *testing.T) {
	e, bus, _ := busDaemon(t)
	ch := signals(t, bus.Conn(t))
	s := connect(t, e.socket)
	s.send(`{"replay_after":0}`)
	keys := filepath.Join(e.tree, ".ssh", "authorized_keys")
	os.MkdirAll(filepath.Dir(keys), 0o700)
	os.WriteFile(keys, []byte("ssh-ed25519 AAAA"), 0o600)
	lines := s.until(pathIs(keys))
	line := lines[len(lines)-1]
	sig := waitSignal(t, ch, func(ev secmondbus.Event) bool { return ev.Path == keys })
	if sig.Seq != line.Seq || sig.Type != string(line.Type) || sig.Severity != line.Severity.String() ||
		sig.Description != line.Description || sig.TimestampUsec/1000 != line.Time.UnixMilli() /* JSON keeps milliseconds */ ||
		sig.Details["ssh_file"] != "authorized_keys" {
		t.Fatalf("signal %+v does not match the JSON line %+v", sig, line)
	}
	if sig.Type != string(event.SshAccess) || sig.Severity != "Critical" {
		t.Fatalf("signal %+v, want a Critical SshAccess", sig)
	}
}

// What the daemon exports is exactly the contract's interface.
func TestDBusIntrospectionIsTheContract(t *testing.T) {
	_, bus, _ := busDaemon(t)
	node, err := introspect.Call(bus.Conn(t).Object(secmondbus.BusName, secmondbus.ObjectPath))
	if err != nil {
		t.Fatal(err)
	}
	var want introspect.Node
	if err := xml.Unmarshal([]byte(secmondbus.IntrospectXML), &want); err != nil {
		t.Fatal(err)
	}
	var got *introspect.Interface
	for i := range node.Interfaces {
		if node.Interfaces[i].Name == secmondbus.Interface {
			got = &node.Interfaces[i]
		}
	}
	if got == nil || !reflect.DeepEqual(*got, want.Interfaces[0]) {
		t.Fatalf("exported interface\n%+v\nwant\n%+v", got, want.Interfaces[0])
	}
}

// busctl sees what a desktop user would: properties, replay, and the signal.
func TestDBusWithBusctl(t *testing.T) {
	if _, err := exec.LookPath("busctl"); err != nil {
		t.Skip("busctl is not installed (Debian package systemd)")
	}
	e, bus, _ := busDaemon(t)
	busctl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("busctl", append([]string{"--address=" + bus.Address()}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("busctl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if v := busctl("get-property", secmondbus.BusName, secmondbus.ObjectPath, secmondbus.Interface, "Version"); !strings.HasPrefix(v, `s "`) {
		t.Fatalf("Version = %q", v)
	}
	if m := busctl("get-property", secmondbus.BusName, secmondbus.ObjectPath, secmondbus.Interface, "Monitors"); !strings.Contains(m, `"filesystem" "running"`) {
		t.Fatalf("Monitors = %q, want filesystem running", m)
	}

	mon := exec.Command("busctl", "--address="+bus.Address(), "monitor", secmondbus.BusName, "--json=short")
	var out testutil.LockedBuffer
	mon.Stdout = &out
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Process.Kill(); mon.Wait() })
	// busctl monitor is listening once it has seen a message: ping until it has.
	f := filepath.Join(e.tree, "seen-by-busctl")
	if !testutil.Until(15*time.Second, func() bool {
		os.WriteFile(f, []byte(time.Now().String()), 0o644)
		return strings.Contains(out.String(), f)
	}) {
		t.Fatalf("busctl monitor never showed the Event for %s:\n%s", f, out.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if !strings.Contains(line, f) {
			continue
		}
		var m struct {
			Member  string
			Payload struct {
				Type string
				Data []json.RawMessage
			}
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(line)))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("busctl line %q: %v", line, err)
		}
		if m.Member != "Event" || m.Payload.Type != "txssssa{ss}" || len(m.Payload.Data) != 7 {
			t.Fatalf("busctl saw %+v, want an Event(txssssa{ss})", m)
		}
		break
	}

	replay := busctl("call", secmondbus.BusName, secmondbus.ObjectPath, secmondbus.Interface, "GetEventsAfter", "tu", "0", "0")
	if !strings.HasPrefix(replay, "a(txssssa{ss})t ") || !strings.Contains(replay, f) {
		t.Fatalf("GetEventsAfter = %.300q, want events including %s", replay, f)
	}
}

// A second daemon on the same bus refuses to start, and says why.
func TestDBusNameAlreadyOwned(t *testing.T) {
	_, bus, _ := busDaemon(t)
	e2 := newEnv(t)
	e2.dbus = "system"
	e2.writeConfig(t, "")
	d2 := launch(t, exec.Command(filepath.Join(bin, "secmon-daemon"), e2.config), bus.Env()...)
	err := d2.wait()
	if err == nil || !strings.Contains(d2.stderr.String(), "another process owns it") {
		t.Fatalf("second daemon: exit %v, stderr %q; want a refusal naming the owned name", err, d2.stderr.String())
	}
}

// The bus daemon restarts: secmon keeps monitoring, comes back, and a client
// that replays from the last seq it saw loses nothing.
func TestDBusRestartLosesNothingForReplay(t *testing.T) {
	e, bus, d := busDaemon(t)
	ch := signals(t, bus.Conn(t))
	before := filepath.Join(e.tree, "before")
	os.WriteFile(before, nil, 0o644)
	last := waitSignal(t, ch, func(ev secmondbus.Event) bool { return ev.Path == before }).Seq
	sock := connect(t, e.socket)
	sock.send(`{"replay_after":0}`)

	bus.Restart(t)
	var during []string
	for i := range 5 {
		p := filepath.Join(e.tree, "during-"+string(rune('a'+i)))
		os.WriteFile(p, nil, 0o644)
		during = append(during, p)
	}
	// The socket does not depend on the bus.
	sock.until(pathIs(during[len(during)-1]))
	conn := bus.Conn(t)
	if !testutil.Until(20*time.Second, func() bool {
		var owned bool
		err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, secmondbus.BusName).Store(&owned)
		return err == nil && owned
	}) {
		t.Fatalf("daemon did not re-own %s after the bus restarted:\n%s", secmondbus.BusName, d.stderr.String())
	}
	var evs []secmondbus.Event
	var newest uint64
	if err := conn.Object(secmondbus.BusName, secmondbus.ObjectPath).Call(secmondbus.Interface+"."+secmondbus.MethodGetEventsAfter, 0, last, uint32(0)).Store(&evs, &newest); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, ev := range evs {
		got[ev.Path] = true
	}
	for _, p := range during {
		if !got[p] {
			t.Errorf("replay after seq %d lacks %s (got %d events)", last, p, len(evs))
		}
	}
	// Losing the bus and getting it back are events too, on the socket.
	var lost, back bool
	for _, ev := range evs {
		if ev.Type == "MonitorStatus" && ev.Details["monitor"] == "dbus" {
			lost = lost || ev.Details["state"] == "degraded"
			back = back || ev.Details["state"] == "running"
		}
	}
	if !lost || !back {
		sock.until(func(ev event.Event) bool {
			if ev.Type == event.MonitorStatus && ev.Metadata["monitor"] == "dbus" {
				lost = lost || ev.Metadata["state"] == "degraded"
				back = back || ev.Metadata["state"] == "running"
			}
			return lost && back
		})
	}

}

// The shipped policy with the real daemon: a user outside group secmon may
// read properties but receives no Event and may not replay; a member may.
func TestDBusPolicyWithRealDaemon(t *testing.T) {
	if _, err := exec.LookPath("dbus-monitor"); err != nil {
		t.Skip("dbus-monitor is not installed (Debian package dbus-bin)")
	}
	e, bus, d := busDaemon(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody:", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	var secmonGID int
	if g, err := user.LookupGroup("secmon"); err == nil {
		secmonGID, _ = strconv.Atoi(g.Gid)
	}
	// reload changes [[watches]] each time: the filesystem monitor is
	// replaced and reports itself running, a PropertiesChanged everyone
	// may receive. (A reload that changes nothing restarts nothing.)
	reloads := 0
	reload := func() {
		reloads++
		e.writeConfig(t, fmt.Sprintf("\n[[watches]]\npath = %q\n", filepath.Join(e.dir, fmt.Sprint("reload-", reloads))))
		d.cmd.Process.Signal(syscall.SIGHUP)
	}

	for _, tt := range []struct {
		name   string
		groups []int
		member bool
	}{
		{"nobody", nil, false},
		{"member of secmon", []int{secmonGID}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.member && secmonGID == 0 {
				t.Skip("group secmon does not exist (bash .ci/setup creates it)")
			}
			as := func(name string, args ...string) *exec.Cmd {
				return dbustest.RunAs(t, uid, gid, tt.groups, name, args...)
			}
			if out, err := as("busctl", "--address="+bus.Address(), "get-property", secmondbus.BusName, secmondbus.ObjectPath, secmondbus.Interface, "Version").CombinedOutput(); err != nil {
				t.Fatalf("reading Version was refused: %v\n%s", err, out)
			}
			out, err := as("busctl", "--address="+bus.Address(), "call", secmondbus.BusName, secmondbus.ObjectPath, secmondbus.Interface, "GetEventsAfter", "tu", "0", "0").CombinedOutput()
			if tt.member && err != nil {
				t.Fatalf("a secmon member could not replay: %v\n%s", err, out)
			}
			if !tt.member && (err == nil || !strings.Contains(string(out), "denied")) {
				t.Fatalf("GetEventsAfter as nobody: %v %q, want access denied", err, out)
			}

			mon := as("dbus-monitor", "--address", bus.Address(), "sender='"+secmondbus.BusName+"'")
			var seen testutil.LockedBuffer
			mon.Stdout, mon.Stderr = &seen, &seen
			if err := mon.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { mon.Process.Kill(); mon.Wait() })
			// Wait until dbus-monitor listens.
			changes := func() int { return strings.Count(seen.String(), "member=PropertiesChanged") }
			var hup time.Time
			if !testutil.Until(15*time.Second, func() bool {
				if changes() > 0 {
					return true
				}
				if time.Since(hup) >= 100*time.Millisecond { // one reload at a time
					reload()
					hup = time.Now()
				}
				return false
			}) {
				t.Fatalf("dbus-monitor saw no PropertiesChanged:\n%s", seen.String())
			}
			// Then an event, in the hub before the next reload's status: the
			// sink emits in hub order, so once that PropertiesChanged is
			// seen the Event has had its chance.
			s := connect(t, e.socket)
			s.send(`{"replay_after":0}`)
			f := filepath.Join(e.tree, "policy-"+strings.ReplaceAll(tt.name, " ", "-"))
			os.WriteFile(f, nil, 0o644)
			s.until(pathIs(f))
			before := changes()
			reload()
			if !testutil.Until(15*time.Second, func() bool { return changes() > before }) {
				t.Fatalf("no PropertiesChanged after the event:\n%s", seen.String())
			}
			gotEvent := strings.Contains(seen.String(), "member=Event")
			if gotEvent != tt.member {
				t.Fatalf("received Event = %v, want %v:\n%s", gotEvent, tt.member, seen.String())
			}
		})
	}
}

// busctl introspect lists the contract's members.
func TestDBusBusctlIntrospect(t *testing.T) {
	if _, err := exec.LookPath("busctl"); err != nil {
		t.Skip("busctl is not installed (Debian package systemd)")
	}
	_, bus, _ := busDaemon(t)
	out, err := exec.Command("busctl", "--address="+bus.Address(), "introspect", secmondbus.BusName, secmondbus.ObjectPath, secmondbus.Interface).CombinedOutput()
	if err != nil {
		t.Fatalf("busctl introspect: %v\n%s", err, out)
	}
	for _, want := range []string{".Event", "signal", "txssssa{ss}", ".EventsCoalesced", ".GetEventsAfter", "tu", ".Monitors", "a(sss)", ".Version"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("busctl introspect lacks %q:\n%s", want, out)
		}
	}
}

// In user mode the daemon uses the session bus when there is one.
func TestDBusUserModeUsesSessionBus(t *testing.T) {
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon is not installed (Debian package dbus)")
	}
	bus := dbustest.StartSession(t)
	dir := shortTempDir(t)
	home := filepath.Join(dir, "home")
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	os.Mkdir(filepath.Join(dir, "rt"), 0o700)
	startDaemon(t, []string{"--user"}, append(bus.Env(), "HOME="+home, "XDG_RUNTIME_DIR="+filepath.Join(dir, "rt"), "XDG_STATE_HOME="+filepath.Join(dir, "state"))...)
	ch := signals(t, bus.Conn(t))
	keys := filepath.Join(home, ".ssh", "authorized_keys")
	os.WriteFile(keys, []byte("ssh-ed25519 AAAA"), 0o600)
	if ev := waitSignal(t, ch, func(ev secmondbus.Event) bool { return ev.Path == keys }); ev.Severity != "Critical" {
		t.Fatalf("got %+v, want a Critical SshAccess", ev)
	}
}

// A storm of Low and Medium events is folded into EventsCoalesced signals
// that count every folded event; High and Critical ones still come one by
// one, after the summary of what came before them.
func TestDBusStormIsCoalescedAndCounted(t *testing.T) {
	e, bus, _ := busDaemon(t)
	conn := bus.Conn(t)
	if err := conn.AddMatchSignal(dbus.WithMatchInterface(secmondbus.Interface)); err != nil {
		t.Fatal(err)
	}
	ch := make(chan *dbus.Signal, 8192)
	conn.Signal(ch)
	storm := filepath.Join(e.tree, "storm")
	os.Mkdir(storm, 0o755)
	const n = 2000
	for i := range n {
		os.WriteFile(filepath.Join(storm, strconv.Itoa(i)), nil, 0o644)
	}
	keys := filepath.Join(e.tree, ".ssh", "authorized_keys")
	os.MkdirAll(filepath.Dir(keys), 0o700)
	os.WriteFile(keys, nil, 0o600)

	individual, folded, summaries := 0, 0, 0
	deadline := time.After(20 * time.Second)
	for {
		var s *dbus.Signal
		select {
		case s = <-ch:
		case <-deadline:
			t.Fatalf("no Critical Event after the storm (individual %d, folded %d)", individual, folded)
		}
		switch s.Name {
		case secmondbus.SignalCoalescedMember:
			c, err := secmondbus.DecodeCoalesced(s.Body)
			if err != nil {
				t.Fatal(err)
			}
			summaries++
			folded += int(c.ByType["FileCreate"])
		case secmondbus.SignalEventMember:
			ev, err := secmondbus.DecodeEvent(s.Body)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Path == keys {
				if summaries == 0 || individual+folded < n {
					t.Fatalf("Critical event came with %d individual + %d folded of %d storm events before it (%d summaries)", individual, folded, n, summaries)
				}
				if individual >= n {
					t.Fatalf("all %d storm events were signalled one by one: nothing was coalesced", individual)
				}
				return
			}
			if ev.Type == "FileCreate" && strings.HasPrefix(ev.Path, storm+"/") {
				individual++
			}
		}
	}
}
