package jsonsock_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pantheros/secmon/dbus/testutil"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/hub"
	"github.com/pantheros/secmon/service/internal/jsonsock"
)

type fixture struct {
	path string
	hub  *hub.Hub
	srv  *jsonsock.Server
}

func start(t *testing.T, queue int) *fixture {
	t.Helper()
	return startMax(t, queue, 0)
}

// startMax serves at most max clients at once (0: the default).
func startMax(t *testing.T, queue, max int) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "secmon.sock")
	l, err := jsonsock.Listen(jsonsock.ListenOptions{Path: path, Mode: 0o660, DirMode: 0o755})
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(hub.Options{})
	srv := jsonsock.New(l, h, queue, slog.New(slog.DiscardHandler))
	srv.MaxClients = max
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &fixture{path: path, hub: h, srv: srv}
}

type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (f *fixture) dial(t *testing.T) *client {
	t.Helper()
	c, err := net.Dial("unix", f.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, conn: c, r: bufio.NewReaderSize(c, 1<<20)}
}

// waitClients waits until the server has registered n clients, so that
// events published next reach them.
func (f *fixture) waitClients(t *testing.T, n int) {
	t.Helper()
	testutil.WaitFor(t, 5*time.Second, "the server having "+strconv.Itoa(n)+" clients", func() bool { return f.srv.Clients() == n })
}

func (c *client) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, line+"\n"); err != nil {
		c.t.Fatal(err)
	}
}

// line reads one line within the deadline and decodes it.
func (c *client) line() map[string]any {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := c.r.ReadBytes('\n')
	if err != nil {
		c.t.Fatalf("reading a line: %v (got %q)", err, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("line %q is not JSON: %v", b, err)
	}
	return m
}

func (c *client) event() event.Event {
	c.t.Helper()
	m := c.line()
	b, _ := json.Marshal(m)
	var e event.Event
	if err := json.Unmarshal(b, &e); err != nil {
		c.t.Fatalf("line %s is not an event: %v", b, err)
	}
	return e
}

func TestEventLineHasTheSeedShape(t *testing.T) {
	f := start(t, 64)
	c := f.dial(t)
	f.waitClients(t, 1)
	f.hub.Publish(event.Event{
		Time: time.Date(2025, 9, 25, 14, 30, 45, 123456789, time.UTC),
		Type: event.CameraAccess, Path: "/dev/video0", Severity: event.High,
		Description: "Camera device access detected: /dev/video0",
		Metadata:    map[string]string{"mask": "OPEN | ACCESS"},
	})
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := c.r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	want := `{"timestamp":"2025-09-25T14:30:45.123Z","seq":1,"event_type":{"type":"CameraAccess"},"path":"/dev/video0","details":{"severity":"High","description":"Camera device access detected: /dev/video0","metadata":{"mask":"OPEN | ACCESS"}}}` + "\n"
	if got != want {
		t.Fatalf("line\n got %s\nwant %s", got, want)
	}
}

func TestClientWritesAreNeverBroadcast(t *testing.T) {
	f := start(t, 64)
	forger, reader := f.dial(t), f.dial(t)
	f.waitClients(t, 2)
	forged := `{"timestamp":"2025-01-01T00:00:00.000Z","event_type":{"type":"CustomMessage"},"path":"/forged","details":{"severity":"Critical","description":"forged","metadata":{}}}`
	forger.send(forged)
	if m := forger.line(); !strings.Contains(m["error"].(string), "bad request") {
		t.Fatalf("forger got %v, want an error line", m)
	}
	f.hub.Publish(event.Event{Type: event.FileCreate, Path: "/real"})
	if e := reader.event(); e.Path != "/real" {
		t.Fatalf("reader got %+v first, want the real event (the forged line leaked?)", e)
	}
}

// Requests are synchronised through replay: the filter and the replay are
// applied together, so once the replayed sentinel arrives the filter is in
// force for live events too.
func TestRequests(t *testing.T) {
	tests := []struct {
		name    string
		request string
		want    []string // paths received, in order, replayed then live
		wantErr string
	}{
		{"min severity", `{"replay_after":1,"min_severity":"High"}`, []string{"/high", "/critical", "/live-high", "/live-ssh"}, ""},
		{"types", `{"replay_after":1,"types":["SshAccess"]}`, []string{"/critical", "/live-ssh"}, ""},
		{"replay everything", `{"replay_after":0}`, []string{"/old", "/low", "/high", "/critical", "/live-low", "/live-high", "/live-ssh"}, ""},
		{"bad severity", `{"min_severity":"Hgh"}`, nil, "min_severity"},
		{"unknown type", `{"types":["Nope"]}`, nil, "unknown event type Nope"},
		{"unknown key", `{"replay":1}`, nil, "unknown field"},
		{"not json", `hello`, nil, "bad request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := start(t, 64)
			f.hub.Publish(event.Event{Type: event.FileCreate, Path: "/old", Severity: event.Low})
			f.hub.Publish(event.Event{Type: event.FileModify, Path: "/low", Severity: event.Low})
			f.hub.Publish(event.Event{Type: event.FileCreate, Path: "/high", Severity: event.High})
			f.hub.Publish(event.Event{Type: event.SshAccess, Path: "/critical", Severity: event.Critical})
			f.hub.Publish(event.Event{Type: event.SshAccess, Path: "/sentinel", Severity: event.Critical})
			c := f.dial(t)
			f.waitClients(t, 1)
			c.send(tt.request)
			if tt.wantErr != "" {
				m := c.line()
				if msg, _ := m["error"].(string); !strings.Contains(msg, tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", m, tt.wantErr)
				}
				return
			}
			var got []string
			for {
				e := c.event()
				if e.Path == "/sentinel" {
					break
				}
				got = append(got, e.Path)
			}
			f.hub.Publish(event.Event{Type: event.FileModify, Path: "/live-low", Severity: event.Low})
			f.hub.Publish(event.Event{Type: event.FileCreate, Path: "/live-high", Severity: event.High})
			f.hub.Publish(event.Event{Type: event.SshAccess, Path: "/live-ssh", Severity: event.Critical})
			f.hub.Publish(event.Event{Type: event.SshAccess, Path: "/end", Severity: event.Critical})
			for {
				e := c.event()
				if e.Path == "/end" {
					break
				}
				got = append(got, e.Path)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// A client that never reads loses events, counted and announced when it
// reads again; a second client meanwhile receives everything.
func TestStuckClientDoesNotDelayOthers(t *testing.T) {
	f := start(t, 256)
	stuck, live := f.dial(t), f.dial(t)
	f.waitClients(t, 2)
	const n = 5000
	pad := strings.Repeat("x", 1000)
	for i := 1; i <= n; i++ {
		f.hub.Publish(event.Event{Type: event.FileModify, Path: "/f/" + strconv.Itoa(i) + "/" + pad})
		// Lockstep with the live client: it never has more than one queued.
		if e := live.event(); e.Seq != uint64(i) {
			t.Fatalf("live client got seq %d, want %d", e.Seq, i)
		}
	}
	// Read what the stuck client was sent, up to its drop notice (which is
	// delivered once it has caught up), then one more event.
	received, dropped, sentinel := 0, 0, false
	for {
		e := stuck.event()
		if e.Path == "/sentinel" {
			break
		}
		if e.Type == event.EventsDropped {
			d, _ := strconv.Atoi(e.Metadata["dropped"])
			dropped += d
			if !sentinel {
				f.hub.Publish(event.Event{Type: event.FileModify, Path: "/sentinel"})
				sentinel = true
			}
			continue
		}
		received++
	}
	if dropped == 0 {
		t.Fatalf("the stuck client received %d and was told of no drop; the test did not fill its queue", received)
	}
	if received+dropped != n {
		t.Fatalf("stuck client: %d received + %d reported dropped = %d, want %d (something lost silently)", received, dropped, received+dropped, n)
	}
}

func TestListenRefusesWhatIsNotOurs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("keep me"), 0o600)
	link := filepath.Join(dir, "link")
	os.Symlink(file, link)
	realDir := filepath.Join(dir, "real")
	os.Mkdir(realDir, 0o755)
	linkDir := filepath.Join(dir, "linkdir")
	os.Symlink(realDir, linkDir)

	live := filepath.Join(dir, "live.sock")
	l, err := jsonsock.Listen(jsonsock.ListenOptions{Path: live, Mode: 0o600, DirMode: 0o700})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	for _, tt := range []struct{ path, want string }{
		{file, "not a socket"},
		{link, "not a socket"},
		{filepath.Join(linkDir, "s.sock"), "symbolic link"},
		{live, "another daemon"},
	} {
		_, err := jsonsock.Listen(jsonsock.ListenOptions{Path: tt.path, Mode: 0o600, DirMode: 0o700})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Listen(%s) = %v, want an error containing %q", tt.path, err, tt.want)
		}
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Errorf("the file behind the refused path changed: %q", b)
	}
}

func TestListenReplacesStaleSocketWithMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	l, err := jsonsock.Listen(jsonsock.ListenOptions{Path: path, Mode: 0o600, DirMode: 0o700})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close() // a dead daemon's socket file stays behind
	l, err = jsonsock.Listen(jsonsock.ListenOptions{Path: path, Mode: 0o660, DirMode: 0o700})
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	defer l.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode %o, want 660", fi.Mode().Perm())
	}
}

// A client beyond the cap is told why and closed; the clients served are
// untouched, and a place that frees up is taken by the next one.
func TestClientsBeyondTheCapAreToldWhy(t *testing.T) {
	f := startMax(t, 64, 2)
	a, b := f.dial(t), f.dial(t)
	f.waitClients(t, 2)
	extra := f.dial(t)
	if m := extra.line(); !strings.Contains(fmt.Sprint(m["error"]), "too many clients") {
		t.Fatalf("the third client got %v, want a too-many-clients error", m)
	}
	f.hub.Publish(event.Event{Type: event.FileCreate, Path: "/for-both"})
	for _, c := range []*client{a, b} {
		if e := c.event(); e.Path != "/for-both" {
			t.Fatalf("a served client got %+v", e)
		}
	}
	// A client that went away is noticed at the next write to it.
	a.conn.Close()
	f.hub.Publish(event.Event{Type: event.FileCreate, Path: "/noticed"})
	f.waitClients(t, 1)
	c := f.dial(t)
	c.send(`{"replay_after":0}`)
	if m := c.line(); m["path"] != "/for-both" {
		t.Fatalf("the client taking the free place got %v", m)
	}
}
