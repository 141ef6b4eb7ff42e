package dbus_test

import (
	"encoding/xml"
	"maps"
	"slices"
	"testing"

	"github.com/godbus/dbus/v5"

	secmondbus "github.com/pantheros/secmon/dbus"
)

func TestEventRoundTrip(t *testing.T) {
	e := secmondbus.Event{Seq: 7, TimestampUsec: 1_700_000_000_123_456, Type: "SshAccess", Severity: "Critical",
		Path: "/root/.ssh/authorized_keys", Description: "d", Details: map[string]string{"pid": "42"}}
	got, err := secmondbus.DecodeEvent(e.Body())
	if err != nil || got.Seq != 7 || got.Details["pid"] != "42" || got.Time().UnixMicro() != e.TimestampUsec {
		t.Fatalf("DecodeEvent(Body()) = %+v, %v", got, err)
	}
}

func TestDecodeRejectsForeignBodies(t *testing.T) {
	for _, body := range [][]any{
		nil,
		{uint64(1)},
		{"1", int64(0), "", "", "", "", map[string]string{}},
		{uint64(1), int64(0), "", "", "", "", map[string]any{}},
	} {
		if _, err := secmondbus.DecodeEvent(body); err == nil {
			t.Errorf("DecodeEvent(%v) accepted a foreign body", body)
		}
	}
}

func TestCoalescedRoundTrip(t *testing.T) {
	c := secmondbus.Coalesced{FirstSeq: 3, LastSeq: 9, Count: 6, ByType: map[string]uint32{"FileCreate": 4, "FileModify": 2}}
	got, err := secmondbus.DecodeCoalesced(c.Body())
	if err != nil || got.FirstSeq != 3 || got.LastSeq != 9 || got.Count != 6 || len(got.ByType) != 2 || got.ByType["FileModify"] != 2 {
		t.Fatalf("DecodeCoalesced(Body()) = %+v, %v", got, err)
	}
	if b := (secmondbus.Coalesced{FirstSeq: 1, LastSeq: 1}).Body(); b[3] == nil {
		t.Fatal("a nil ByType is sent as nil, not as an empty a{su}")
	}
}

func TestDecodeCoalescedRejectsForeignBodies(t *testing.T) {
	for _, tt := range []struct {
		name string
		body []any
	}{
		{"empty", nil},
		{"short", []any{uint64(1), uint64(2), uint32(1)}},
		{"long", []any{uint64(1), uint64(2), uint32(1), map[string]uint32{}, "x"}},
		{"first seq not t", []any{int64(1), uint64(2), uint32(1), map[string]uint32{}}},
		{"count not u", []any{uint64(1), uint64(2), uint64(1), map[string]uint32{}}},
		{"by_type not a{su}", []any{uint64(1), uint64(2), uint32(1), map[string]uint64{}}},
		{"seq 0", []any{uint64(0), uint64(2), uint32(1), map[string]uint32{}}},
		{"range backwards", []any{uint64(5), uint64(4), uint32(1), map[string]uint32{}}},
	} {
		if c, err := secmondbus.DecodeCoalesced(tt.body); err == nil {
			t.Errorf("%s: DecodeCoalesced(%v) accepted a foreign body as %+v", tt.name, tt.body, c)
		}
	}
}

// The names are the contract's: every type once, the severities in order.
func TestNames(t *testing.T) {
	types := secmondbus.Types()
	if len(types) != 24 {
		t.Errorf("%d types, want 24", len(types))
	}
	seen := map[string]bool{}
	for _, typ := range types {
		if seen[typ] || !secmondbus.KnownType(typ) {
			t.Errorf("type %q: listed twice or not known", typ)
		}
		seen[typ] = true
	}
	for _, typ := range []string{"", "filecreate", "Camera", "FileCreate "} {
		if secmondbus.KnownType(typ) {
			t.Errorf("KnownType(%q) is true", typ)
		}
	}
	types[0] = "Mutated"
	if secmondbus.Types()[0] != secmondbus.TypeFileCreate || secmondbus.KnownType("Mutated") {
		t.Error("changing the returned list changed the contract")
	}
	if got := secmondbus.Severities(); !slices.Equal(got, []string{"Low", "Medium", "High", "Critical"}) {
		t.Errorf("Severities() = %q", got)
	}
}

func TestXMLDeclaresTheContract(t *testing.T) {
	var n struct {
		Interfaces []struct {
			Name    string `xml:"name,attr"`
			Signals []struct {
				Name string `xml:"name,attr"`
				Args []struct {
					Type string `xml:"type,attr"`
				} `xml:"arg"`
			} `xml:"signal"`
		} `xml:"interface"`
	}
	if err := xml.Unmarshal([]byte(secmondbus.IntrospectXML), &n); err != nil {
		t.Fatal(err)
	}
	if len(n.Interfaces) != 1 || n.Interfaces[0].Name != secmondbus.Interface {
		t.Fatalf("interfaces %+v, want only %s", n.Interfaces, secmondbus.Interface)
	}
	sigs := map[string]string{}
	for _, s := range n.Interfaces[0].Signals {
		for _, a := range s.Args {
			sigs[s.Name] += a.Type
		}
	}
	// The Go types of Body() are what the XML declares.
	want := map[string]string{
		secmondbus.SignalEvent:     dbus.SignatureOf(secmondbus.Event{}.Body()...).String(),
		secmondbus.SignalCoalesced: dbus.SignatureOf(secmondbus.Coalesced{}.Body()...).String(),
	}
	if want[secmondbus.SignalEvent] != "txssssa{ss}" || want[secmondbus.SignalCoalesced] != "ttua{su}" {
		t.Fatalf("Body() signatures %v", want)
	}
	if !maps.Equal(sigs, want) {
		t.Fatalf("the XML declares the signals %v, want %v", sigs, want)
	}
}
