package daemon

import (
	"context"
	"log/slog"
	"os/user"
	"path/filepath"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/correlate"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/hub"
)

// sshdConfig is what the door_opened rule reads.
const sshdConfig = "/etc/ssh/sshd_config"

// correlationSection is the correlator's row in the monitor table: the
// [correlation] rules, and where homes are (a login user's home is looked
// up, else home_root/USER). A reload with the same section keeps the
// correlator and the logins, keyboards and changes it remembers.
type correlationSection struct {
	Rules    correlate.Config
	HomeRoot string
}

func correlationOf(c *config.Config) (correlationSection, bool) {
	s := c.Correlation
	rule := func(on bool, secs int) correlate.Rule {
		return correlate.Rule{Enabled: on, Window: time.Duration(secs) * time.Second}
	}
	rules := correlate.Config{
		PersistenceAfterLogin: rule(s.PersistenceAfterLogin, s.PersistenceAfterLoginWindowSeconds),
		BadUSB:                rule(s.BadUSB, s.BadUSBWindowSeconds),
		WatchingWhileAway:     rule(s.WatchingWhileAway, s.WatchingWhileAwayWindowSeconds),
		DoorOpened:            rule(s.DoorOpened, s.DoorOpenedWindowSeconds),
		BackdoorListener:      rule(s.BackdoorListener, s.BackdoorListenerWindowSeconds),
	}
	return correlationSection{Rules: rules, HomeRoot: c.SSH.HomeRoot}, rules.Any()
}

// correlation runs the correlator as a monitor of the hub, like the
// triggers: it reads every event and publishes its incidents.
type correlation struct {
	hub   *hub.Hub
	s     correlationSection
	log   *slog.Logger
	ready chan struct{}
}

func newCorrelation(h *hub.Hub, s correlationSection, log *slog.Logger) (*correlation, error) {
	return &correlation{hub: h, s: s, log: log.With("component", "correlate"), ready: make(chan struct{})}, nil
}

func (c *correlation) Ready() <-chan struct{} { return c.ready }

func (c *correlation) Run(ctx context.Context, emit func(event.Event)) error {
	opts := correlate.Options{
		Logger: c.log,
		Procs:  &correlate.ProcFS{},
		SSHD:   correlate.ReadSSHDConfig(sshdConfig),
		Home: func(name string) string {
			if u, err := user.Lookup(name); err == nil && u.HomeDir != "" {
				return u.HomeDir
			}
			if name == "root" {
				return "/root"
			}
			return filepath.Join(c.s.HomeRoot, name)
		},
	}
	if c.s.Rules.WatchingWhileAway.Enabled {
		// logind is on the system bus in user mode too.
		conn, err := dbus.ConnectSystemBus()
		if err != nil {
			c.log.Info("cannot ask logind whether anyone is at this computer", "err", err)
		} else {
			defer conn.Close()
			opts.Sessions = correlate.Logind{Conn: conn}
		}
	}
	corr := correlate.New(c.s.Rules, opts)
	sub := c.hub.Subscribe(hub.SubOptions{Name: "correlation", Queue: 4096, Linger: hub.BackgroundLinger})
	defer c.hub.Unsubscribe(sub)
	emit(corr.State())
	close(c.ready)
	return corr.Run(ctx, sub, emit)
}
