package replaystore_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/hub"
	"github.com/pantheros/secmon/service/internal/replaystore"
)

// logged runs a Log on dir as a hub subscriber, publishes evs, and stops
// it (as a clean stop does); it returns the hub.
func logged(t *testing.T, dir string, limit int, evs ...event.Event) *hub.Hub {
	t.Helper()
	h := hub.New(hub.Options{})
	l, err := replaystore.Open(dir, limit, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sub := h.Subscribe(hub.SubOptions{Name: "replay log", Queue: 1024})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx, sub); close(done) }()
	for _, e := range evs {
		h.Publish(e)
	}
	cancel()
	<-done
	return h
}

func TestLogThenLoad(t *testing.T) {
	dir := t.TempDir()
	if evs, err := replaystore.Load(dir); evs != nil || err != nil {
		t.Fatalf("nothing kept yet: got %v, %v", evs, err)
	}
	in := []event.Event{
		{Time: time.Date(2025, 9, 25, 14, 30, 45, 0, time.UTC), Type: event.CameraAccess, Severity: event.High, Path: "/dev/video0",
			Description: "Camera in use", Metadata: map[string]string{"attribution": "fanotify"}, Process: &event.Process{PID: 42, Comm: "firefox", UID: 1000}},
		{Time: time.Date(2025, 9, 25, 14, 31, 0, 0, time.UTC), Type: event.CameraReleased, Severity: event.Medium, Path: "/dev/video0", Description: "released"},
	}
	logged(t, dir, 100, in...)
	fi, err := os.Stat(filepath.Join(dir, replaystore.File))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("log %v, %v; want mode 0600", fi, err)
	}
	out, err := replaystore.Load(dir)
	if err != nil || len(out) != 2 || out[0].Seq != 1 || out[0].Process.Comm != "firefox" || out[1].Seq != 2 || !out[0].Time.Equal(in[0].Time) {
		t.Fatalf("loaded %+v, %v; want what was published", out, err)
	}
}

// The log turns over at the buffer's size and keeps one old file: at
// least the newest buffer's worth, at most twice.
func TestLogTurnsOver(t *testing.T) {
	dir := t.TempDir()
	var evs []event.Event
	for range 8 {
		evs = append(evs, event.Event{Type: event.FileCreate, Severity: event.Medium, Path: "/x"})
	}
	logged(t, dir, 3, evs...)
	out, err := replaystore.Load(dir)
	var seqs []uint64
	for _, e := range out {
		seqs = append(seqs, e.Seq)
	}
	if err != nil || !slices.Equal(seqs, []uint64{4, 5, 6, 7, 8}) {
		t.Fatalf("kept %v (%v), want 4..8", seqs, err)
	}
}

// A line cut short by a crash is dropped without a word, and the next run
// appends after it cleanly.
func TestLineCutShortByACrash(t *testing.T) {
	dir := t.TempDir()
	good := `{"timestamp":"2025-09-25T14:30:45.000Z","seq":3,"event_type":{"type":"FileCreate"},"path":"/x","details":{"severity":"Medium","description":"d","metadata":{}}}`
	os.WriteFile(filepath.Join(dir, replaystore.File), []byte(good+"\n"+good[:40]), 0o600)
	if evs, err := replaystore.Load(dir); err != nil || len(evs) != 1 || evs[0].Seq != 3 {
		t.Fatalf("loaded %+v, %v; want seq 3 alone, no error", evs, err)
	}
	logged(t, dir, 100, event.Event{Type: event.FileCreate, Severity: event.Medium, Path: "/y"})
	evs, err := replaystore.Load(dir)
	if len(evs) != 2 || evs[1].Path != "/y" {
		t.Fatalf("after the next run: %+v, %v; want seq 3 and the new event", evs, err)
	}
	if err == nil || !strings.Contains(err.Error(), replaystore.File+":2:") {
		t.Errorf("the cut line, now ended, is not named: %v", err)
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

func TestOpenInAnUnwritableDirectoryFails(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes anywhere: the read-only case needs an ordinary user")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	if _, err := replaystore.Open(dir, 10, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "cannot keep the events for replay") {
		t.Fatalf("got %v, want a clear error", err)
	}
}
