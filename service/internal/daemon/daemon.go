// Package daemon wires secmon-daemon: it reads the configuration, builds the
// hub (with what the state directory keeps), starts the sinks (JSON socket,
// journal, D-Bus as org.pantheros.Secmon, terminal) and the table of
// monitors and triggers (monitors.go, run by package monitor), talks to
// systemd (socket activation, sd_notify, watchdog) and reloads on SIGHUP,
// where only what changed restarts. It holds no monitoring logic and no
// monitor's wording of its own.
package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/godbus/dbus/v5"

	"github.com/pantheros/secmon/dbus/sessionbus"
	"github.com/pantheros/secmon/service/internal/config"
	"github.com/pantheros/secmon/service/internal/dbussink"
	"github.com/pantheros/secmon/service/internal/event"
	"github.com/pantheros/secmon/service/internal/hub"
	"github.com/pantheros/secmon/service/internal/journal"
	"github.com/pantheros/secmon/service/internal/jsonsock"
	"github.com/pantheros/secmon/service/internal/listenfds"
	"github.com/pantheros/secmon/service/internal/monitor"
	"github.com/pantheros/secmon/service/internal/render"
	"github.com/pantheros/secmon/service/internal/replaystore"
	"github.com/pantheros/secmon/service/internal/sdlog"
	"github.com/pantheros/secmon/service/internal/seqstore"
	"github.com/pantheros/secmon/service/internal/version"
)

// ListenFDName is the socket unit's FileDescriptorName= for the JSON socket.
const ListenFDName = "secmon"

// UsageError is a bad command line (exit code 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }

type flags struct {
	config   string
	user     bool
	system   bool
	print    bool
	check    bool
	logLevel string
}

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	var f flags
	fs := flag.NewFlagSet("secmon-daemon", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: secmon-daemon [flags] [CONFIG.toml]\n\n"+
			"Without a config, root reads %s (or built-in defaults if it is missing)\n"+
			"and an ordinary user runs in user mode: socket under $XDG_RUNTIME_DIR, watches on\n"+
			"your own persistence spots (~/.ssh, ~/.config/autostart, shell start-up files).\n"+
			"secmon.service runs it as the user secmon with --system.\n\n", config.SystemConfigPath)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.config, "config", "", "configuration file (TOML); may also be given as the argument")
	fs.BoolVar(&f.user, "user", false, "use user-mode defaults even as root")
	fs.BoolVar(&f.system, "system", false, "system mode even when not root (the service user secmon with capabilities)")
	fs.BoolVar(&f.print, "print", false, "also print each event as a readable line on standard output")
	fs.BoolVar(&f.check, "check", false, "check the configuration, print what would be watched, and exit")
	fs.StringVar(&f.logLevel, "log-level", "", "override log_level (trace, debug, info, warn, error)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &UsageError{err}
	}
	if f.user && f.system {
		return nil, &UsageError{errors.New("-user and -system exclude each other")}
	}
	if *showVersion {
		fmt.Fprintln(stderr, "secmon-daemon", version.Version)
		return nil, flag.ErrHelp
	}
	switch fs.NArg() {
	case 0:
	case 1:
		if f.config != "" && f.config != fs.Arg(0) {
			return nil, &UsageError{fmt.Errorf("two configs given: -config %s and %s", f.config, fs.Arg(0))}
		}
		f.config = fs.Arg(0)
	default:
		return nil, &UsageError{fmt.Errorf("unexpected arguments after %s", fs.Arg(0))}
	}
	return &f, nil
}

// loadConfig picks the configuration as documented in the usage text.
func (f *flags) loadConfig() (*config.Config, error) {
	env := config.CurrentEnv()
	mode := config.SystemMode
	if f.user || (env.UID != 0 && !f.system) {
		mode = config.UserMode
	}
	if f.config != "" {
		return config.Load(f.config, mode, env)
	}
	if mode == config.SystemMode {
		if _, err := os.Stat(config.SystemConfigPath); err == nil {
			return config.Load(config.SystemConfigPath, mode, env)
		}
	}
	return config.Defaults(mode, env), nil
}

// Run is secmon-daemon's main: it returns when ctx ends (a normal exit) or
// on a fatal error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	cfg, err := f.loadConfig()
	if err != nil {
		return err
	}
	if f.logLevel != "" {
		cfg.LogLevel.UnmarshalText([]byte(f.logLevel))
		if err := cfg.LogLevel.Valid(); err != nil {
			return &UsageError{fmt.Errorf("--log-level: %w", err)}
		}
	}
	if f.check {
		return check(cfg, stdout)
	}
	level := new(slog.LevelVar)
	level.Set(slogLevel(cfg.LogLevel))
	log := slog.New(sdlog.NewHandler(stderr, &slog.HandlerOptions{Level: level}))
	d := &daemon{cfg: cfg, flags: f, log: log, level: level, stdout: stdout, stderr: stderr}
	return d.run(ctx)
}

func check(cfg *config.Config, w io.Writer) error {
	fmt.Fprintf(w, "config: %s (%s mode)\nsocket: %s (mode %04o)\n", cfg.Source, cfg.Mode, cfg.SocketPath, cfg.SocketMode)
	var on, off []string
	for _, k := range (&daemon{}).monitors() {
		if _, enabled := k.Section(cfg); enabled {
			on = append(on, k.Name)
		} else {
			off = append(off, k.Name)
		}
	}
	fmt.Fprintf(w, "monitors on: %s\n", strings.Join(on, ", "))
	if len(off) > 0 {
		fmt.Fprintf(w, "monitors off: %s\n", strings.Join(off, ", "))
	}
	fs, _ := filesystemSection(cfg)
	for _, wt := range append(fs.Watches, fs.SSH...) {
		p := wt.Path
		if p == "" {
			p = wt.Pattern
		}
		fmt.Fprintf(w, "watch: %s (recursive=%v) %s\n", p, wt.Recursive, wt.Description)
	}
	for _, t := range cfg.Triggers {
		fmt.Fprintf(w, "trigger: %s -> %s %q\n", t.Name, t.Command, t.Args)
	}
	return nil
}

func slogLevel(l config.LogLevel) slog.Level {
	switch l {
	case "trace", "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

type daemon struct {
	cfg            *config.Config
	flags          *flags
	log            *slog.Logger
	level          *slog.LevelVar
	stdout, stderr io.Writer

	hub    *hub.Hub
	status *statusLine
	// journalMissing: events go to standard error; said as a MonitorStatus.
	journalMissing bool
	wg             sync.WaitGroup
}

// emit is what monitors call.
func (d *daemon) emit(e event.Event) {
	d.hub.Publish(e)
	d.status.poke()
}

func (d *daemon) run(ctx context.Context) error {
	cfg := d.cfg
	d.log.Info("starting", "version", version.Version, "config", cfg.Source, "mode", cfg.Mode.String())
	// Take SIGHUP before anything can send it: its default action kills.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	hopts, store, stateProblems := d.hubOptions()
	d.hub = hub.New(hopts)
	// Runs last, once monitors and sinks have stopped: nothing is
	// published after it.
	closeState, problems := d.keepState(store)
	defer closeState()
	stateProblems = append(stateProblems, problems...)

	ln, activated, err := d.listener()
	if err != nil {
		return err
	}
	srv := jsonsock.New(ln, d.hub, cfg.ClientQueue, d.log)
	d.status = newStatusLine(d.hub, srv)

	ctx, cancel := context.WithCancel(ctx)
	// Deferred in this order so that goroutines are told to stop before
	// they are waited for, on every return path.
	defer d.wg.Wait()
	defer cancel()
	serveErr := make(chan error, 1)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		serveErr <- srv.Serve(ctx)
	}()

	d.startSinks(ctx)
	if err := d.startBus(ctx); err != nil {
		return err
	}
	for _, p := range stateProblems {
		d.emit(event.Status("state", event.Degraded, event.High, p))
	}
	if d.journalMissing {
		where := "events go to standard error as JSON lines"
		if d.flags.print {
			where = "events are only printed here (and kept for replay on the socket)"
		}
		sev := event.Medium
		if d.cfg.Mode == config.UserMode {
			sev = event.Low // a terminal in a container: expected
		}
		d.emit(event.Status("journal", event.Unavailable, sev, "no journal socket (/run/systemd/journal/socket): "+where))
	}
	mons := monitor.NewSet(d.monitors(), d.emit, d.log)
	// Stopped before the sinks are told to: what the monitors say last
	// still reaches them.
	defer mons.Stop()
	if _, err := mons.Apply(ctx, cfg); err != nil {
		return err
	}

	d.log.Info("ready", "socket", cfg.SocketPath, "socket_activated", activated, "watches", len(cfg.EnabledWatches()))
	if cfg.Mode == config.UserMode {
		// Said once, in words: what a user-mode daemon sees, and what it
		// does not (its "unavailable" monitors say the same, one by one).
		d.log.Info(userModeSummary(cfg))
	}
	sddaemon.SdNotify(false, sddaemon.SdNotifyReady+"\n"+d.status.text())
	d.startWatchdog(ctx)
	// Not at once: the sinks are still writing start-up's events (every
	// monitor's status, the inventories) and would fault back in the code
	// that writes them.
	giveBack := time.AfterFunc(startupSettles, d.giveBackStartup)
	defer giveBack.Stop()

	for {
		select {
		case <-ctx.Done():
			sddaemon.SdNotify(false, sddaemon.SdNotifyStopping+"\nSTATUS=stopping")
			d.log.Info("stopping")
			return nil
		case err := <-serveErr:
			sddaemon.SdNotify(false, sddaemon.SdNotifyStopping)
			return err
		case <-hup:
			sddaemon.SdNotify(false, sddaemon.SdNotifyReloading)
			d.reload(ctx, mons)
			sddaemon.SdNotify(false, sddaemon.SdNotifyReady+"\n"+d.status.text())
			giveBack.Reset(startupSettles)
		}
	}
}

// startupSettles is how long after READY (or a reload) the daemon gives
// start-up's memory back: its own events are written by then.
const startupSettles = 2 * time.Second

// giveBackStartup returns to the kernel what start-up (or a reload) used
// and the idle daemon does not: the garbage of the configuration, the
// inventories and the eBPF load, the goroutine stacks that grew for them (a
// collection shrinks a stack to half when a quarter would do, so two), and
// the pages of code only start-up ran. It says so, once per start or
// reload, with the process's RSS before and after (kB), which the system
// test reads.
func (d *daemon) giveBackStartup() {
	before := rssKB()
	runtime.GC()
	debug.FreeOSMemory()
	n, err := pageOutCode()
	if err != nil {
		d.log.Info("start-up's code stays resident", "err", err)
	}
	d.log.Info("start-up's memory given back", "advised_kb", n>>10, "rss_kb_before", before, "rss_kb", rssKB())
}

// hubOptions reads what the state directory keeps: the sequence-number
// reservation and the events kept for replay. Its problems are returned,
// to be said as MonitorStatus events once the sinks run; the daemon goes on
// without what it cannot keep.
func (d *daemon) hubOptions() (hub.Options, *seqstore.File, []string) {
	dir := d.cfg.StateDirectory
	hopts := hub.Options{RingSize: d.cfg.ReplayBuffer, Logger: d.log.With("component", "hub")}
	var reserveOnce sync.Once
	hopts.OnReserveError = func(err error) {
		reserveOnce.Do(func() {
			d.emit(event.Status("state", event.Degraded, event.High, "cannot reserve event numbers in "+dir+
				" (full or read-only?): after a crash numbers could repeat: "+err.Error()))
		})
	}
	if dir == "" {
		return hopts, nil, nil
	}
	var problems []string
	store, last, err := seqstore.Open(dir)
	switch {
	case err != nil && store == nil:
		d.log.Warn("event numbers will restart after a restart", "err", err)
		problems = append(problems, "event numbers will restart after a restart: "+err.Error())
	case err != nil:
		// Unreadable reservation: start above any number a past run can
		// plausibly have used rather than reuse one.
		last = uint64(time.Now().UnixMicro())
		d.log.Error("cannot read the last event number; starting from the clock", "err", err, "seq", last)
		hopts.Reserver = store
	default:
		hopts.Reserver = store
	}
	hopts.StartSeq = last
	kept, err := replaystore.Load(dir)
	if err != nil {
		d.log.Warn("some kept events are damaged and not replayed", "err", err)
		problems = append(problems, "some kept events are damaged and not replayed: "+err.Error())
	}
	hopts.Kept = kept
	return hopts, store, problems
}

// keepState writes every event published from now on to the replay log in
// the state directory, so that a crash keeps what was written, and returns
// what to run once nothing is published any more: the log's end and, for
// a clean stop, the exact last number, so that only a crash leaves
// reserved numbers the replay must call missing.
func (d *daemon) keepState(store *seqstore.File) (stop func(), problems []string) {
	dir := d.cfg.StateDirectory
	if dir == "" {
		return func() {}, nil
	}
	var stops []func()
	if rlog, err := replaystore.Open(dir, d.cfg.ReplayBuffer, d.log); err != nil {
		d.log.Error("events are not kept for replay across a restart", "err", err)
		problems = append(problems, "events are not kept for replay across a restart: "+err.Error())
	} else {
		sub := d.hub.Subscribe(hub.SubOptions{Name: "replay log", Queue: max(d.cfg.ReplayBuffer, 1024), Linger: hub.BackgroundLinger})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { rlog.Run(ctx, sub); close(done) }()
		stops = append(stops, func() {
			cancel()
			<-done
			d.hub.Unsubscribe(sub)
		})
	}
	if store != nil {
		stops = append(stops, func() {
			if err := store.Reserve(d.hub.LastSeq()); err != nil {
				d.log.Warn("cannot record the last event number", "err", err)
			}
		})
	}
	return func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}, problems
}

// listener takes the socket from systemd when given one, else creates it.
func (d *daemon) listener() (net.Listener, bool, error) {
	if l := listenfds.Listener(ListenFDName); l != nil {
		return l, true, nil
	}
	dirMode := os.FileMode(0o755)
	if d.cfg.Mode == config.UserMode {
		dirMode = 0o700
	}
	l, err := jsonsock.Listen(jsonsock.ListenOptions{
		Path: d.cfg.SocketPath, Mode: os.FileMode(d.cfg.SocketMode),
		Group: d.cfg.SocketGroup, DirMode: dirMode,
	})
	if err != nil {
		return nil, false, err
	}
	return l, false, nil
}

// startSinks starts the journal (or stderr) sink and, with -print, the
// terminal. Each has its own bounded queue in the hub.
func (d *daemon) startSinks(ctx context.Context) {
	fallback := d.stderr
	if d.flags.print {
		fallback = io.Discard // the terminal already shows every event
	}
	js := journal.New(d.log, fallback)
	jsub := d.hub.Subscribe(hub.SubOptions{Name: "journal", Queue: 1 << 16, Linger: hub.BackgroundLinger})
	d.goSink(ctx, "journal", jsub, js.Run)
	if js.UsingJournal() {
		d.log.Info("events go to the journal", "try", "journalctl SYSLOG_IDENTIFIER=secmon")
	} else {
		if !d.flags.print {
			d.log.Info("no journal: events go to standard error as JSON lines")
		}
		d.journalMissing = true
	}
	if d.flags.print {
		psub := d.hub.Subscribe(hub.SubOptions{Name: "terminal", Queue: 1 << 14, Waited: true})
		color := render.IsTerminal(d.stdout) && os.Getenv("NO_COLOR") == ""
		d.goSink(ctx, "terminal", psub, func(ctx context.Context, sub *hub.Sub) error {
			for {
				e, err := sub.Next(ctx)
				if err != nil {
					return nil
				}
				fmt.Fprintln(d.stdout, render.Line(e, color))
			}
		})
	}
}

// userModeSummary says what a user-mode daemon watches and what needs the
// system service.
func userModeSummary(cfg *config.Config) string {
	return fmt.Sprintf("user mode: watching your SSH keys and %d places in %s where programs that start at login live, "+
		"and the cameras, microphones, USB devices and network as far as this user may see them. "+
		"sshd's logins, other users' files and the system's (/etc, sudo, PAM, cron, units) need the system service: "+
		"see the README, \"Install\"", len(cfg.EnabledWatches()), cfg.SSH.UserHome)
}

// startBus puts the daemon on D-Bus. Only a name owned by someone else is
// fatal; no bus at all leaves D-Bus off with one log line.
func (d *daemon) startBus(ctx context.Context) error {
	which := d.cfg.DBus
	if which == "auto" {
		which = "system"
		if d.cfg.Mode == config.UserMode {
			which = "session"
		}
	}
	connect := dbus.ConnectSystemBus
	switch which {
	case "off":
		d.log.Info("D-Bus off by configuration")
		return nil
	case "session":
		connect = sessionbus.Connect
	}
	sink := dbussink.New(d.hub, dbussink.Options{Connect: connect, BusName: which, Version: version.Version, Logger: d.log,
		Status: func(state, reason string) {
			sev := event.High
			if state == "running" {
				sev = event.Low
			}
			d.emit(event.Status("dbus", event.State(state), sev, reason)) // Publish never blocks
		}})
	// Subscribe first: nothing published from here on misses the bus.
	sub := d.hub.Subscribe(hub.SubOptions{Name: "dbus", Queue: 4096, Waited: true})
	if err := sink.Start(); err != nil {
		d.hub.Unsubscribe(sub)
		if errors.Is(err, dbussink.ErrNameTaken) {
			return err
		}
		// In user mode with dbus = auto, no session bus is an expected
		// state (a terminal without a desktop session), not a warning.
		log := d.log.Warn
		if d.cfg.DBus == "auto" && d.cfg.Mode == config.UserMode {
			log = d.log.Info
		}
		log("D-Bus off: no bus reachable; the socket and the journal still carry every event", "err", err)
		return nil
	}
	d.goSink(ctx, "dbus", sub, sink.Run)
	return nil
}

func (d *daemon) goSink(ctx context.Context, name string, sub *hub.Sub, run func(context.Context, *hub.Sub) error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer d.hub.Unsubscribe(sub)
		if err := run(ctx, sub); err != nil {
			d.log.Error("sink stopped", "sink", name, "err", err)
		}
	}()
}

func (d *daemon) reload(ctx context.Context, mons *monitor.Set) {
	cfg, err := d.flags.loadConfig()
	if err != nil {
		d.log.Error("reload refused; keeping the running configuration", "err", err)
		d.emit(event.Status("config", event.ReloadFailed, event.Medium, "reload refused, the running configuration stays: "+err.Error()))
		return
	}
	if cfg.SocketPath != d.cfg.SocketPath || cfg.SocketMode != d.cfg.SocketMode || cfg.SocketGroup != d.cfg.SocketGroup {
		d.log.Warn("socket settings change only at restart", "socket_path", cfg.SocketPath)
	}
	ch, err := mons.Apply(ctx, cfg)
	if err != nil {
		d.log.Error("reload failed; keeping the running monitors", "err", err)
		d.emit(event.Status("config", event.ReloadFailed, event.Medium, "reload failed, the running monitors stay: "+err.Error()))
		return
	}
	d.level.Set(slogLevel(cfg.LogLevel))
	d.cfg = cfg
	d.log.Info("reloaded", "config", cfg.Source, "watches", len(cfg.EnabledWatches()), "triggers", len(cfg.Triggers),
		"started", ch.Started, "replaced", ch.Replaced, "kept", ch.Kept, "stopped", ch.Stopped)
}

// startWatchdog pings systemd at half the interval it asked for, but only
// while the hub answers: a wedged pipeline lets the watchdog fire.
func (d *daemon) startWatchdog(ctx context.Context) {
	interval, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				st := d.status.text() // takes the hub's lock: proves it is not stuck
				sddaemon.SdNotify(false, sddaemon.SdNotifyWatchdog+"\n"+st)
			}
		}
	}()
}
