package replaystore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/replaystore"
)

func TestSaveThenLoad(t *testing.T) {
	dir := t.TempDir()
	if evs, err := replaystore.Load(dir); evs != nil || err != nil {
		t.Fatalf("nothing saved yet: got %v, %v", evs, err)
	}
	in := []event.Event{
		{Seq: 7, Time: time.Date(2025, 9, 25, 14, 30, 45, 0, time.UTC), Type: event.CameraAccess, Severity: event.High, Path: "/dev/video0",
			Description: "Camera in use", Metadata: map[string]string{"attribution": "fanotify"}, Process: &event.Process{PID: 42, Comm: "firefox", UID: 1000}},
		{Seq: 9, Time: time.Date(2025, 9, 25, 14, 31, 0, 0, time.UTC), Type: event.CameraReleased, Severity: event.Medium, Path: "/dev/video0", Description: "released"},
	}
	if err := replaystore.Save(dir, in); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, replaystore.File))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store %v, %v; want mode 0600", fi, err)
	}
	out, err := replaystore.Load(dir)
	if err != nil || len(out) != 2 || out[0].Seq != 7 || out[0].Process.Comm != "firefox" || out[1].Seq != 9 || !out[0].Time.Equal(in[0].Time) {
		t.Fatalf("loaded %+v, %v; want what was saved", out, err)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(matches) != 1 {
		t.Fatalf("temporary files left behind: %v", matches)
	}
}

// Damaged lines are skipped and named; the good ones still load.
func TestDamagedLinesAreNamed(t *testing.T) {
	dir := t.TempDir()
	good := `{"timestamp":"2025-09-25T14:30:45.000Z","seq":3,"event_type":{"type":"FileCreate"},"path":"/x","details":{"severity":"Medium","description":"d","metadata":{}}}`
	os.WriteFile(filepath.Join(dir, replaystore.File), []byte(good+"\nnot json\n"+strings.Replace(good, `"seq":3`, `"seq":0`, 1)+"\n"+strings.Replace(good, `"seq":3`, `"seq":4`, 1)+"\n"), 0o600)
	evs, err := replaystore.Load(dir)
	if len(evs) != 2 || evs[0].Seq != 3 || evs[1].Seq != 4 {
		t.Fatalf("loaded %+v, want seq 3 and 4", evs)
	}
	for _, want := range []string{replaystore.File + ":2:", replaystore.File + ":3: no seq"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}
}

func TestSaveIntoAnUnwritableDirectoryFails(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes anywhere: the read-only case needs an ordinary user")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	if err := replaystore.Save(dir, nil); err == nil || !strings.Contains(err.Error(), "cannot keep the events for replay") {
		t.Fatalf("got %v, want a clear error", err)
	}
}
