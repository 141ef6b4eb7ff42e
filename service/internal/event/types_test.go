package event_test

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/event"
)

// The README's table documents every type exactly as the code defines it.
func TestReadmeTableMatchesTypes(t *testing.T) {
	f, err := os.Open("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows[strings.Trim(cells[0], "`")] = cells
	}
	for _, ti := range event.Types {
		row, ok := rows[string(ti.Type)]
		if !ok {
			t.Errorf("README has no row for %s", ti.Type)
			continue
		}
		want := []string{"`" + string(ti.Type) + "`", ti.DefaultSeverity.String(), ti.Meaning, strings.Join(ti.MetadataKeys, ", ")}
		if strings.Join(row, " | ") != strings.Join(want, " | ") {
			t.Errorf("README row for %s\n got %q\nwant %q", ti.Type, row, want)
		}
	}
}

func TestTypeTableIsConsistent(t *testing.T) {
	ids := map[string]event.Type{}
	for _, ti := range event.Types {
		if len(ti.MessageID) != 32 {
			t.Errorf("%s: MESSAGE_ID %q is not 128 bits of hex", ti.Type, ti.MessageID)
		}
		if other, dup := ids[ti.MessageID]; dup {
			t.Errorf("%s and %s share MESSAGE_ID %s", ti.Type, other, ti.MessageID)
		}
		ids[ti.MessageID] = ti.Type
	}
	for _, seed := range []event.Type{"FileCreate", "FileModify", "FileDelete", "FileAccess", "CameraAccess", "MicrophoneAccess", "SshAccess", "NetworkConnection", "UsbDeviceInserted", "PortScanDetected", "CustomMessage"} {
		if event.Info(seed) == nil {
			t.Errorf("the seed's type %s is missing", seed)
		}
	}
}

func TestJSONRoundTripAndShape(t *testing.T) {
	e := event.Event{
		Seq: 42, Time: time.Date(2025, 9, 25, 14, 30, 45, 123999999, time.FixedZone("CEST", 7200)),
		Type: event.CameraAccess, Path: "/dev/video0", Severity: event.High, Description: "d",
		Process: &event.Process{PID: 4242, Comm: "firefox", UID: 1000, User: "alice"},
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"timestamp":"2025-09-25T12:30:45.123Z","seq":42,"event_type":{"type":"CameraAccess"},"path":"/dev/video0","details":{"severity":"High","description":"d","metadata":{}},"process":{"pid":4242,"comm":"firefox","uid":1000,"user":"alice"}}`
	if string(b) != want {
		t.Fatalf("\n got %s\nwant %s", b, want)
	}
	var back event.Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Seq != 42 || back.Type != event.CameraAccess || back.Process.Comm != "firefox" || !back.Time.Equal(e.Time.Truncate(time.Millisecond)) {
		t.Fatalf("round trip gave %+v", back)
	}
}

func TestSeverity(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want event.Severity
		prio int
	}{{"low", event.Low, 6}, {"Medium", event.Medium, 4}, {"HIGH", event.High, 3}, {"Critical", event.Critical, 2}} {
		s, err := event.ParseSeverity(tt.in)
		if err != nil || s != tt.want || s.JournalPriority() != tt.prio {
			t.Errorf("ParseSeverity(%q) = %v, %v (priority %d); want %v, priority %d", tt.in, s, err, s.JournalPriority(), tt.want, tt.prio)
		}
	}
	if _, err := event.ParseSeverity("Severe"); err == nil {
		t.Error("ParseSeverity accepted Severe")
	}
}
