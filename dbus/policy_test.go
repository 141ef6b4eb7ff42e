package dbus_test

// These tests prove the shipped policy, org.pantheros.Secmon.conf, on a
// real dbus-daemon configured like the system bus, without secmon: the test
// process (root) owns org.pantheros.Secmon and exports a stand-in object,
// and a copy of the test binary, run as nobody with or without group
// secmon, reports what the bus let it do.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/dbus/dbustest"
)

// A process started with policyChildEnv=1 is a policy child: it runs
// observe against its system bus and prints the report instead of running
// tests. Only the tests set it, on the copies they start; a child never
// starts another.
const policyChildEnv = "SECMON_DBUS_POLICY_CHILD"

// waitFor bounds every wait in these tests.
const waitFor = 15 * time.Second

const (
	accessDenied     = "org.freedesktop.DBus.Error.AccessDenied"
	propertiesIface  = "org.freedesktop.DBus.Properties"
	propertiesChange = propertiesIface + ".PropertiesChanged"
	testVersion      = "0.0.0-policy-test"
)

func TestMain(m *testing.M) {
	if os.Getenv(policyChildEnv) == "1" {
		os.Exit(policyChild())
	}
	os.Exit(m.Run())
}

// report is what a connection was allowed to do. Each *Err is "" when the
// call succeeded, else the D-Bus error name (or the Go error).
type report struct {
	UID, GID int
	Groups   []int

	OwnErr   string
	OwnReply dbus.RequestNameReply

	IntrospectErr string
	Introspected  bool // the reply describes the interface org.pantheros.Secmon1

	GetErr  string // Properties.Get of Version
	Version string

	GetAllErr string
	PingErr   string
	SetErr    string // Properties.Set of Version: read-only for everyone

	// Seqs of the Event signals, and last_seq of the EventsCoalesced
	// signals, received before the sentinel.
	Events    []uint64
	Coalesced []uint64
	// The sentinel: a PropertiesChanged the owner emits right after the
	// Event, which everyone may receive. A bus delivers one sender's
	// messages in order, so once it is here, an Event that was not is
	// withheld.
	Sentinel bool

	CallErr    string // GetEventsAfter(0, 0)
	InUseErr   string // GetDevicesInUse: who uses a camera is not for everyone
	CallEvents int
	CallLast   uint64
}

// observe tries on conn everything the policy decides about. It calls ready
// once it is subscribed to the signals, and then waits for the sentinel.
func observe(ctx context.Context, conn *dbus.Conn, ready func()) report {
	var rep report
	var reply uint32
	rep.OwnErr = errName(conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.RequestName", 0,
		secmondbus.BusName, dbus.NameFlagDoNotQueue).Store(&reply))
	rep.OwnReply = dbus.RequestNameReply(reply)

	obj := conn.Object(secmondbus.BusName, secmondbus.ObjectPath)
	var xmlData string
	rep.IntrospectErr = errName(obj.CallWithContext(ctx, "org.freedesktop.DBus.Introspectable.Introspect", 0).Store(&xmlData))
	rep.Introspected = strings.Contains(xmlData, `<interface name="`+secmondbus.Interface+`">`)
	var v dbus.Variant
	rep.GetErr = errName(obj.CallWithContext(ctx, propertiesIface+".Get", 0, secmondbus.Interface, "Version").Store(&v))
	rep.Version, _ = v.Value().(string)
	var all map[string]dbus.Variant
	rep.GetAllErr = errName(obj.CallWithContext(ctx, propertiesIface+".GetAll", 0, secmondbus.Interface).Store(&all))
	rep.PingErr = errName(obj.CallWithContext(ctx, "org.freedesktop.DBus.Peer.Ping", 0).Err)
	rep.SetErr = errName(obj.CallWithContext(ctx, propertiesIface+".Set", 0, secmondbus.Interface, "Version",
		dbus.MakeVariant("forged")).Err)

	sigs := make(chan *dbus.Signal, 64)
	conn.Signal(sigs)
	defer conn.RemoveSignal(sigs)
	for _, match := range [][]dbus.MatchOption{
		{dbus.WithMatchSender(secmondbus.BusName), dbus.WithMatchInterface(secmondbus.Interface),
			dbus.WithMatchMember(secmondbus.SignalEvent)},
		{dbus.WithMatchSender(secmondbus.BusName), dbus.WithMatchInterface(secmondbus.Interface),
			dbus.WithMatchMember(secmondbus.SignalCoalesced)},
		{dbus.WithMatchSender(secmondbus.BusName), dbus.WithMatchObjectPath(secmondbus.ObjectPath),
			dbus.WithMatchInterface(propertiesIface), dbus.WithMatchMember("PropertiesChanged")},
	} {
		if err := conn.AddMatchSignalContext(ctx, match...); err != nil {
			// Without the subscription the signal half proves nothing:
			// report no sentinel, which fails the test.
			rep.CallErr = "AddMatch: " + err.Error()
			return rep
		}
	}
	ready()
wait:
	for {
		select {
		case s := <-sigs:
			switch s.Name {
			case secmondbus.SignalEventMember:
				e, err := secmondbus.DecodeEvent(s.Body)
				if err != nil {
					rep.Events = append(rep.Events, 0)
					continue
				}
				rep.Events = append(rep.Events, e.Seq)
			case secmondbus.SignalCoalescedMember:
				c, err := secmondbus.DecodeCoalesced(s.Body)
				if err != nil {
					rep.Coalesced = append(rep.Coalesced, 0)
					continue
				}
				rep.Coalesced = append(rep.Coalesced, c.LastSeq)
			case propertiesChange:
				rep.Sentinel = true
				break wait
			}
		case <-ctx.Done():
			break wait
		}
	}

	var events []secmondbus.Event
	rep.CallErr = errName(obj.CallWithContext(ctx, secmondbus.Interface+"."+secmondbus.MethodGetEventsAfter, 0,
		uint64(0), uint32(0)).Store(&events, &rep.CallLast))
	rep.CallEvents = len(events)
	var inUse []secmondbus.Event
	rep.InUseErr = errName(obj.CallWithContext(ctx, secmondbus.Interface+"."+secmondbus.MethodGetDevicesInUse, 0).Store(&inUse))
	return rep
}

func errName(err error) string {
	var e dbus.Error
	var pe *dbus.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Name
	case errors.As(err, &pe):
		return pe.Name
	}
	return err.Error()
}

// policyChild runs observe on the system bus of its environment and prints
// "ready" when subscribed, then the report as JSON.
func policyChild() int {
	// Nothing a test starts may outlive it by much, whatever goes wrong.
	time.AfterFunc(2*waitFor, func() { os.Exit(99) })
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		fmt.Fprintln(os.Stderr, "policy child:", err)
		return 1
	}
	defer conn.Close()
	rep := observe(ctx, conn, func() { fmt.Println("ready") })
	rep.UID, rep.GID = os.Getuid(), os.Getgid()
	rep.Groups, _ = os.Getgroups()
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		fmt.Fprintln(os.Stderr, "policy child:", err)
		return 1
	}
	return 0
}

// secmonStandIn is the object at ObjectPath: GetEventsAfter keeps nothing.
type secmonStandIn struct {
	calls atomic.Int64
	last  atomic.Uint64
}

func (o *secmonStandIn) GetDevicesInUse() ([]secmondbus.Event, *dbus.Error) {
	return []secmondbus.Event{}, nil
}

func (o *secmonStandIn) GetEventsAfter(after uint64, max uint32) ([]secmondbus.Event, uint64, *dbus.Error) {
	o.calls.Add(1)
	return []secmondbus.Event{}, o.last.Load(), nil
}

type monitor struct{ Name, State, Why string }

// owner is the test's own connection that owns org.pantheros.Secmon.
type owner struct {
	conn  *dbus.Conn
	obj   *secmonStandIn
	props *prop.Properties
	seq   uint64
}

// own exports the stand-in and takes the name, which the policy lets root do.
func own(t *testing.T, bus *dbustest.Bus) *owner {
	t.Helper()
	o := &owner{conn: bus.Conn(t), obj: new(secmonStandIn)}
	if err := o.conn.Export(o.obj, secmondbus.ObjectPath, secmondbus.Interface); err != nil {
		t.Fatal(err)
	}
	if err := o.conn.Export(introspect.Introspectable(secmondbus.IntrospectXML), secmondbus.ObjectPath,
		"org.freedesktop.DBus.Introspectable"); err != nil {
		t.Fatal(err)
	}
	var err error
	o.props, err = prop.Export(o.conn, secmondbus.ObjectPath, prop.Map{secmondbus.Interface: {
		"Version":      {Value: testVersion, Emit: prop.EmitConst},
		"Monitors":     {Value: []monitor{{"fswatch", "running", ""}}, Emit: prop.EmitTrue},
		"EventCount":   {Value: uint64(0), Emit: prop.EmitFalse},
		"DroppedCount": {Value: uint64(0), Emit: prop.EmitFalse},
		"LastSeq":      {Value: uint64(0), Emit: prop.EmitFalse},
	}})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := o.conn.RequestName(secmondbus.BusName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("root cannot own %s: reply %v, %v", secmondbus.BusName, reply, err)
	}
	return o
}

// emit sends an Event and an EventsCoalesced (the interface's two signals)
// with the same seq, then the sentinel PropertiesChanged, and returns the
// seq.
func (o *owner) emit(t *testing.T) uint64 {
	t.Helper()
	o.seq++
	o.obj.last.Store(o.seq)
	e := secmondbus.Event{Seq: o.seq, TimestampUsec: time.Now().UnixMicro(), Type: "SshAccess", Severity: "Critical",
		Path: "/root/.ssh/authorized_keys", Description: "policy test", Details: map[string]string{"user": "root"}}
	if err := o.conn.Emit(secmondbus.ObjectPath, secmondbus.SignalEventMember, e.Body()...); err != nil {
		t.Fatal(err)
	}
	c := secmondbus.Coalesced{FirstSeq: o.seq, LastSeq: o.seq, Count: 1, ByType: map[string]uint32{"SshAccess": 1}}
	if err := o.conn.Emit(secmondbus.ObjectPath, secmondbus.SignalCoalescedMember, c.Body()...); err != nil {
		t.Fatal(err)
	}
	o.props.SetMust(secmondbus.Interface, "Monitors",
		[]monitor{{"fswatch", "degraded", fmt.Sprint("after event ", o.seq)}})
	return o.seq
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the policy lets only root (and user secmon) own the name, and running a client " +
			"as nobody needs root: run the tests as root")
	}
	for prog, pkg := range map[string]string{"dbus-daemon": "dbus", "setpriv": "util-linux"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("%s is not installed (Debian package %s): %v", prog, pkg, err)
		}
	}
}

// nobody is the uid of user nobody and the gid of group nogroup.
func nobody(t *testing.T) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody on this machine: %v", err)
	}
	g, err := user.LookupGroup("nogroup")
	if err != nil {
		t.Skipf("no group nogroup on this machine: %v", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(g.Gid)
	if err1 != nil || err2 != nil {
		t.Fatalf("nobody %q, nogroup %q: not numeric", u.Uid, g.Gid)
	}
	return uid, gid
}

// public checks what everyone may do, and may not.
func public(t *testing.T, rep report) {
	t.Helper()
	if rep.IntrospectErr != "" || !rep.Introspected {
		t.Errorf("Introspect: error %q, describes %s: %v; want allowed", rep.IntrospectErr,
			secmondbus.Interface, rep.Introspected)
	}
	if rep.GetErr != "" || rep.Version != testVersion {
		t.Errorf("Get Version = %q, error %q; want %q", rep.Version, rep.GetErr, testVersion)
	}
	if rep.GetAllErr != "" {
		t.Errorf("GetAll: %s; want allowed", rep.GetAllErr)
	}
	if rep.PingErr != "" {
		t.Errorf("Peer.Ping: %s; want allowed", rep.PingErr)
	}
	if rep.SetErr != accessDenied {
		t.Errorf("Properties.Set: error %q; want %s", rep.SetErr, accessDenied)
	}
	if !rep.Sentinel {
		t.Errorf("PropertiesChanged not received within %v; want it received (report %+v)", waitFor, rep)
	}
}

// TestPolicy proves who may do what with org.pantheros.Secmon under the
// shipped policy: root may do everything; anyone may introspect, read the
// properties, ping and receive PropertiesChanged, but not own the name, set
// a property, receive Event or EventsCoalesced or call GetEventsAfter; a
// member of group secmon may also receive the two and call GetEventsAfter.
func TestPolicy(t *testing.T) {
	requireRoot(t)
	bus := dbustest.StartSystemLike(t, "org.pantheros.Secmon.conf")
	o := own(t, bus)
	bin := dbustest.Executable(t)
	nobody, nogroup := nobody(t)

	t.Run("nobody", func(t *testing.T) {
		calls := o.obj.calls.Load()
		rep := runChild(t, bus, bin, nobody, nogroup, nil, o)
		if rep.UID != nobody || rep.GID != nogroup || len(rep.Groups) != 0 {
			t.Fatalf("child ran as uid %d gid %d groups %v; want %d %d none", rep.UID, rep.GID, rep.Groups, nobody, nogroup)
		}
		public(t, rep)
		if rep.OwnErr != accessDenied {
			t.Errorf("RequestName: error %q, reply %v; want %s", rep.OwnErr, rep.OwnReply, accessDenied)
		}
		if len(rep.Events) != 0 || len(rep.Coalesced) != 0 {
			t.Errorf("received Event %v, EventsCoalesced %v; want none", rep.Events, rep.Coalesced)
		}
		if rep.CallErr != accessDenied {
			t.Errorf("GetEventsAfter: error %q; want %s", rep.CallErr, accessDenied)
		}
		if rep.InUseErr != accessDenied {
			t.Errorf("GetDevicesInUse: error %q; want %s", rep.InUseErr, accessDenied)
		}
		if n := o.obj.calls.Load() - calls; n != 0 {
			t.Errorf("the bus delivered %d GetEventsAfter calls to the owner; want 0", n)
		}
	})

	t.Run("group secmon", func(t *testing.T) {
		g, err := user.LookupGroup("secmon")
		if err != nil {
			t.Skipf("no group secmon on this machine (.ci/setup test creates it): %v", err)
		}
		secmon, err := strconv.Atoi(g.Gid)
		if err != nil {
			t.Fatalf("group secmon: gid %q", g.Gid)
		}
		calls := o.obj.calls.Load()
		rep := runChild(t, bus, bin, nobody, nogroup, []int{secmon}, o)
		if rep.UID != nobody || rep.GID != nogroup || !slices.Equal(rep.Groups, []int{secmon}) {
			t.Fatalf("child ran as uid %d gid %d groups %v; want %d %d [%d]", rep.UID, rep.GID, rep.Groups,
				nobody, nogroup, secmon)
		}
		public(t, rep)
		// The group may read events, not pose as secmon.
		if rep.OwnErr != accessDenied {
			t.Errorf("RequestName: error %q, reply %v; want %s", rep.OwnErr, rep.OwnReply, accessDenied)
		}
		if !slices.Equal(rep.Events, []uint64{o.seq}) || !slices.Equal(rep.Coalesced, []uint64{o.seq}) {
			t.Errorf("received Event %v, EventsCoalesced %v; want [%d] each", rep.Events, rep.Coalesced, o.seq)
		}
		if rep.CallErr != "" || rep.CallEvents != 0 || rep.CallLast != o.seq {
			t.Errorf("GetEventsAfter = %d events, last %d, error %q; want 0, %d, allowed",
				rep.CallEvents, rep.CallLast, rep.CallErr, o.seq)
		}
		if rep.InUseErr != "" {
			t.Errorf("GetDevicesInUse: error %q; want allowed", rep.InUseErr)
		}
		if n := o.obj.calls.Load() - calls; n != 1 {
			t.Errorf("the owner answered %d GetEventsAfter calls; want 1", n)
		}
	})

	// The policy lets user secmon own the name, for a daemon run
	// unprivileged. The name is taken (by root), and with DoNotQueue the
	// bus says so instead of refusing; a denied request is refused first.
	t.Run("user secmon", func(t *testing.T) {
		u, err := user.Lookup("secmon")
		if err != nil {
			t.Skipf("no user secmon on this machine (nothing creates it; the daemon runs as root): %v", err)
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil {
			t.Fatalf("user secmon: uid %q gid %q", u.Uid, u.Gid)
		}
		rep := runChild(t, bus, bin, uid, gid, nil, o)
		public(t, rep)
		if rep.OwnErr != "" || rep.OwnReply != dbus.RequestNameReplyExists {
			t.Errorf("RequestName: reply %v, error %q; want %v", rep.OwnReply, rep.OwnErr, dbus.RequestNameReplyExists)
		}
	})

	t.Run("root", func(t *testing.T) {
		conn := bus.Conn(t)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		ready := make(chan struct{})
		done := make(chan report, 1)
		go func() { done <- observe(ctx, conn, func() { close(ready) }) }()
		var seq uint64
		select {
		case <-ready:
			seq = o.emit(t)
		case rep := <-done:
			t.Fatalf("root's connection did not subscribe: %+v", rep)
		}
		rep := <-done // observe's waits all end with ctx
		public(t, rep)
		// Allowed to own, as for user secmon.
		if rep.OwnErr != "" || rep.OwnReply != dbus.RequestNameReplyExists {
			t.Errorf("RequestName: reply %v, error %q; want %v", rep.OwnReply, rep.OwnErr, dbus.RequestNameReplyExists)
		}
		if !slices.Equal(rep.Events, []uint64{seq}) || !slices.Equal(rep.Coalesced, []uint64{seq}) {
			t.Errorf("received Event %v, EventsCoalesced %v; want [%d] each", rep.Events, rep.Coalesced, seq)
		}
		if rep.CallErr != "" || rep.CallLast != seq {
			t.Errorf("GetEventsAfter: last %d, error %q; want %d, allowed", rep.CallLast, rep.CallErr, seq)
		}
	})
}

// runChild runs the test binary as a policy child with the given
// credentials, has the owner emit once the child is subscribed, and
// returns the child's report. The child has ended when it returns.
func runChild(t *testing.T, bus *dbustest.Bus, bin string, uid, gid int, groups []int, o *owner) report {
	t.Helper()
	cmd := dbustest.RunAs(t, uid, gid, groups, bin)
	// A race-enabled child would otherwise linger a second after exiting.
	cmd.Env = append(append(os.Environ(), bus.Env()...), policyChildEnv+"=1",
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	// fail ends the child and the test.
	fail := func(format string, args ...any) {
		t.Helper()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err := <-exited
		t.Fatalf("%s\nchild: %v, stderr:\n%s", fmt.Sprintf(format, args...), err, stderr.String())
	}
	next := func(what string) string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				fail("child exited before %s", what)
			}
			return l
		case <-deadline.C:
			fail("no %s from the child within %v", what, waitFor)
		}
		return ""
	}

	if l := next(`"ready"`); l != "ready" {
		fail("child said %q, want ready", l)
	}
	o.emit(t)
	var rep report
	if l := next("report"); json.Unmarshal([]byte(l), &rep) != nil {
		fail("child said %q, want its report", l)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("child: %v, stderr:\n%s", err, stderr.String())
		}
	case <-deadline.C:
		fail("child did not exit within %v", waitFor)
	}
	return rep
}

// TestPolicyOverridesABroaderAllow proves the policy's own denies: a
// policy file read before it that lets anyone own any name and call any
// method (as a careless one might) still does not let nobody own
// org.pantheros.Secmon or call GetEventsAfter.
func TestPolicyOverridesABroaderAllow(t *testing.T) {
	requireRoot(t)
	uid, gid := nobody(t)
	careless := t.TempDir() + "/careless.conf"
	conf := `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy context="default">
    <allow own="*"/>
    <allow send_type="method_call"/>
  </policy>
</busconfig>
`
	if err := os.WriteFile(careless, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	bus := dbustest.StartSystemLike(t, careless, "org.pantheros.Secmon.conf")
	o := own(t, bus)
	calls := o.obj.calls.Load()
	rep := runChild(t, bus, dbustest.Executable(t), uid, gid, nil, o)
	if rep.OwnErr != accessDenied {
		t.Errorf("RequestName: error %q, reply %v; want %s", rep.OwnErr, rep.OwnReply, accessDenied)
	}
	if rep.CallErr != accessDenied {
		t.Errorf("GetEventsAfter: error %q; want %s", rep.CallErr, accessDenied)
	}
	if n := o.obj.calls.Load() - calls; n != 0 {
		t.Errorf("the bus delivered %d GetEventsAfter calls to the owner; want 0", n)
	}
	if !rep.Sentinel || len(rep.Events) != 0 || len(rep.Coalesced) != 0 {
		t.Errorf("received Event %v, EventsCoalesced %v, PropertiesChanged %v; want only PropertiesChanged",
			rep.Events, rep.Coalesced, rep.Sentinel)
	}
}

// TestActivationFile proves a system-like dbus-daemon parses the shipped
// activation file and lists org.pantheros.Secmon as activatable. (It checks
// the file name and User only when it activates, which needs the setuid
// helper and systemd; the test does not go that far.)
func TestActivationFile(t *testing.T) {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	// The test's own configuration adds the package directory, where the
	// file is, as a service directory.
	extra := t.TempDir() + "/servicedir.conf"
	conf := `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><servicedir>` + xmlText(dir) + `</servicedir></busconfig>
`
	if err := os.WriteFile(extra, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	bus := dbustest.StartSystemLike(t, "org.pantheros.Secmon.conf", extra)
	conn := bus.Conn(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var names []string
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.ListActivatableNames", 0).Store(&names); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, secmondbus.BusName) {
		t.Errorf("ListActivatableNames = %v; want %s among them", names, secmondbus.BusName)
	}
}

func xmlText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
