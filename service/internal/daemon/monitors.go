package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"

	"github.com/pantheros/secmon/service/internal/baseline"
	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/devaccess"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/hub"
	"github.com/pantheros/secmon/service/internal/jsonsock"
	"github.com/pantheros/secmon/service/internal/monitor"
	"github.com/pantheros/secmon/service/internal/netmon"
	"github.com/pantheros/secmon/service/internal/persist"
	"github.com/pantheros/secmon/service/internal/sshmon"
	"github.com/pantheros/secmon/service/internal/trigger"
	"github.com/pantheros/secmon/service/internal/usb"
)

// monitors is the table of everything the configuration switches on: each
// row says where its section is and which package builds it. The triggers
// and the correlation stage come first so that they see what the monitors
// say at start. Adding a
// monitor is adding a row (and its [monitors] key).
func (d *daemon) monitors() []monitor.Kind {
	return []monitor.Kind{
		monitor.Define("triggers", func(c *config.Config) ([]config.Trigger, bool) { return c.Triggers, len(c.Triggers) > 0 },
			func(ts []config.Trigger, log *slog.Logger) (*triggers, error) { return newTriggers(d.hub, ts, log) }),
		monitor.Define("correlation", correlationOf, func(s correlationSection, log *slog.Logger) (*correlation, error) {
			return newCorrelation(d.hub, s, log)
		}),
		monitor.Define("filesystem", filesystemSection, newFilesystem),
		monitor.Define("camera", func(c *config.Config) (devSection, bool) {
			return devSection{c.Camera.Devices, c.Mode == config.UserMode}, c.Monitors.Camera
		}, func(s devSection, log *slog.Logger) (*devaccess.Watcher, error) {
			return d.devices(devaccess.Camera, s, log)
		}),
		monitor.Define("microphone", func(c *config.Config) (devSection, bool) {
			return devSection{c.Microphone.Devices, c.Mode == config.UserMode}, c.Monitors.Microphone
		}, func(s devSection, log *slog.Logger) (*devaccess.Watcher, error) {
			return d.devices(devaccess.Microphone, s, log)
		}),
		monitor.Define("network", networkSection, netmon.New),
		monitor.Define("ssh", func(c *config.Config) (config.SSH, bool) {
			s := c.SSH
			s.StateDirectory = c.StateDirectory
			return s, c.Monitors.SSH
		}, sshmon.New),
		monitor.Define("baseline", baselineSection, newBaseline),
		monitor.Define("usb", func(c *config.Config) (usb.Config, bool) {
			return usb.Config{StateDir: c.StateDirectory}, c.Monitors.USB
		}, usb.New),
	}
}

// devSection is a camera or microphone monitor's section: its device
// globs, and whether the daemon runs in user mode (without fanotify, as
// expected).
type devSection struct {
	Globs    []string
	UserMode bool
}

// devices builds a camera or microphone monitor that knows, for a device
// found in use at start, when the last run saw it opened: the kept events
// (the replay log) hold that, so a release after a restart gives the true
// duration.
func (d *daemon) devices(kind devaccess.Kind, s devSection, log *slog.Logger) (*devaccess.Watcher, error) {
	w, err := devaccess.New(kind, s.Globs, log)
	if err != nil {
		return nil, err
	}
	if s.UserMode {
		w.SetUnprivileged()
	}
	if d.hub != nil {
		w.SetOpenedAt(func(node string) time.Time { return openedAt(d.hub.Kept(), node) })
	}
	return w, nil
}

// openedAt is when node's current use began, by the kept events: the first
// Access of the uses after its last Released; zero when none says.
func openedAt(kept []event.Event, node string) time.Time {
	var since time.Time
	for _, e := range kept {
		if e.Path != node {
			continue
		}
		switch e.Type {
		case event.CameraAccess, event.MicrophoneAccess:
			if since.IsZero() {
				since = e.Time
			}
		case event.CameraReleased, event.MicrophoneReleased:
			since = time.Time{}
		}
	}
	return since
}

// fsSection is the filesystem monitor's section: its [[watches]], and the
// ssh monitor's watches it runs for it (one inotify instance for both).
// The ssh monitor's rule, which makes a change to SSH material an
// SshAccess under any watch, always applies: it is not configured.
type fsSection struct {
	Off     bool
	Watches []config.Watch
	SSH     []config.Watch
}

func filesystemSection(c *config.Config) (fsSection, bool) {
	s := fsSection{Off: !c.Monitors.Filesystem}
	if c.Monitors.Filesystem {
		s.Watches = c.EnabledWatches()
	}
	if c.Monitors.SSH {
		s.SSH = sshmon.Watches(c.SSH)
	}
	return s, c.Monitors.Filesystem || c.Monitors.SSH
}

// baselineSection: the sensitive files under the filesystem and ssh
// monitors' watches are fingerprinted while there is a state directory to
// keep them in.
func baselineSection(c *config.Config) (baseline.Config, bool) {
	fs, on := filesystemSection(c)
	return baseline.Config{StateDirectory: c.StateDirectory, Watches: append(slices.Clone(fs.Watches), fs.SSH...)},
		on && c.StateDirectory != ""
}

// newBaseline gives the baseline the filesystem monitor's rules (functions:
// not in the section, which is compared on reload).
func newBaseline(s baseline.Config, log *slog.Logger) (*baseline.Watcher, error) {
	s.Rules = []baseline.Rule{persist.Classify, sshmon.Classify}
	return baseline.New(s, log)
}

func networkSection(c *config.Config) (netmon.Config, bool) {
	return netmon.Config{
		Unprivileged:        c.Mode == config.UserMode,
		AllowedListeners:    c.Network.AllowedListeners,
		ScanThreshold:       c.Network.PortScanThreshold,
		ScanWindow:          time.Duration(c.Network.PortScanWindowSeconds) * time.Second,
		ConnectionRateLimit: time.Duration(c.Network.ConnectionRateLimitSeconds) * time.Second,
	}, c.Monitors.Network
}

// triggers runs the configured programs as a monitor of the hub: reloaded
// like the monitors, so unchanged triggers keep their cooldowns.
type triggers struct {
	hub    *hub.Hub
	runner *trigger.Runner
	ready  chan struct{}
}

func newTriggers(h *hub.Hub, ts []config.Trigger, log *slog.Logger) (*triggers, error) {
	r, err := trigger.New(ts, log.With("component", "trigger"))
	if err != nil {
		return nil, err
	}
	return &triggers{hub: h, runner: r, ready: make(chan struct{})}, nil
}

func (t *triggers) Ready() <-chan struct{} { return t.ready }

func (t *triggers) Run(ctx context.Context, _ func(event.Event)) error {
	sub := t.hub.Subscribe(hub.SubOptions{Name: "triggers", Queue: 1024, Filter: t.runner.Filter(), Linger: hub.BackgroundLinger})
	defer t.hub.Unsubscribe(sub)
	close(t.ready)
	if err := t.runner.Run(ctx, sub); err != nil {
		return fmt.Errorf("triggers stopped: %w", err)
	}
	return nil
}

// statusLine keeps systemd's STATUS= current: at most once a second, and
// once more after the last event of a burst. Nothing runs while idle.
type statusLine struct {
	hub     *hub.Hub
	srv     *jsonsock.Server
	enabled bool

	mu    sync.Mutex
	last  time.Time
	timer *time.Timer
}

func newStatusLine(h *hub.Hub, srv *jsonsock.Server) *statusLine {
	return &statusLine{hub: h, srv: srv, enabled: os.Getenv("NOTIFY_SOCKET") != ""}
}

func (s *statusLine) text() string {
	st := s.hub.Stats()
	return fmt.Sprintf("STATUS=%d events, %d dropped, %d clients, last seq %d",
		st.Published, st.Dropped, s.srv.Clients(), st.LastSeq)
}

func (s *statusLine) poke() {
	if !s.enabled {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		return
	}
	wait := time.Second - time.Since(s.last)
	if wait <= 0 {
		s.send()
		return
	}
	s.timer = time.AfterFunc(wait, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.timer = nil
		s.send()
	})
}

func (s *statusLine) send() {
	s.last = time.Now()
	sddaemon.SdNotify(false, s.text())
}
