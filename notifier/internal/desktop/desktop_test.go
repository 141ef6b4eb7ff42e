package desktop_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/pantheros/secmon/dbus/dbustest"
	"github.com/pantheros/secmon/dbus/testutil"
	"github.com/pantheros/secmon/notifier/internal/desktop"
	"github.com/pantheros/secmon/notifier/internal/present"
)

const (
	path = "/org/freedesktop/Notifications"
	mock = "org.freedesktop.DBus.Mock"
)

// startMock runs python3-dbusmock's notification_daemon on bus until the
// test ends or stop is called, and returns once it owns the name.
func startMock(t *testing.T, bus *dbustest.Bus, params ...string) (stop func()) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import dbusmock").Run(); err != nil {
		t.Skip("python3-dbusmock is not installed (Debian package python3-dbusmock)")
	}
	cmd := exec.Command("/usr/bin/python3", append([]string{"-m", "dbusmock", "--session", "-t", "notification_daemon"}, params...)...)
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+bus.Address())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stop = func() {
		select {
		case <-done:
			return
		default:
		}
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
	}
	t.Cleanup(stop)
	conn := bus.Conn(t)
	testutil.WaitFor(t, dbustest.Timeout, "the mock owns its name", func() bool {
		var has bool
		conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, desktop.ServerName).Store(&has)
		return has
	})
	return stop
}

type call struct {
	replaces      uint32
	summary, body string
}

func calls(t *testing.T, conn *dbus.Conn) []call {
	t.Helper()
	var raw []struct {
		T    uint64
		Args []dbus.Variant
	}
	if err := conn.Object(desktop.ServerName, path).Call(mock+".GetMethodCalls", 0, "Notify").Store(&raw); err != nil {
		t.Fatal(err)
	}
	var out []call
	for _, r := range raw {
		out = append(out, call{r.Args[1].Value().(uint32), r.Args[3].Value().(string), r.Args[4].Value().(string)})
	}
	return out
}

func emit(t *testing.T, conn *dbus.Conn, member, sig string, args ...any) {
	t.Helper()
	if err := conn.Object(desktop.ServerName, path).Call(mock+".EmitSignal", 0, desktop.ServerName, member, sig, args).Err; err != nil {
		t.Fatal(err)
	}
}

func event(t *testing.T, d *desktop.Desktop, match func(desktop.Event) bool) desktop.Event {
	t.Helper()
	timeout := time.After(dbustest.Timeout)
	for {
		select {
		case ev := <-d.Events():
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatal("no such desktop event")
		}
	}
}

func TestDesktop(t *testing.T) {
	bus := dbustest.StartSession(t)
	d := desktop.New(desktop.Options{
		Connect:      func(opts ...dbus.ConnOption) (*dbus.Conn, error) { return dbus.Connect(bus.Address(), opts...) },
		AppName:      "Security monitor",
		DesktopEntry: "secmon-notifier",
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	// No server yet: held.
	if err := d.Show("a", present.Note{Summary: "held"}, nil); err == nil {
		t.Fatal("Show without a server said it showed")
	}
	stop := startMock(t, bus)
	conn := bus.Conn(t)
	event(t, d, func(e desktop.Event) bool { return e.ServerUp })
	if cs := calls(t, conn); len(cs) != 1 || cs[0].summary != "held" || cs[0].replaces != 0 {
		t.Fatalf("after the server came: %+v, want the held note", cs)
	}
	if !d.Markup() {
		t.Error("the template's body-markup capability was not seen")
	}

	// A key's updates replace its notification (the mock's first id is 1).
	d.Show("a", present.Note{Summary: "updated"}, []desktop.Action{{Key: "default", Label: "Details"}})
	if cs := calls(t, conn); cs[1].replaces != 1 {
		t.Fatalf("update: %+v, want replaces_id 1", cs[1])
	}

	// Actions come back under the key; malformed ones are dropped.
	emit(t, conn, "ActionInvoked", "ss", "1", "default")
	emit(t, conn, "NotificationClosed", "us", uint32(1), "x")
	emit(t, conn, "ActionInvoked", "us", uint32(1), "default")
	if ev := event(t, d, func(e desktop.Event) bool { return !e.ServerUp }); ev.Key != "a" || ev.Action != "default" {
		t.Fatalf("got %+v, want the action on a", ev)
	}

	// Once closed, an update starts a new notification.
	emit(t, conn, "NotificationClosed", "uu", uint32(1), uint32(2))
	event(t, d, func(e desktop.Event) bool { return e.Closed && e.Key == "a" })
	d.Show("a", present.Note{Summary: "after close"}, nil)
	if cs := calls(t, conn); cs[2].replaces != 0 {
		t.Fatalf("after close: %+v, want a new notification", cs[2])
	}

	// A new server knows nothing of the old one's ids.
	d.Show("b", present.Note{Summary: "b"}, nil)
	stop()
	startMock(t, bus)
	event(t, d, func(e desktop.Event) bool { return e.ServerUp })
	if err := d.Show("b", present.Note{Summary: "b again"}, nil); err != nil {
		t.Fatal(err)
	}
	if cs := calls(t, bus.Conn(t)); len(cs) != 1 || cs[0].replaces != 0 {
		t.Fatalf("on the new server: %+v, want one new notification", cs)
	}
}

// hostile is a body an attacker controls through a file name: a link, text
// that DankMaterialShell would decode into a tag, markdown.
const hostile = `<a href="https://evil.example/">Click to verify</a> &lt;b&gt;bold&lt;/b&gt; _name_`

func TestBody(t *testing.T) {
	for _, tt := range []struct {
		name   string
		markup bool
		in     string
		want   string
	}{
		{"markup: escaped, with a real tag first", true, hostile,
			`<b></b>&lt;a href="https://evil.example/"&gt;Click to verify&lt;/a&gt; &amp;lt;b&amp;gt;bold&amp;lt;/b&amp;gt; _name_`},
		{"markup: plain text gets the tag too", true, "Created /home/alice/_notes_", "<b></b>Created /home/alice/_notes_"},
		{"markup: empty stays empty", true, "", ""},
		{"no markup: as it is", false, hostile, hostile},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := desktop.Body(tt.in, tt.markup); got != tt.want {
				t.Errorf("Body(%q, %v)\n got %q\nwant %q", tt.in, tt.markup, got, tt.want)
			}
		})
	}
}

// A note held while no server ran is escaped for the server that shows it,
// when it is sent: one that renders body markup gets it escaped, one that
// does not gets it as it is.
func TestHeldNotesAreEscapedForTheServerThatShowsThem(t *testing.T) {
	bus := dbustest.StartSession(t)
	d := desktop.New(desktop.Options{
		Connect: func(opts ...dbus.ConnOption) (*dbus.Conn, error) { return dbus.Connect(bus.Address(), opts...) },
		AppName: "Security monitor",
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	d.Show("a", present.Note{Summary: "held", Body: hostile}, nil)
	stop := startMock(t, bus) // advertises body-markup
	event(t, d, func(e desktop.Event) bool { return e.ServerUp })
	if cs := calls(t, bus.Conn(t)); len(cs) != 1 || cs[0].body != desktop.Body(hostile, true) || !strings.HasPrefix(cs[0].body, "<b></b>&lt;a ") {
		t.Fatalf("on a server that renders markup: %+v", cs)
	}
	stop()

	d.Show("b", present.Note{Summary: "held again", Body: hostile}, nil)
	startMock(t, bus, "-p", `{"capabilities": "body actions"}`)
	event(t, d, func(e desktop.Event) bool { return e.ServerUp })
	if cs := calls(t, bus.Conn(t)); len(cs) != 1 || cs[0].body != hostile {
		t.Fatalf("on a server that shows text as it is: %+v", cs)
	}
}

// DankMaterialShell gets the Material Symbols icon as the image-path hint
// "material:<name>"; another server, which would look for a file of that
// name, gets none.
func TestMaterialIconOnlyForDankMaterialShell(t *testing.T) {
	for _, tt := range []struct {
		server string
		want   string
	}{
		{"DankMaterialShell", "material:videocam"},
		{"mock-notify", ""},
	} {
		t.Run(tt.server, func(t *testing.T) {
			bus := dbustest.StartSession(t)
			startMock(t, bus)
			conn := bus.Conn(t)
			if tt.server != "mock-notify" {
				if err := conn.Object(desktop.ServerName, path).Call(mock+".AddMethod", 0, "org.freedesktop.Notifications", "GetServerInformation", "", "ssss",
					`ret = ("`+tt.server+`", "AvengeMedia", "1.0", "1.2")`).Err; err != nil {
					t.Fatal(err)
				}
			}
			d := desktop.New(desktop.Options{
				Connect: func(opts ...dbus.ConnOption) (*dbus.Conn, error) { return dbus.Connect(bus.Address(), opts...) },
				AppName: "Security monitor",
			})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { d.Run(ctx); close(done) }()
			t.Cleanup(func() { cancel(); <-done })
			event(t, d, func(e desktop.Event) bool { return e.ServerUp })
			if err := d.Show("cam", present.Note{Summary: "Camera in use by Firefox", Body: "b", Icon: "camera-web-symbolic", Material: "videocam"}, nil); err != nil {
				t.Fatal(err)
			}
			var raw []struct {
				T    uint64
				Args []dbus.Variant
			}
			if err := conn.Object(desktop.ServerName, path).Call(mock+".GetMethodCalls", 0, "Notify").Store(&raw); err != nil || len(raw) != 1 {
				t.Fatalf("Notify calls %v (%v)", raw, err)
			}
			hints := raw[0].Args[6].Value().(map[string]dbus.Variant)
			got, _ := hints["image-path"].Value().(string)
			if got != tt.want || raw[0].Args[2].Value().(string) != "camera-web-symbolic" {
				t.Errorf("image-path %q, icon %v; want %q and camera-web-symbolic", got, raw[0].Args[2].Value(), tt.want)
			}
		})
	}
}

// A notifier that ended without closing its resident notices (a crash)
// leaves them on screen; the next one, on the same server, closes them (the
// app then shows again what is still true). On another server the ids are
// not its own and are left alone.
func TestLeftOverResidentNoticesAreClosed(t *testing.T) {
	bus := dbustest.StartSession(t)
	state := filepath.Join(t.TempDir(), "notifier-resident.json")
	startMock(t, bus)
	conn := bus.Conn(t)
	desk := func() (*desktop.Desktop, func()) {
		d := desktop.New(desktop.Options{
			Connect: func(opts ...dbus.ConnOption) (*dbus.Conn, error) { return dbus.Connect(bus.Address(), opts...) },
			AppName: "Security monitor", ResidentPath: state,
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { d.Run(ctx); close(done) }()
		event(t, d, func(e desktop.Event) bool { return e.ServerUp })
		return d, func() { cancel(); <-done }
	}
	closes := func() []uint32 {
		var raw []struct {
			T    uint64
			Args []dbus.Variant
		}
		if err := conn.Object(desktop.ServerName, path).Call(mock+".GetMethodCalls", 0, "CloseNotification").Store(&raw); err != nil {
			t.Fatal(err)
		}
		var ids []uint32
		for _, r := range raw {
			// The mock records the number as whatever integer it decoded.
			var id uint32
			fmt.Sscan(fmt.Sprint(r.Args[0].Value()), &id)
			ids = append(ids, id)
		}
		return ids
	}

	d, crash := desk()
	if err := d.Show("camera", present.Note{Summary: "Camera in use", Resident: true}, nil); err != nil {
		t.Fatal(err)
	}
	d.Show("file", present.Note{Summary: "a file"}, nil) // not resident: not closed
	crash()                                              // no CloseNotification on the way out
	if ids := closes(); len(ids) != 0 {
		t.Fatalf("closed %v before the next notifier started", ids)
	}

	_, stop := desk()
	defer stop()
	if ids := closes(); !slices.Equal(ids, []uint32{1}) {
		t.Fatalf("the next notifier closed %v, want [1] (the camera notice left on screen)", ids)
	}
}
