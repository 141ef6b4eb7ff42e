package dbus_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/godbus/dbus/v5"

	secmondbus "github.com/pantheros/secmon/dbus"
)

// wire encodes a signal named Event carrying body as it travels on the bus.
func wire(t testing.TB, body ...any) []byte {
	return wireSignal(t, secmondbus.SignalEvent, body...)
}

// wireSignal encodes a signal named member of the contract's interface.
func wireSignal(t testing.TB, member string, body ...any) []byte {
	msg := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:      dbus.MakeVariant(dbus.ObjectPath(secmondbus.ObjectPath)),
		dbus.FieldInterface: dbus.MakeVariant(secmondbus.Interface),
		dbus.FieldMember:    dbus.MakeVariant(member),
		dbus.FieldSender:    dbus.MakeVariant(":1.7"),
	}, Body: body}
	if len(body) > 0 {
		msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(body...))
	}
	var b bytes.Buffer
	if err := msg.EncodeTo(&b, binary.LittleEndian); err != nil {
		t.Fatal(err)
	}
	out := b.Bytes()
	binary.LittleEndian.PutUint32(out[8:12], 1) // the serial a connection would set
	return out
}

// Whatever arrives as an Event signal, decoding it never panics: a
// foreign sender, wrong argument types, a truncated message.
func FuzzDecodeEvent(f *testing.F) {
	good := secmondbus.Event{Seq: 42, TimestampUsec: 1758810645123000, Type: "CameraAccess", Severity: "High",
		Path: "/dev/video0", Description: "Camera in use", Details: map[string]string{"pid": "4242", "comm": "firefox"}}
	f.Add(wire(f, good.Body()...))
	f.Add(wire(f, uint64(1), "not a timestamp", "x", "y", "z", "w", map[string]string{}))
	f.Add(wire(f, uint64(1)))
	f.Add(wire(f))
	f.Add(wire(f, good.Body()...)[:40])
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, err := dbus.DecodeMessage(bytes.NewReader(raw))
		if err != nil || msg.Type != dbus.TypeSignal {
			return
		}
		e, err := secmondbus.DecodeEvent(msg.Body)
		if err == nil && len(msg.Body) != 7 {
			t.Fatalf("decoded %+v from a body of %d arguments", e, len(msg.Body))
		}
	})
}

// Whatever arrives as an EventsCoalesced signal, decoding it never panics,
// and what decodes is a seq range.
func FuzzDecodeCoalesced(f *testing.F) {
	good := secmondbus.Coalesced{FirstSeq: 201, LastSeq: 999, Count: 790, ByType: map[string]uint32{"FileCreate": 790}}
	f.Add(wireSignal(f, secmondbus.SignalCoalesced, good.Body()...))
	f.Add(wireSignal(f, secmondbus.SignalCoalesced, uint64(9), uint64(1), uint32(1), map[string]uint32{}))
	f.Add(wireSignal(f, secmondbus.SignalCoalesced, uint64(1), uint64(2), uint64(1), map[string]uint32{}))
	f.Add(wireSignal(f, secmondbus.SignalCoalesced, good.Body()...)[:40])
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg, err := dbus.DecodeMessage(bytes.NewReader(raw))
		if err != nil || msg.Type != dbus.TypeSignal {
			return
		}
		c, err := secmondbus.DecodeCoalesced(msg.Body)
		if err == nil && (len(msg.Body) != 4 || c.FirstSeq == 0 || c.LastSeq < c.FirstSeq) {
			t.Fatalf("decoded %+v from a body of %d arguments", c, len(msg.Body))
		}
	})
}

// The seed that is a real Event decodes to what was sent.
func TestDecodeEventFromTheWire(t *testing.T) {
	want := secmondbus.Event{Seq: 42, TimestampUsec: 1758810645123000, Type: "CameraAccess", Severity: "High",
		Path: "/dev/video0", Description: "Camera in use", Details: map[string]string{"pid": "4242"}}
	msg, err := dbus.DecodeMessage(bytes.NewReader(wire(t, want.Body()...)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := secmondbus.DecodeEvent(msg.Body)
	if err != nil || got.Seq != want.Seq || got.Path != want.Path || got.Details["pid"] != "4242" {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
	if _, err := secmondbus.DecodeEvent([]any{uint64(1), "x"}); err == nil {
		t.Fatal("a body of 2 arguments decoded")
	}
}
