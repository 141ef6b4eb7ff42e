package pwgraph_test

import (
	"os"
	"reflect"
	"testing"

	"github.com/pantheros/secmon/service/internal/pwgraph"
)

func TestLinked(t *testing.T) {
	dump, err := os.ReadFile("testdata/laptop.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		device string
		want   []pwgraph.Client
	}{
		// The pid is PipeWire's peer credential, not the app's own claim.
		{"/dev/snd/pcmC0D0c", []pwgraph.Client{{PID: 4242, Name: "Firefox", Binary: "firefox", Stream: "Firefox"}}},
		{"/dev/snd/pcmC0D0p", nil}, // playback is no microphone
		{"/dev/snd/pcmC1D0c", nil}, // no such node
		// Card numbers written as JSON numbers; the stream is a filter's.
		{"/dev/snd/pcmC2D0c", []pwgraph.Client{{Stream: "echo-cancel-capture"}}},
		{"/dev/video0", []pwgraph.Client{{PID: 5151, Name: "OBS Studio", Binary: "obs", Stream: "obs-camera"}}},
		{"/dev/video2", nil},
	} {
		got, err := pwgraph.Linked(dump, tc.device)
		if err != nil {
			t.Fatalf("%s: %v", tc.device, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.device, got, tc.want)
		}
	}
}

func TestLinkedRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "{", `{"id":1}`, "[1,2]"} {
		if _, err := pwgraph.Linked([]byte(in), "/dev/video0"); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestBroker(t *testing.T) {
	for _, tc := range []struct{ comm, exe, want string }{
		{"pipewire", "/usr/bin/pipewire", "pipewire"},
		{".pipewire-wrapp", "/nix/store/abc-pipewire-1.2.7/bin/.pipewire-wrapped", "pipewire"},
		{"wireplumber", "", "wireplumber"},
		{"firefox", "/usr/lib/firefox/firefox", ""},
		{"pipewire-fake", "/tmp/pipewire-fake", ""},
		{"", "", ""},
	} {
		if got := pwgraph.Broker(tc.comm, tc.exe); got != tc.want {
			t.Errorf("Broker(%q, %q) = %q, want %q", tc.comm, tc.exe, got, tc.want)
		}
	}
}

func FuzzLinked(f *testing.F) {
	b, _ := os.ReadFile("testdata/laptop.json")
	f.Add(b, "/dev/snd/pcmC0D0c")
	f.Add([]byte(`[{"id":1,"type":"PipeWire:Interface:Link","info":{"output-node-id":1,"input-node-id":1}}]`), "/dev/video0")
	f.Fuzz(func(t *testing.T, dump []byte, device string) {
		pwgraph.Linked(dump, device)
	})
}
