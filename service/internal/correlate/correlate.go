// Package correlate is the small stage after the monitors that turns
// sequences of events into one Incident of its own: events that, one by
// one, can be ordinary, but in this order and this close together look like
// an attack. It reads the hub's stream like a sink (a *hub.Sub) and
// publishes through emit like a monitor; the monitors stay independent and
// only emit.
//
// The rules, each with a window and on by default (Config):
//
//   - persistence_after_login (Critical): an SshLogin, then within the
//     window a sensitive file (authorized_keys, a cron job, a systemd unit,
//     an autostart entry) created or written by a process of that session.
//     File events carry no process yet (inotify does not say who wrote):
//     then the file counts when it lies in the login user's home, or is a
//     system-wide one (a cron job, a system unit), by time alone; the
//     incident's reason says so. Where the event names its process, it
//     counts only when the process descends from the login's sshd.
//   - badusb (Critical): a USB keyboard never seen before is plugged in,
//     then within the window (30 s) a program acts that was not started
//     from a terminal opened before it: a network connection or listener
//     by a process started after the keyboard appeared, with no terminal
//     or a terminal whose session began after it (from /proc); a process
//     already gone counts only when it is a shell or a downloader by name.
//     secmon has no process-start events: what a program does on the
//     network, or a sensitive file changed (by anyone) in the window, is
//     what is seen.
//   - watching_while_away (Critical): a camera or microphone opened while
//     every local session is locked or inactive, or nobody is logged in
//     at this computer (logind's sessions and LockedHint on the system
//     bus, behind [Sessions]).
//   - door_opened (High): sshd's configuration written, then within the
//     window sshd listening anew (a restart or a reload re-binds its
//     ports: the network monitor's NetworkListen by sshd). The incident
//     names the security settings that differ from before the change
//     (read through [SSHDSettings]); when they could be read and none
//     differ, there is no incident. Without the network monitor there is
//     no "sshd restarted" event and the rule sees nothing.
//   - backdoor_listener (High): a program listening on a non-loopback
//     address whose executable is under /tmp, /var/tmp, /dev/shm or a
//     Downloads folder, or which runs inside an SSH session (an sshd among
//     its ancestors). The window keeps one incident per program and port.
//
// Time is the events' own: windows are measured between event times, so a
// recorded sequence replays exactly. All state is bounded (a fixed number
// of logins, keyboards, configuration changes and fired keys, each expiring
// with its window).
package correlate

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/hub"
	"github.com/pantheros/secmon/service/internal/lru"
)

// The rules' names, as the incident's rule metadata says them.
const (
	RulePersistence = "persistence_after_login"
	RuleBadUSB      = "badusb"
	RuleAway        = "watching_while_away"
	RuleDoorOpened  = "door_opened"
	RuleBackdoor    = "backdoor_listener"
)

// Rule switches one rule and sets its window.
type Rule struct {
	Enabled bool
	Window  time.Duration
}

// Config is the [correlation] section: one Rule each.
type Config struct {
	PersistenceAfterLogin Rule
	BadUSB                Rule
	WatchingWhileAway     Rule
	DoorOpened            Rule
	BackdoorListener      Rule
}

// Any says whether some rule is on.
func (c Config) Any() bool {
	return c.PersistenceAfterLogin.Enabled || c.BadUSB.Enabled || c.WatchingWhileAway.Enabled ||
		c.DoorOpened.Enabled || c.BackdoorListener.Enabled
}

// Options are what the correlator asks the system; each may be nil, and
// what it would answer is then unknown.
type Options struct {
	Logger *slog.Logger
	// Procs describes running processes (ProcFS reads /proc).
	Procs Procs
	// Sessions says whether anyone is at this computer (Logind asks
	// logind); nil leaves watching_while_away without an answer.
	Sessions Sessions
	// SSHD reads sshd's security settings (ReadSSHDConfig); nil: the
	// changed settings are not named.
	SSHD SSHDSettings
	// Home is the home directory of a user; nil: /root for root, else
	// /home/USER.
	Home func(user string) string
}

// Bounds of the state: what is remembered beyond them is forgotten oldest
// first, and a window never keeps more.
const (
	maxLogins    = 256
	maxKeyboards = 16
	maxChanges   = 32
	maxFired     = 1024
	// sessionTimeout bounds a question to logind.
	sessionTimeout = 2 * time.Second
)

// Correlator holds the rules' state. Observe is not safe for concurrent
// use; Run is its one caller in the daemon.
type Correlator struct {
	cfg  Config
	opts Options
	log  *slog.Logger
	now  time.Time // the newest event time seen

	logins    *lru.Cache[uint64, login]     // by the login's seq
	keyboards *lru.Cache[uint64, keyboard]  // by the insertion's seq
	changes   *lru.Cache[uint64, sshChange] // sshd_config writes since the last restart
	before    map[string]string             // sshd's settings before the pending changes
	fired     *lru.Cache[string, time.Time] // rule|key → when
}

type login struct {
	seq      uint64
	at       time.Time
	user, ip string
	pid      int // sshd's pid that logged it, 0 when unknown
}

type keyboard struct {
	seq    uint64
	at     time.Time
	device string
}

type sshChange struct {
	seq  uint64
	at   time.Time
	path string
}

// New makes a correlator. Starting state: sshd's settings as they are now
// (what a later change is compared with).
func New(cfg Config, opts Options) *Correlator {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Home == nil {
		opts.Home = defaultHome
	}
	c := &Correlator{
		cfg: cfg, opts: opts, log: opts.Logger,
		logins:    lru.New[uint64, login](maxLogins),
		keyboards: lru.New[uint64, keyboard](maxKeyboards),
		changes:   lru.New[uint64, sshChange](maxChanges),
		fired:     lru.New[string, time.Time](maxFired),
	}
	if cfg.DoorOpened.Enabled && opts.SSHD != nil {
		if s, err := opts.SSHD(); err == nil {
			c.before = s
		} else {
			c.log.Debug("cannot read sshd's settings at start", "err", err)
		}
	}
	return c
}

// State is the correlator's MonitorStatus: running, and which rules. No
// system bus (a container, a terminal without one) leaves "watching while
// away" without logind's answers: expected where it happens, so said in
// the reason, not raised as a degraded monitor that pops up.
func (c *Correlator) State() event.Event {
	reason := "rules: " + strings.Join(c.cfg.rules(), ", ")
	if c.cfg.WatchingWhileAway.Enabled && c.opts.Sessions == nil {
		reason += "; no system bus: logind cannot say whether anyone is at this computer, so a camera or microphone opened while you are away is not recognised"
	}
	return event.Status("correlation", event.Running, event.Low, reason)
}

func (c Config) rules() []string {
	var on []string
	for _, r := range []struct {
		name string
		r    Rule
	}{{RulePersistence, c.PersistenceAfterLogin}, {RuleBadUSB, c.BadUSB}, {RuleAway, c.WatchingWhileAway},
		{RuleDoorOpened, c.DoorOpened}, {RuleBackdoor, c.BackdoorListener}} {
		if r.r.Enabled {
			on = append(on, r.name)
		}
	}
	return on
}

// Run reads sub until ctx ends and emits every incident. It returns nil
// when ctx ends.
func (c *Correlator) Run(ctx context.Context, sub *hub.Sub, emit func(event.Event)) error {
	for {
		e, err := sub.Next(ctx)
		if err != nil {
			return nil
		}
		for _, inc := range c.Observe(ctx, e) {
			emit(inc)
		}
	}
}

// Observe takes one event and returns the incidents it completes.
func (c *Correlator) Observe(ctx context.Context, e event.Event) []event.Event {
	if e.Type == event.Incident || e.Type == event.EventsDropped || e.Type == event.MonitorStatus {
		return nil
	}
	if e.Time.After(c.now) {
		c.now = e.Time
	}
	c.expire()
	var out []event.Event
	add := func(inc *event.Event) {
		if inc != nil {
			out = append(out, *inc)
		}
	}
	if c.cfg.PersistenceAfterLogin.Enabled {
		add(c.persistence(e))
	}
	if c.cfg.BadUSB.Enabled {
		add(c.badUSB(e))
	}
	if c.cfg.WatchingWhileAway.Enabled {
		add(c.away(ctx, e))
	}
	if c.cfg.DoorOpened.Enabled {
		add(c.door(e))
	}
	if c.cfg.BackdoorListener.Enabled {
		add(c.backdoor(e))
	}
	return out
}

// The longest window of the rules that remember logins: persistence
// matches within its own, the backdoor rule names a session's address.
func (c *Correlator) loginWindow() time.Duration {
	return max(c.cfg.PersistenceAfterLogin.Window, c.cfg.BackdoorListener.Window)
}

// expire forgets what every window has passed.
func (c *Correlator) expire() {
	drop := func(at time.Time, w time.Duration) bool { return c.now.Sub(at) > w }
	for {
		_, l, ok := c.logins.Oldest()
		if !ok || !drop(l.at, c.loginWindow()) {
			break
		}
		c.logins.RemoveOldest()
	}
	for {
		_, k, ok := c.keyboards.Oldest()
		if !ok || !drop(k.at, c.cfg.BadUSB.Window) {
			break
		}
		c.keyboards.RemoveOldest()
	}
	for {
		_, ch, ok := c.changes.Oldest()
		if !ok || !drop(ch.at, c.cfg.DoorOpened.Window) {
			break
		}
		c.changes.RemoveOldest()
	}
	for {
		_, at, ok := c.fired.Oldest()
		if !ok || !drop(at, c.longestWindow()) {
			break
		}
		c.fired.RemoveOldest()
	}
}

func (c *Correlator) longestWindow() time.Duration {
	return max(c.cfg.PersistenceAfterLogin.Window, c.cfg.BadUSB.Window, c.cfg.WatchingWhileAway.Window,
		c.cfg.DoorOpened.Window, c.cfg.BackdoorListener.Window)
}

// once says whether rule|key has not fired within w, and marks it.
func (c *Correlator) once(rule, key string, w time.Duration) bool {
	k := rule + "|" + key
	if at, ok := c.fired.Peek(k); ok && c.now.Sub(at) <= w {
		return false
	}
	c.fired.Remove(k)
	c.fired.Add(k, c.now)
	return true
}

// incident builds the Incident for rule from its members, oldest first.
func incident(rule string, sev event.Severity, w time.Duration, path, desc string, md map[string]string, proc *event.Process, members ...uint64) *event.Event {
	seqs := make([]string, 0, len(members))
	for _, m := range members {
		seqs = append(seqs, strconv.FormatUint(m, 10))
	}
	meta := map[string]string{"rule": rule, "members": strings.Join(seqs, ","),
		"window_seconds": strconv.FormatInt(int64(w/time.Second), 10)}
	for k, v := range md {
		if v != "" {
			meta[k] = v
		}
	}
	return &event.Event{Type: event.Incident, Severity: sev, Path: path, Description: desc, Metadata: meta, Process: proc}
}

// isChange says whether e created or wrote a file (a rename's new name is
// a create): deletions, moves away, opens and attribute changes are not.
func isChange(e event.Event) bool {
	switch e.Type {
	case event.FileCreate, event.FileModify:
		return true
	case event.SshAccess:
		op := e.Metadata["op"]
		return op == "CREATE" || op == "WRITE"
	}
	return false
}

func defaultHome(user string) string {
	if user == "root" {
		return "/root"
	}
	return "/home/" + user
}

// within says whether p is dir or below it.
//
// It is asked of every file event, a dozen times: it allocates nothing.
func within(p, dir string) bool {
	if p == dir {
		return true
	}
	dir = strings.TrimSuffix(dir, "/")
	return len(p) > len(dir) && p[len(dir)] == '/' && p[:len(dir)] == dir
}

// programName names a process for people: its executable's base name,
// else its comm.
func programName(p *event.Process) string {
	if p == nil {
		return ""
	}
	if p.Exe != "" {
		return filepath.Base(p.Exe)
	}
	return p.Comm
}

// isOneOf says whether p's executable's base name or comm is among names.
func isOneOf(p *event.Process, names []string) bool {
	if p == nil {
		return false
	}
	return (p.Exe != "" && slices.Contains(names, filepath.Base(p.Exe))) || slices.Contains(names, p.Comm)
}
