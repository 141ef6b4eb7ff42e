package dbus_test

import (
	"encoding/xml"
	"testing"

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
	sig := ""
	for _, s := range n.Interfaces[0].Signals {
		if s.Name == secmondbus.SignalEvent {
			for _, a := range s.Args {
				sig += a.Type
			}
		}
	}
	if sig != "txssssa{ss}" {
		t.Fatalf("Event signature %q, want txssssa{ss}", sig)
	}
}
