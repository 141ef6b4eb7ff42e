// Package notifier wires secmon-notifier: it reads notifier.toml, follows
// secmon-daemon on the system bus (follow), decides what is shown (filter),
// groups events into incidents (incident), words them (present) and shows
// them on the session bus (desktop), and answers the actions. One goroutine
// owns all of that state; the bus sides run in their own. It only wires:
// every word it shows or reports comes from present.
package notifier

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"

	secmondbus "github.com/pantheros/secmon/dbus"
	"github.com/pantheros/secmon/notifier/internal/appname"
	"github.com/pantheros/secmon/notifier/internal/config"
	"github.com/pantheros/secmon/notifier/internal/control"
	"github.com/pantheros/secmon/notifier/internal/desktop"
	"github.com/pantheros/secmon/notifier/internal/details"
	"github.com/pantheros/secmon/notifier/internal/filter"
	"github.com/pantheros/secmon/notifier/internal/follow"
	"github.com/pantheros/secmon/notifier/internal/incident"
	"github.com/pantheros/secmon/notifier/internal/present"
	"github.com/pantheros/secmon/notifier/internal/sdlog"
	"github.com/pantheros/secmon/notifier/internal/seqstate"
	"github.com/pantheros/secmon/notifier/internal/severity"
)

// DesktopEntry is the desktop-entry hint, which must match
// data/secmon-notifier.desktop.
const DesktopEntry = "secmon-notifier"

// MuteFor is how long the mute action mutes.
const MuteFor = time.Hour

// keep bounds the notifications remembered for their actions.
const keep = 256

// UsageError is a bad command line (exit code 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }

// Run is secmon-notifier's main: it returns when ctx ends (a normal exit).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("secmon-notifier", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", config.DefaultPath(), "configuration file (TOML); read if present")
	check := fs.Bool("check", false, "check the configuration and exit")
	logLevel := fs.String("log-level", "", "override log_level (debug, info, warn, error)")
	statePath := fs.String("state", seqstate.DefaultPath(), "file keeping the last event seq handed on, so a restart shows what came meanwhile; \"\" to keep none")
	showVersion := fs.Bool("version", false, "print the version and exit")
	unmute := fs.Bool("unmute", false, "end every mute of the secmon-notifier running in this session, and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: secmon-notifier [flags]\n\nShows secmon's events as desktop notifications. See the README, \"Desktop notifications\".\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &UsageError{err}
	}
	if fs.NArg() > 0 {
		return &UsageError{fmt.Errorf("unexpected arguments: %q", fs.Args())}
	}
	if *showVersion {
		fmt.Fprintln(stdout, "secmon-notifier", version())
		return nil
	}
	if *unmute {
		out, err := control.Unmute(ctx, control.Options{})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, out)
		return nil
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	cfg, cfgErr := config.Load(*path, explicit)
	if *check {
		if cfgErr != nil {
			return cfgErr
		}
		fmt.Fprintf(stdout, "%s: ok\n", *path)
		return nil
	}
	if cfg == nil {
		// A bad file must not leave the desktop without security
		// notifications: run on the defaults and say so.
		cfg = config.Defaults()
	}
	level := cfg.LogLevel
	if *logLevel != "" {
		if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
			return &UsageError{fmt.Errorf("-log-level: %w", err)}
		}
	}
	log := slog.New(sdlog.NewHandler(stderr, &slog.HandlerOptions{Level: level}))
	a := newApp(cfg, log, *statePath)
	if cfgErr != nil {
		log.Error("configuration refused; using the defaults", "err", cfgErr)
		a.problem = cfgErr
	}
	return a.run(ctx)
}

// Version is set when building a release (make sets it with -ldflags -X,
// as for the daemon); otherwise the module's version from the build info.
var Version string

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

type shown struct {
	key   string
	incID uint64
	note  present.Note
	seq   uint64
	first uint64
	count int
	mutes []incident.MuteKey
	what  string
	// muted holds the keys its Mute action muted, for Unmute.
	muted []incident.MuteKey
}

type app struct {
	cfg     *config.Config
	log     *slog.Logger
	style   present.Style
	filter  *filter.Filter
	tracker *incident.Tracker
	desk    *desktop.Desktop
	follow  *follow.Follower
	now     func() time.Time
	problem error

	shown   map[string]*shown
	order   []string
	control chan control.Request
	heldN   int
	notify  func(state string) // sd_notify

	// The last seq handed on, kept in statePath (saved at most once a
	// second while dirty, and at exit).
	statePath string
	handed    uint64
	dirty     bool
	savedAt   time.Time
	// away counts the Low and Medium events of the replay at start, when
	// resuming from statePath: shown as one summary once caught up.
	away *away

	up, known    bool // the daemon is followed; known: a Status came
	downSince    time.Time
	warned       bool // the absence warning is on screen
	deniedWarned bool
}

type away struct {
	after  uint64
	count  int
	byType map[string]int
}

// saveEvery bounds how often the last seq handed on is written.
const saveEvery = time.Second

func newApp(cfg *config.Config, log *slog.Logger, statePath string) *app {
	st := present.Style{Urgency: map[string]present.Urgency{}, Icon: map[string]string{},
		AppName: appname.New(appname.DefaultDirs()).Name}
	for t, o := range cfg.Types {
		if o.Urgency != nil {
			st.Urgency[t] = *o.Urgency
		}
		if o.Icon != "" {
			st.Icon[t] = o.Icon
		}
	}
	a := &app{
		cfg: cfg, log: log, style: st,
		filter:    filter.New(cfg),
		tracker:   incident.New(),
		desk:      desktop.New(desktop.Options{AppName: present.AppName, DesktopEntry: DesktopEntry, Logger: log, ResidentPath: residentPath(statePath)}),
		now:       time.Now,
		shown:     map[string]*shown{},
		control:   make(chan control.Request),
		notify:    func(s string) { sddaemon.SdNotify(false, s) },
		statePath: statePath,
	}
	fo := follow.Options{Logger: log}
	if statePath != "" {
		seq, ok, err := seqstate.Load(statePath)
		switch {
		case err != nil:
			log.Error("cannot resume after the last event handed on; following from now", "err", err)
		case ok:
			log.Info("resuming after the last event handed on", "seq", seq, "state", statePath)
			fo.ResumeAfter = &seq
			a.handed = seq
			a.away = &away{after: seq, byType: map[string]int{}}
		}
	}
	a.follow = follow.New(fo)
	return a
}

// residentPath keeps, beside the last seq, the ids of the notices that stay
// on screen (a camera in use), for the next notifier to close after a crash.
func residentPath(statePath string) string {
	if statePath == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(statePath), "notifier-resident.json")
}

// handedOn notes that everything up to seq was handed on.
func (a *app) handedOn(seq uint64) {
	if seq > a.handed {
		a.handed, a.dirty = seq, true
	}
}

func (a *app) save(now time.Time) {
	if !a.dirty || a.statePath == "" {
		return
	}
	a.dirty, a.savedAt = false, now
	if err := seqstate.Save(a.statePath, a.handed); err != nil {
		a.log.Error("a restart will not know what was already shown", "err", err)
	}
}

func (a *app) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan follow.Item, 256)
	done := make(chan struct{}, 3)
	go func() { a.follow.Run(ctx, items); done <- struct{}{} }()
	go func() { a.desk.Run(ctx); done <- struct{}{} }()
	go func() { control.Serve(ctx, control.Options{Logger: a.log}, a.control); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done; <-done }()

	a.log.Info("starting", "config", a.cfg.Source, "min_severity", a.cfg.MinSeverity.String())
	a.notify("READY=1\nSTATUS=" + present.StatusStarting)
	if a.problem != nil {
		a.show("secmon:config", a.style.ConfigRefused(a.problem), nil)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if next := a.next(); next.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(max(time.Until(next), 0))
		}
		select {
		case <-ctx.Done():
			a.notify("STOPPING=1")
			a.save(a.now())
			return nil
		case it := <-items:
			a.item(it)
		case ev := <-a.desk.Events():
			a.desktopEvent(ev)
		case req := <-a.control:
			if req.Unmute {
				req.Reply <- present.UnmuteReply(a.unmute(nil))
			}
		case <-timer.C:
		}
		a.due(a.now())
	}
}

// next is the earliest time something is due.
func (a *app) next() time.Time {
	var next time.Time
	var saveAt time.Time
	if a.dirty {
		saveAt = a.savedAt.Add(saveEvery)
	}
	for _, t := range []time.Time{a.tracker.Next(), a.filter.Next(), a.absentAt(), saveAt} {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next
}

func (a *app) absentAt() time.Time {
	if !a.known || a.up || a.warned || a.cfg.DaemonAbsentWarning == 0 {
		return time.Time{}
	}
	return a.downSince.Add(a.cfg.DaemonAbsentWarning)
}

func (a *app) due(now time.Time) {
	if a.dirty && !now.Before(a.savedAt.Add(saveEvery)) {
		a.save(now)
	}
	for _, inc := range a.tracker.Due(now) {
		a.showIncident(inc)
	}
	for _, h := range a.filter.Due(now) {
		a.heldN++
		a.show("held-"+strconv.Itoa(a.heldN), a.style.Held(h.Why, h.After, h.Count, h.ByType, now), nil)
	}
	if at := a.absentAt(); !at.IsZero() && !now.Before(at) {
		a.warned = true
		a.log.Warn("secmon-daemon has been absent too long", "since", a.downSince)
		a.show("secmon:absent", a.style.DaemonAbsent(a.downSince), nil)
	}
}

func (a *app) item(it follow.Item) {
	now := a.now()
	switch {
	case it.Event != nil:
		e := *it.Event
		a.handedOn(e.Seq)
		if v := a.filter.Check(e, now); v != filter.Show {
			a.log.Debug("not shown", "seq", e.Seq, "type", e.Type, "severity", e.Severity, "why", v.String())
			return
		}
		if a.away != nil && severity.Of(e.Severity) < severity.High {
			a.away.count++
			a.away.byType[e.Type]++
			return
		}
		for _, inc := range a.tracker.Add(e, now) {
			a.showIncident(inc)
		}
	case it.Coalesced != nil:
		c := it.Coalesced
		a.handedOn(c.LastSeq)
		a.show("coalesced-"+strconv.FormatUint(c.FirstSeq, 10), a.style.Coalesced(c.FirstSeq-1, c.Count, c.ByType, now), nil)
	case it.Status != nil:
		a.status(*it.Status, now)
	case it.InUse != nil:
		a.inUse(it.InUse.Events, now)
	}
}

// inUse rebuilds the "in use" notices from the daemon's list, on every
// (re)connection: a device the daemon says is in use gets its notice even
// if its opening was never seen (the notifier started, or the bus came
// back, while it was in use); a device the notifier thought in use that the
// daemon does not list was released meanwhile.
func (a *app) inUse(opened []secmondbus.Event, now time.Time) {
	listed := map[string]bool{}
	for _, e := range opened {
		listed[e.Path] = true
	}
	for _, inc := range a.tracker.Devices() {
		if listed[inc.Last.Path] {
			continue
		}
		release := "CameraReleased"
		if strings.HasPrefix(inc.Last.Type, "Microphone") {
			release = "MicrophoneReleased"
		}
		a.log.Info("a device was released while not followed", "path", inc.Last.Path)
		for _, shown := range a.tracker.Add(secmondbus.Event{Type: release, Severity: "Medium", Path: inc.Last.Path,
			TimestampUsec: now.UnixMicro(), Details: map[string]string{"how": "released while the notifier did not follow"}}, now) {
			a.showIncident(shown)
		}
	}
	known := map[string]bool{}
	for _, inc := range a.tracker.Devices() {
		for _, o := range inc.Openers {
			known[inc.Last.Path+"|"+o] = true
		}
	}
	for _, e := range opened {
		if known[e.Path+"|"+incident.Opener(e)] {
			continue
		}
		// Never hidden by a mute: the filter is not asked.
		for _, inc := range a.tracker.Add(e, now) {
			a.showIncident(inc)
		}
	}
}

// reshow shows again the notices that stay while a device is in use, after
// the notification server restarted (a DankMaterialShell reload): its ids
// mean nothing any more, and a resident notice is not shown again by
// itself.
func (a *app) reshow() {
	for _, inc := range a.tracker.Devices() {
		a.showIncident(inc)
	}
}

func (a *app) status(s follow.Status, now time.Time) {
	wasKnown := a.known
	a.known = true
	if s.Up {
		a.handedOn(s.LastSeq)
		if w := a.away; w != nil {
			// Caught up with what came while the notifier was not
			// running: the High and Critical ones were shown, each on
			// its own; the rest in one summary.
			a.away = nil
			if w.count > 0 {
				a.show("secmon:away", a.style.Away(w.after, w.count, w.byType, now), nil)
			}
		}
	}
	switch {
	case s.Up && s.Denied:
		a.up = true
		a.notify("STATUS=" + present.StatusDenied)
		if !a.deniedWarned {
			a.deniedWarned = true
			a.log.Error("the system bus refuses secmon's events to this user: add it to group secmon", "err", s.Err)
			a.show("secmon:denied", a.style.Denied(now), nil)
		}
	case s.Up:
		a.up = true
		a.notify("STATUS=" + present.StatusFollowing(s.LastSeq))
		if a.warned {
			a.warned = false
			a.show("secmon:absent", a.style.DaemonBack(now), nil)
		}
	default:
		if a.up || !wasKnown {
			a.downSince = now
		}
		a.up = false
		a.notify("STATUS=" + present.StatusWaiting)
		a.log.Info("waiting for secmon-daemon", "why", s.Err)
	}
}

func (a *app) showIncident(inc *incident.Incident) {
	key := "incident-" + strconv.FormatUint(inc.ID, 10)
	note := a.style.Incident(inc)
	actions := []desktop.Action{{Key: "default", Label: present.LabelDetails}}
	if inc.Severity < severity.Critical && inc.Class != incident.Device {
		// Critical is never muted, as quiet hours never hold it back;
		// nor is a camera or microphone in use: a mute must never hide
		// a live device.
		actions = append(actions, desktop.Action{Key: "mute", Label: present.MuteLabel(MuteFor)})
	}
	a.show(key, note, actions)
	a.remember(&shown{key: key, incID: inc.ID, note: note, seq: inc.Last.Seq, first: inc.First.Seq,
		count: inc.Count, mutes: muteKeys(inc), what: present.MuteScope(inc.Mutes)})
}

func (a *app) show(key string, n present.Note, actions []desktop.Action) {
	if err := a.desk.Show(key, n, actions); err != nil {
		a.log.Debug("notification held", "key", key, "summary", n.Summary, "err", err)
	}
}

func (a *app) remember(s *shown) {
	if _, ok := a.shown[s.key]; !ok {
		a.order = append(a.order, s.key)
		if len(a.order) > keep {
			delete(a.shown, a.order[0])
			a.order = a.order[1:]
		}
	}
	a.shown[s.key] = s
}

func (a *app) desktopEvent(ev desktop.Event) {
	if ev.ServerUp {
		a.reshow()
		return
	}
	s := a.shown[ev.Key]
	if s == nil || ev.Action == "" {
		return
	}
	switch ev.Action {
	case "default":
		argv := a.cfg.DetailsCommand
		if len(argv) == 0 {
			var err error
			if argv, err = details.DefaultCommand(exec.LookPath); err != nil {
				a.log.Warn("cannot show details", "err", err)
				return
			}
		}
		argv = details.Expand(argv, details.Values{Seq: s.seq, FirstSeq: s.first, Count: s.count})
		if err := details.Start(argv, a.log); err != nil {
			a.log.Warn("cannot show details", "err", err)
			return
		}
		a.log.Info("details", "argv", argv)
	case "mute":
		if len(s.mutes) == 0 {
			return
		}
		until := a.now().Add(MuteFor)
		a.filter.Mute(s.mutes, s.what, until)
		a.tracker.End(s.incID)
		a.log.Info("muted", "what", s.what, "until", until)
		s.note = a.style.Muted(s.note, s.what, until)
		s.muted, s.mutes = s.mutes, nil
		a.show(s.key, s.note, []desktop.Action{{Key: "default", Label: present.LabelDetails}, {Key: "unmute", Label: present.LabelUnmute}})
	case "unmute":
		if len(s.muted) > 0 {
			a.unmute(s.muted)
		}
	}
}

// unmute ends the mutes of keys (every mute when nil), replaces their
// Muted notices, shows what they held back, and says how many it ended.
func (a *app) unmute(keys []incident.MuteKey) int {
	now := a.now()
	n := a.filter.Muting(now)
	if keys != nil {
		n = 1
	}
	for _, h := range a.filter.Unmute(keys, now) {
		a.heldN++
		a.show("held-"+strconv.Itoa(a.heldN), a.style.Held(h.Why, h.After, h.Count, h.ByType, now), nil)
	}
	for _, key := range a.order {
		s := a.shown[key]
		if s == nil || len(s.muted) == 0 || keys != nil && !slices.Equal(s.muted, keys) {
			continue
		}
		a.log.Info("unmuted", "what", s.what)
		s.muted = nil
		s.note = a.style.Unmuted(s.what, now)
		a.show(s.key, s.note, nil)
	}
	return n
}

// muteKeys are what muting inc covers: its types for its sources. A device
// use is muted by who opened it; its release follows (see filter).
func muteKeys(inc *incident.Incident) []incident.MuteKey {
	return append([]incident.MuteKey(nil), inc.Mutes...)
}
