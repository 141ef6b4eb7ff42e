package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/devaccess"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/fswatch"
	"github.com/pantheros/secmon/service/internal/hub"
	"github.com/pantheros/secmon/service/internal/jsonsock"
	"github.com/pantheros/secmon/service/internal/netmon"
	"github.com/pantheros/secmon/service/internal/sshmon"
	"github.com/pantheros/secmon/service/internal/trigger"
	"github.com/pantheros/secmon/service/internal/usb"
)

// monitorSet runs the configuration-dependent parts: the filesystem monitor
// and the triggers. apply starts the new ones before stopping the old, so a
// reload loses no event (a change during the swap may be reported twice).
type monitorSet struct {
	d      *daemon
	cancel context.CancelFunc
	wg     *sync.WaitGroup
	// usb outlives reloads that keep it on with the same state
	// directory: a restarted one would list every device again.
	usb *usbRun
}

type usbRun struct {
	stateDir string
	cancel   context.CancelFunc
	done     chan struct{}
}

func (r *usbRun) stop() {
	r.cancel()
	<-r.done
}

func newMonitorSet(d *daemon) *monitorSet {
	return &monitorSet{d: d}
}

func (m *monitorSet) apply(parent context.Context, cfg *config.Config) error {
	d := m.d
	// The filesystem monitor also runs the SSH monitor's watches on keys
	// and sshd's configuration.
	var fw *fswatch.Watcher
	if cfg.Monitors.Filesystem || cfg.Monitors.SSH {
		var err error
		if fw, err = fswatch.New(cfg.FileWatches(), d.log); err != nil {
			return fmt.Errorf("cannot set up the filesystem monitor: %w", err)
		}
	}
	var tr *trigger.Runner
	if len(cfg.Triggers) > 0 {
		var err error
		if tr, err = trigger.New(cfg.Triggers, d.log.With("component", "trigger")); err != nil {
			return fmt.Errorf("cannot set up triggers: %w", err)
		}
	}

	ctx, cancel := context.WithCancel(parent)
	wg := new(sync.WaitGroup)
	if tr != nil {
		sub := d.hub.Subscribe(hub.SubOptions{Name: "triggers", Queue: 1024, Filter: tr.Filter()})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer d.hub.Unsubscribe(sub)
			if err := tr.Run(ctx, sub); err != nil {
				d.log.Error("triggers stopped", "err", err)
			}
		}()
	}
	if fw != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fw.Run(ctx, d.emit); err != nil && ctx.Err() == nil {
				d.log.Error("filesystem monitor failed", "err", err)
				d.emit(status("filesystem", "failed", event.High, err.Error()))
			}
		}()
		// Ready to systemd, or the old watcher retired, only once the
		// new watches are in place: no change in between goes unseen.
		select {
		case <-fw.Ready():
		case <-parent.Done():
		}
		if cfg.Monitors.Filesystem {
			n := len(cfg.FileWatches())
			if cfg.Monitors.SSH {
				n -= len(cfg.SSHWatches())
			}
			d.emit(status("filesystem", "running", event.Low, strconv.Itoa(n)+" watches"))
		}
	}
	for _, dev := range []struct {
		on    bool
		kind  devaccess.Kind
		globs []string
	}{
		{cfg.Monitors.Camera, devaccess.Camera, cfg.Camera.Devices},
		{cfg.Monitors.Microphone, devaccess.Microphone, cfg.Microphone.Devices},
	} {
		if !dev.on {
			continue
		}
		dw, err := devaccess.New(dev.kind, dev.globs, d.log)
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("cannot set up the %s monitor: %w", dev.kind.Name, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := dw.Run(ctx, d.emit); err != nil && ctx.Err() == nil {
				d.log.Error(dev.kind.Name+" monitor failed", "err", err)
				d.emit(status(dev.kind.Name, "failed", event.High, err.Error()))
			}
		}()
		select {
		case <-dw.Ready():
		case <-parent.Done():
		}
		reason := "watching " + strings.Join(dev.globs, ", ") + "; openers named by fanotify"
		state, sev := "running", event.Low
		if dw.Attribution() != "fanotify" {
			state, sev = "degraded", event.Medium
			reason = "watching " + strings.Join(dev.globs, ", ") + "; openers named by a /proc scan, which misses short-lived ones" +
				" (" + dw.NoFanotify() + "; other users' programs need CAP_SYS_PTRACE)"
		}
		d.emit(status(dev.kind.Name, event.State(state), sev, reason))
	}
	if cfg.Monitors.Network {
		nw, err := netmon.New(netmon.Config{
			AllowedListeners:    cfg.Network.AllowedListeners,
			ScanThreshold:       cfg.Network.PortScanThreshold,
			ScanWindow:          time.Duration(cfg.Network.PortScanWindowSeconds) * time.Second,
			ConnectionRateLimit: time.Duration(cfg.Network.ConnectionRateLimitSeconds) * time.Second,
		}, d.log)
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("cannot set up the network monitor: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := nw.Run(ctx, d.emit); err != nil && ctx.Err() == nil {
				d.log.Error("network monitor failed", "err", err)
				d.emit(status("network", "failed", event.High, err.Error()))
			}
		}()
		// It reports its own state (running, or degraded and why) and the
		// listeners present at start before it is ready.
		select {
		case <-nw.Ready():
		case <-parent.Done():
		}
	}
	if cfg.Monitors.SSH {
		sw, err := sshmon.New(cfg.SSH, d.log)
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("cannot set up the ssh monitor: %w", err)
		}
		failed := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sw.Run(ctx, d.emit); err != nil && ctx.Err() == nil {
				d.log.Error("ssh monitor failed", "err", err)
				d.emit(status("ssh", "failed", event.High, err.Error()))
				close(failed)
			}
		}()
		var keys []string
		for _, w := range cfg.SSHWatches() {
			keys = append(keys, w.Path+w.Pattern)
		}
		select {
		case <-sw.Ready():
			state, sev, reason := "running", event.Low, "reading "+sw.Source()+"; watching "+strings.Join(keys, ", ")
			if l := sw.Limitation(); l != "" {
				state, sev, reason = "degraded", event.Medium, reason+"; "+l
			}
			d.emit(status("ssh", event.State(state), sev, reason))
		case <-failed:
		case <-parent.Done():
		}
	}
	var oldUSB *usbRun
	switch {
	case cfg.Monitors.USB && (m.usb == nil || m.usb.stateDir != cfg.StateDirectory):
		r, err := m.startUSB(parent, cfg.StateDirectory)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		oldUSB, m.usb = m.usb, r
	case !cfg.Monitors.USB && m.usb != nil:
		oldUSB, m.usb = m.usb, nil
	}

	if m.cancel != nil {
		m.cancel()
		m.wg.Wait()
	}
	if oldUSB != nil {
		oldUSB.stop()
	}
	m.cancel, m.wg = cancel, wg
	return nil
}

func (m *monitorSet) wait() {
	if m.cancel != nil {
		m.cancel()
		m.wg.Wait()
	}
	if m.usb != nil {
		m.usb.stop()
	}
}

// startUSB starts the USB monitor and waits until it has listed the
// devices present (or has failed: without udev it is unavailable).
func (m *monitorSet) startUSB(parent context.Context, stateDir string) (*usbRun, error) {
	d := m.d
	uw, err := usb.New(usb.Config{StateDir: stateDir}, d.log)
	if err != nil {
		return nil, fmt.Errorf("cannot set up the usb monitor: %w", err)
	}
	ctx, cancel := context.WithCancel(parent)
	r := &usbRun{stateDir: stateDir, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		err := uw.Run(ctx, d.emit)
		switch {
		case err == nil || ctx.Err() != nil:
		case errors.Is(err, usb.ErrUnavailable):
			d.log.Warn("usb monitor unavailable", "err", err)
			d.emit(status("usb", "unavailable", event.Medium, err.Error()))
		default:
			d.log.Error("usb monitor failed", "err", err)
			d.emit(status("usb", "failed", event.High, err.Error()))
		}
	}()
	select {
	case <-uw.Ready():
		d.emit(status("usb", "running", event.Low, "udev events for USB devices; seen devices in "+filepath.Join(stateDir, usb.StoreName)))
	case <-r.done:
	case <-parent.Done():
	}
	return r, nil
}

func status(monitor string, state event.State, sev event.Severity, reason string) event.Event {
	return event.Status(monitor, state, sev, reason)
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
