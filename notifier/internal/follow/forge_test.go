package follow_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/dbus/dbustest"
	"github.com/pantheros/secmon/notifier/internal/follow"
)

// forgerEnv makes the test binary the forger: an ordinary user's program
// that sends, to every connection on the bus, the signals an attacker
// would (see forge).
const forgerEnv = "SECMON_FOLLOW_FORGER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(forgerEnv); mode != "" {
		if err := forge(mode); err != nil {
			fmt.Fprintln(os.Stderr, "forger:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// forgedSeq is a seq no real event will reach: taken for real, every real
// event after it would look old and be dropped.
const forgedSeq = 1 << 60

// forge sends, unicast to every other connection (match rules do not
// filter those), what an attacker sends to take over or silence a
// notifier:
//   - takeover: NameOwnerChanged(org.pantheros.Secmon, "", <itself>), then an
//     Event with a huge seq, unicast and broadcast, and an EventsCoalesced;
//   - hide: NameOwnerChanged(org.pantheros.Secmon, <the real owner>, "").
//
// It ends with a call to the bus: the bus handles one connection's messages
// in order, so when the reply is here every forged signal was queued to its
// receivers.
func forge(mode string) error {
	conn, err := dbus.Connect(os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"))
	if err != nil {
		return err
	}
	defer conn.Close()
	self := conn.Names()[0]
	var names []string
	if err := conn.BusObject().Call("org.freedesktop.DBus.ListNames", 0).Store(&names); err != nil {
		return err
	}
	var owner string
	if err := conn.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, secmondbus.BusName).Store(&owner); err != nil {
		return err
	}
	forged := secmondbus.Event{Seq: forgedSeq, TimestampUsec: 1, Type: "SshKeyChange", Severity: "Critical",
		Path: "/root/.ssh/authorized_keys", Description: "forged", Details: map[string]string{}}
	send := func(dest string, path dbus.ObjectPath, iface, member string, body ...any) error {
		msg := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldPath:      dbus.MakeVariant(path),
			dbus.FieldInterface: dbus.MakeVariant(iface),
			dbus.FieldMember:    dbus.MakeVariant(member),
		}, Body: body}
		if dest != "" {
			msg.Headers[dbus.FieldDestination] = dbus.MakeVariant(dest)
		}
		if len(body) > 0 {
			msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(body...))
		}
		return conn.Send(msg, nil).Err
	}
	for _, dest := range append(names, "") {
		if dest != "" && (!strings.HasPrefix(dest, ":") || dest == self || dest == owner) {
			continue
		}
		var err error
		switch mode {
		case "takeover":
			if err = send(dest, "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameOwnerChanged", secmondbus.BusName, "", self); err != nil {
				break
			}
			// also as if from the contract's path, in case only the
			// interface were checked
			if err = send(dest, secmondbus.ObjectPath, "org.freedesktop.DBus", "NameOwnerChanged", secmondbus.BusName, "", self); err != nil {
				break
			}
			if err = send(dest, secmondbus.ObjectPath, secmondbus.Interface, secmondbus.SignalEvent, forged.Body()...); err != nil {
				break
			}
			err = send(dest, secmondbus.ObjectPath, secmondbus.Interface, secmondbus.SignalCoalesced,
				uint64(forgedSeq+1), uint64(forgedSeq+9), uint32(9), map[string]uint32{"FileCreate": 9})
		case "hide":
			err = send(dest, "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameOwnerChanged", secmondbus.BusName, owner, "")
		default:
			return fmt.Errorf("unknown mode %q", mode)
		}
		if err != nil {
			return fmt.Errorf("send to %q: %w", dest, err)
		}
	}
	var id string
	return conn.BusObject().Call("org.freedesktop.DBus.GetId", 0).Store(&id)
}

// runForger runs the forger as uid nobody with no groups, and waits for it.
func runForger(t *testing.T, bus *dbustest.Bus, mode string) {
	t.Helper()
	cmd := dbustest.RunAs(t, 65534, 65534, nil, dbustest.Executable(t), "-test.run=^$")
	cmd.Env = append(os.Environ(), forgerEnv+"="+mode, "DBUS_SYSTEM_BUS_ADDRESS="+bus.Address())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("forger (%s): %v\n%s", mode, err, out)
	}
}

// An ordinary user cannot take over the notifier's view of the daemon, nor
// make it ignore the daemon: on a bus with the shipped policy, uid nobody
// sends every connection a NameOwnerChanged naming itself the owner and a
// Critical Event with a huge seq, then a NameOwnerChanged saying the
// daemon left. Nothing forged is handed on, the daemon is never reported
// gone, and the daemon's next events still arrive.
func TestForgedOwnerAndEventsAreIgnored(t *testing.T) {
	bus := dbustest.StartSystemLike(t, "../../../dbus/org.pantheros.Secmon.conf")
	f := startFake(t, bus, ev(1, "Medium"))
	items := run(t, bus)
	seqsUntilUp(t, items)

	runForger(t, bus, "takeover")
	f.signal(ev(2, "Medium"))
	wantOnly(t, items, 2)

	runForger(t, bus, "hide")
	f.signal(ev(3, "High"))
	wantOnly(t, items, 3)
}

// wantOnly wants the next item to be the event seq: not a forged event or
// summary, not a status saying the daemon left.
func wantOnly(t *testing.T, items <-chan follow.Item, seq uint64) {
	t.Helper()
	it := next(t, items)
	switch {
	case it.Event != nil && it.Event.Seq == seq:
	case it.Event != nil:
		t.Fatalf("handed on event seq %d (%s), want seq %d", it.Event.Seq, it.Event.Description, seq)
	case it.Coalesced != nil:
		t.Fatalf("handed on a summary %+v, want event seq %d", *it.Coalesced, seq)
	default:
		t.Fatalf("handed on status %+v, want event seq %d", *it.Status, seq)
	}
}

// A seq that jumps beyond the daemon's LastSeq is not taken on the signal's
// word, even from the owner: taken, it would make every real event after
// it look old.
func TestSeqBeyondLastSeqIsIgnored(t *testing.T) {
	bus := dbustest.StartSession(t)
	f := startFake(t, bus, ev(1, "Medium"))
	items := run(t, bus)
	seqsUntilUp(t, items)
	f.emit(secmondbus.SignalEvent, ev(forgedSeq, "Critical").Body()...)
	f.emit(secmondbus.SignalCoalesced, uint64(forgedSeq+1), uint64(forgedSeq+9), uint32(9), map[string]uint32{"FileCreate": 9})
	f.signal(ev(2, "Medium"))
	wantOnly(t, items, 2)
	f.add(ev(3, "Low"))
	f.signal(ev(4, "High")) // a real jump, backed by LastSeq
	wantOnly(t, items, 4)
}
