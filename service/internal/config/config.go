// Package config reads secmon's TOML configuration (the keys of the original
// secmon-daemon and the NixOS module, see data/secmon.example.toml) and
// supplies the built-in defaults for system mode (root) and user mode (an
// ordinary user with no config file).
//
// Every error names the file, line, column and key: unknown keys and wrong
// types come from go-toml's decoder, and the checks made after decoding look
// their key up in a position index built from the same document.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/pantheros/secmon/service/internal/event"
)

// SystemConfigPath is read when root starts the daemon without a config.
const SystemConfigPath = "/etc/secmon/config.toml"

// SystemSocketPath is the seed's socket.
const SystemSocketPath = "/run/secmon/secmon.sock"

// Mode says which defaults apply.
type Mode int

const (
	// SystemMode: root, the system socket, system-wide watches.
	SystemMode Mode = iota
	// UserMode: an ordinary user; socket under $XDG_RUNTIME_DIR, watches on
	// that user's persistence spots only.
	UserMode
)

func (m Mode) String() string {
	if m == UserMode {
		return "user"
	}
	return "system"
}

// Config is the whole configuration.
type Config struct {
	SocketPath  string   `toml:"socket_path"`
	SocketMode  FileMode `toml:"socket_mode"`
	SocketGroup string   `toml:"socket_group"`
	LogLevel    LogLevel `toml:"log_level"`
	// StateDirectory keeps the sequence-number reservation.
	StateDirectory string `toml:"state_directory"`
	// ReplayBuffer is how many events are kept for replay_after.
	ReplayBuffer int `toml:"replay_buffer"`
	// ClientQueue bounds each socket client's backlog.
	ClientQueue int `toml:"client_queue"`
	// DBus picks the bus for org.pantheros.Secmon: auto (system bus in
	// system mode, session bus in user mode), system, session or off.
	DBus       string    `toml:"dbus"`
	Monitors   Monitors  `toml:"monitors"`
	Camera     Devices   `toml:"camera"`
	Microphone Devices   `toml:"microphone"`
	SSH        SSH       `toml:"ssh"`
	Network    Network   `toml:"network"`
	Watches    []Watch   `toml:"watches"`
	Triggers   []Trigger `toml:"triggers"`
	// Correlation is in correlation.go.
	Correlation Correlation `toml:"correlation"`

	// Source is the file read, or a description of the defaults.
	Source string `toml:"-"`
	Mode   Mode   `toml:"-"`
}

// SSH configures the SSH monitor ([ssh]): sshd's log, and where the keys
// it watches are (which files those are is the monitor's: sshmon.Watches).
type SSH struct {
	// JournalDirectory is read instead of the system journal when set
	// (tests, a journal copied from another machine).
	JournalDirectory string `toml:"journal_directory"`
	// AuthLog is followed instead of the journal when set; without a
	// running journald, /var/log/auth.log or /var/log/secure is.
	AuthLog string `toml:"auth_log"`
	// HomeRoot holds the homes whose .ssh directories are watched
	// (HomeRoot/*/.ssh, homes created later included). System mode only.
	HomeRoot string `toml:"home_root"`
	// BruteForceThreshold failures from one address within
	// BruteForceWindowSeconds make one SshBruteForce.
	BruteForceThreshold     int `toml:"brute_force_threshold"`
	BruteForceWindowSeconds int `toml:"brute_force_window_seconds"`
	// UserHome is set in user mode only: the monitor watches the keys of
	// this home alone, not those of every home under HomeRoot.
	UserHome string `toml:"-"`
	// StateDirectory is the daemon's (not a key of [ssh]): where the ssh
	// monitor keeps its journal cursor.
	StateDirectory string `toml:"-"`
}

// Monitors switch the monitors on and off (services.secmon.monitors.*).
type Monitors struct {
	Filesystem bool `toml:"filesystem"`
	Network    bool `toml:"network"`
	USB        bool `toml:"usb"`
	Camera     bool `toml:"camera"`
	Microphone bool `toml:"microphone"`
	SSH        bool `toml:"ssh"`
}

// Devices are the nodes a device monitor watches ([camera], [microphone]).
type Devices struct {
	// Devices are globs of device nodes; nodes that appear later count.
	Devices []string `toml:"devices"`
}

// Network sets the network monitor ([network]).
type Network struct {
	// AllowedListeners are programs expected to listen on a non-loopback
	// address: a comm ("sshd") or an absolute exe path, possibly a glob.
	AllowedListeners []string `toml:"allowed_listeners"`
	// PortScanThreshold distinct local ports touched by one remote address
	// within PortScanWindowSeconds are a port scan.
	PortScanThreshold     int `toml:"port_scan_threshold"`
	PortScanWindowSeconds int `toml:"port_scan_window_seconds"`
	// ConnectionRateLimitSeconds: at most one NetworkConnection per program
	// and remote in this time, the rest counted into a summary; 0: all.
	ConnectionRateLimitSeconds int `toml:"connection_rate_limit_seconds"`
}

// Watch is one [[watches]] entry.
type Watch struct {
	// Path is a file or directory; it need not exist yet.
	Path string `toml:"path"`
	// Pattern is a glob (path.Match syntax, * within one component) for
	// paths; with no Path it is the watch itself, e.g. "/home/*/.ssh"; with
	// a Path it filters: a full-path glob, or a base-name glob like "*.conf".
	Pattern     string         `toml:"pattern"`
	Description string         `toml:"description"`
	Enabled     *bool          `toml:"enabled"`
	Recursive   bool           `toml:"recursive"`
	Severity    event.Severity `toml:"severity"`
	// Sensitive files are fingerprinted, so that what changed in them
	// while secmon was not running is reported at start (package
	// baseline), as SSH material and persistence spots always are.
	Sensitive bool `toml:"sensitive"`
}

// IsEnabled is true unless enabled = false.
func (w Watch) IsEnabled() bool { return w.Enabled == nil || *w.Enabled }

// Trigger runs a program for matching events, never through a shell.
type Trigger struct {
	Name        string         `toml:"name"`
	Enabled     *bool          `toml:"enabled"`
	EventTypes  []EventType    `toml:"event_types"`
	MinSeverity event.Severity `toml:"min_severity"`
	// Command is the program: an absolute path or a name looked up in PATH.
	Command string `toml:"command"`
	// Args may hold placeholders such as {path}, substituted inside each
	// argument; an argument never splits into several.
	Args            []string `toml:"args"`
	CooldownSeconds int      `toml:"cooldown_seconds"`
	TimeoutSeconds  int      `toml:"timeout_seconds"`
}

// IsEnabled is true unless enabled = false.
func (t Trigger) IsEnabled() bool { return t.Enabled == nil || *t.Enabled }

// EventType is an event type name, checked after decoding.
type EventType = event.Type

// FileMode is an octal permission string such as "0660".
type FileMode uint32

// UnmarshalText parses octal.
func (m *FileMode) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(string(b), 8, 32)
	if err != nil || v > 0o777 {
		return fmt.Errorf("socket mode %q is not an octal permission such as \"0660\"", b)
	}
	*m = FileMode(v)
	return nil
}

// Bounds of the sizes and durations a file may set.
const (
	MaxReplayBuffer   = 200000
	MaxClientQueue    = 1 << 20
	maxTriggerSeconds = 7 * 24 * 3600
)

// LogLevel is one of trace, debug, info, warn, error.
type LogLevel string

// UnmarshalText keeps the level as written; check says whether it is one,
// with the file, line and column (an error from here would carry none:
// go-toml does not place a TextUnmarshaler's error, so log_level = 5 would
// be refused without saying where).
func (l *LogLevel) UnmarshalText(b []byte) error {
	*l = LogLevel(strings.ToLower(string(b)))
	return nil
}

// Valid says whether l names a level.
func (l LogLevel) Valid() error {
	switch l {
	case "trace", "debug", "info", "warn", "warning", "error":
		return nil
	}
	return fmt.Errorf("unknown log level %q (want trace, debug, info, warn or error)", string(l))
}

// Env is what the defaults depend on; the zero value reads the process.
type Env struct {
	Home       string
	RuntimeDir string
	StateHome  string
	UID        int
}

// CurrentEnv reads the process's environment.
func CurrentEnv() Env {
	home, _ := os.UserHomeDir()
	return Env{
		Home:       home,
		RuntimeDir: os.Getenv("XDG_RUNTIME_DIR"),
		StateHome:  os.Getenv("XDG_STATE_HOME"),
		UID:        os.Geteuid(),
	}
}

// Defaults returns the built-in configuration for mode.
func Defaults(mode Mode, env Env) *Config {
	c := &Config{
		LogLevel:     "info",
		ReplayBuffer: 10000,
		ClientQueue:  4096,
		DBus:         "auto",
		Camera:       Devices{Devices: []string{"/dev/video*"}},
		Microphone:   Devices{Devices: []string{"/dev/snd/pcmC*D*c"}}, // capture only: playback is not a microphone
		Monitors:     Monitors{true, true, true, true, true, true},
		SSH:          SSH{HomeRoot: "/home", BruteForceThreshold: 5, BruteForceWindowSeconds: 600},
		Network:      Network{PortScanThreshold: 10, PortScanWindowSeconds: 60, ConnectionRateLimitSeconds: 60},
		Mode:         mode,
		Correlation:  defaultCorrelation(),
	}
	if mode == SystemMode {
		c.SocketPath = SystemSocketPath
		c.SocketMode = 0o660
		c.StateDirectory = "/var/lib/secmon"
		c.Watches = systemWatches()
		c.Source = "built-in system defaults"
		return c
	}
	rt := env.RuntimeDir
	if rt == "" {
		rt = filepath.Join(os.TempDir(), "secmon-"+strconv.Itoa(env.UID))
	}
	c.SocketPath = filepath.Join(rt, "secmon", "secmon.sock")
	c.SocketMode = 0o600
	state := env.StateHome
	if state == "" {
		state = filepath.Join(env.Home, ".local", "state")
	}
	c.StateDirectory = filepath.Join(state, "secmon")
	c.SSH.UserHome = env.Home
	c.Watches = userWatches(env.Home)
	c.Source = "built-in user-mode defaults"
	return c
}

func w(path, desc string, recursive bool) Watch {
	return Watch{Path: path, Description: desc, Recursive: recursive}
}

func systemWatches() []Watch {
	return []Watch{
		w("/etc/nixos", "NixOS configuration", true),
		w("/etc/sudoers", "sudo rules", false),
		w("/etc/sudoers.d", "sudo rules", true),
		w("/etc/pam.d", "PAM configuration", true),
		w("/etc/passwd", "user accounts", false),
		w("/etc/shadow", "password hashes", false),
		w("/etc/group", "groups", false),
		w("/etc/crontab", "cron jobs", false),
		w("/etc/cron.d", "cron jobs", true),
		// More places a program makes itself start again (see package
		// persist, which rates every change there Medium at least).
		w("/var/spool/cron", "users' cron jobs", true),
		w("/etc/systemd/system", "system services (systemd units)", true),
		w("/etc/systemd/user", "every user's services (systemd user units)", true),
		w("/etc/xdg/autostart", "programs started at every login", true),
		w("/etc/profile", "shell start-up for every user", false),
		w("/etc/profile.d", "shell start-up for every user", true),
		w("/etc/bash.bashrc", "shell start-up for every user", false),
		w("/etc/environment", "every session's environment", false),
		w("/etc/ld.so.preload", "a library loaded into every program", false),
		w("/root/.bashrc", "root's shell start-up", false),
		w("/root/.profile", "root's shell start-up", false),
		{Pattern: "/home/*/.config/autostart", Description: "programs started at login (XDG autostart)", Recursive: true},
		{Pattern: "/home/*/.config/systemd/user", Description: "users' systemd user units", Recursive: true},
	}
}

func userWatches(home string) []Watch {
	h := func(p string) string { return filepath.Join(home, p) }
	// A change to what runs at login is how malware persists: Medium, so it
	// is not lost among Low file writes. SSH material is High/Critical anyway.
	persist := func(p, desc string, recursive bool) Watch {
		return Watch{Path: h(p), Description: desc, Recursive: recursive, Severity: event.Medium}
	}
	ws := []Watch{
		persist(".config/autostart", "programs started at login (XDG autostart)", true),
		persist(".config/systemd/user", "your systemd user units", true),
		persist(".config/environment.d", "your session environment", true),
		persist(".config/niri", "niri config (spawn-at-startup)", true),
		persist(".local/bin", "programs early in your PATH", false),
	}
	for _, f := range []string{".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile",
		".zshrc", ".zshenv", ".zprofile", ".zlogin", ".config/fish/config.fish",
		".xprofile", ".xsessionrc", ".pam_environment"} {
		ws = append(ws, persist(f, "login shell start-up file", false))
	}
	return ws
}

// EnabledWatches are the [[watches]] not switched off by enabled = false.
func (c *Config) EnabledWatches() []Watch {
	var ws []Watch
	for _, wt := range c.Watches {
		if wt.IsEnabled() {
			ws = append(ws, wt)
		}
	}
	return ws
}

// Load reads the file at path over the defaults for mode.
func Load(path string, mode Mode, env Env) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config: %w", err)
	}
	return Parse(path, data, mode, env)
}

// Parse decodes data (named file in errors) over the defaults for mode.
func Parse(file string, data []byte, mode Mode, env Env) (*Config, error) {
	c := Defaults(mode, env)
	defaultWatches := c.Watches
	c.Watches = nil
	c.Source = file
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, decodeError(file, err)
	}
	pos, err := positions(data)
	if err != nil {
		return nil, &Error{File: file, Msg: err.Error()}
	}
	if _, given := pos["watches"]; !given {
		c.Watches = defaultWatches
	}
	c.complete(env)
	if errs := c.check(file, pos); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// complete fills in what the file leaves to be derived: ~ in paths becomes
// the home, and triggers get their default timeout and least severity.
func (c *Config) complete(env Env) {
	for i := range c.Watches {
		c.Watches[i].Path = expandHome(c.Watches[i].Path, env.Home)
		c.Watches[i].Pattern = expandHome(c.Watches[i].Pattern, env.Home)
	}
	for _, p := range []*string{&c.SSH.JournalDirectory, &c.SSH.AuthLog, &c.SSH.HomeRoot} {
		*p = expandHome(*p, env.Home)
	}
	for i := range c.Triggers {
		t := &c.Triggers[i]
		if t.TimeoutSeconds == 0 {
			t.TimeoutSeconds = 30
		}
		if t.MinSeverity == 0 {
			t.MinSeverity = event.Low
		}
	}
}

// check validates what the decoder cannot; it changes nothing.
func (c *Config) check(file string, pos positionIndex) []error {
	var errs []error
	bad := func(key, format string, a ...any) {
		p := pos.find(key)
		errs = append(errs, &Error{File: file, Line: p.line, Column: p.col, Key: key, Msg: fmt.Sprintf(format, a...)})
	}
	for _, check := range []func(complain){c.checkTop, c.checkWatches, c.checkSSH, c.checkDevices, c.checkNetwork, c.checkTriggers, c.checkCorrelation} {
		check(bad)
	}
	return errs
}

// complain records a problem with key, worded by format.
type complain func(key, format string, a ...any)

func (c *Config) checkTop(bad complain) {
	if c.SocketPath == "" || !filepath.IsAbs(c.SocketPath) {
		bad("socket_path", "must be an absolute path, not %q", c.SocketPath)
	} else if len(c.SocketPath) >= 108 {
		bad("socket_path", "is %d bytes long; a Unix socket path must be shorter than 108", len(c.SocketPath))
	}
	if c.StateDirectory != "" && !filepath.IsAbs(c.StateDirectory) {
		bad("state_directory", "must be an absolute path, not %q", c.StateDirectory)
	}
	c.LogLevel = LogLevel(strings.ToLower(string(c.LogLevel)))
	if err := c.LogLevel.Valid(); err != nil {
		bad("log_level", "%v", err)
	}
	switch c.DBus {
	case "auto", "system", "session", "off":
	default:
		bad("dbus", "must be auto, system, session or off, not %q", c.DBus)
	}
	// Upper bounds: each kept or queued event takes memory (and the
	// replay log twice the buffer on disk); beyond these a typo takes the
	// machine's memory instead of giving an error.
	if c.ReplayBuffer < 1 || c.ReplayBuffer > MaxReplayBuffer {
		bad("replay_buffer", "must be from 1 to %d events, not %d", MaxReplayBuffer, c.ReplayBuffer)
	}
	if c.ClientQueue < 16 || c.ClientQueue > MaxClientQueue {
		bad("client_queue", "must be from 16 to %d events, not %d", MaxClientQueue, c.ClientQueue)
	}
}

func (c *Config) checkWatches(bad complain) {
	for i, wt := range c.Watches {
		key := fmt.Sprintf("watches.%d", i)
		switch {
		case wt.Path == "" && wt.Pattern == "":
			bad(key, "a watch needs a path or a pattern")
		case wt.Path != "" && !filepath.IsAbs(wt.Path):
			bad(key+".path", "must be an absolute path (or start with ~/), not %q", wt.Path)
		case wt.Path == "" && !filepath.IsAbs(wt.Pattern):
			bad(key+".pattern", "without a path, must be an absolute glob (or start with ~/), not %q", wt.Pattern)
		case wt.Path != "" && wt.Pattern != "" && !filepath.IsAbs(wt.Pattern) && strings.Contains(wt.Pattern, "/"):
			bad(key+".pattern", "with a path, is either an absolute glob or a glob for base names such as \"*.conf\", not %q", wt.Pattern)
		}
		if wt.Pattern != "" {
			if _, err := filepath.Match(wt.Pattern, "/"); err != nil {
				bad(key+".pattern", "bad glob %q: %v", wt.Pattern, err)
			}
		}
	}
}

func (c *Config) checkDevices(bad complain) {
	for _, devs := range []struct {
		key   string
		globs []string
	}{{"camera.devices", c.Camera.Devices}, {"microphone.devices", c.Microphone.Devices}} {
		for _, d := range devs.globs {
			if !filepath.IsAbs(d) {
				bad(devs.key, "must be absolute globs of device nodes, not %q", d)
			} else if _, err := filepath.Match(d, "/"); err != nil {
				bad(devs.key, "bad glob %q: %v", d, err)
			}
		}
	}
}

func (c *Config) checkNetwork(bad complain) {
	for _, a := range c.Network.AllowedListeners {
		switch {
		case a == "":
			bad("network.allowed_listeners", "an entry is empty")
		case filepath.IsAbs(a):
			if _, err := filepath.Match(a, "/"); err != nil {
				bad("network.allowed_listeners", "bad glob %q: %v", a, err)
			}
		case strings.Contains(a, "/"):
			bad("network.allowed_listeners", "%q is neither a program name (comm) nor an absolute path", a)
		case len(a) > 15:
			bad("network.allowed_listeners", "%q is longer than a comm can be (15 bytes): give the absolute path of the program", a)
		}
	}
	if n := c.Network.PortScanThreshold; n < 2 || n > 1024 {
		bad("network.port_scan_threshold", "must be between 2 and 1024, not %d", n)
	}
	if n := c.Network.PortScanWindowSeconds; n < 1 || n > 86400 {
		bad("network.port_scan_window_seconds", "must be between 1 and 86400, not %d", n)
	}
	if n := c.Network.ConnectionRateLimitSeconds; n < 0 || n > 86400 {
		bad("network.connection_rate_limit_seconds", "must be between 0 and 86400, not %d", n)
	}
}

func (c *Config) checkTriggers(bad complain) {
	names := map[string]bool{}
	for i, t := range c.Triggers {
		key := fmt.Sprintf("triggers.%d", i)
		if t.Name == "" {
			bad(key, "a trigger needs a name")
		} else if names[t.Name] {
			bad(key+".name", "trigger name %q is used twice", t.Name)
		}
		names[t.Name] = true
		if t.Command == "" {
			bad(key, "a trigger needs a command")
		} else if strings.ContainsAny(t.Command, " \t") && !filepath.IsAbs(t.Command) {
			bad(key+".command", "is run without a shell: put the program in command and its arguments in args, not %q", t.Command)
		}
		for _, et := range t.EventTypes {
			if _, err := event.ParseType(string(et)); err != nil {
				bad(key+".event_types", "%v", err)
			}
		}
		// Seconds are multiplied into a time.Duration: a huge value
		// would overflow it into a negative one.
		if t.CooldownSeconds < 0 || t.CooldownSeconds > maxTriggerSeconds {
			bad(key+".cooldown_seconds", "must be from 0 to %d seconds (a week), not %d", maxTriggerSeconds, t.CooldownSeconds)
		}
		if t.TimeoutSeconds < 0 || t.TimeoutSeconds > maxTriggerSeconds {
			bad(key+".timeout_seconds", "must be from 0 to %d seconds (a week), not %d", maxTriggerSeconds, t.TimeoutSeconds)
		}
	}
}

func (c *Config) checkSSH(bad complain) {
	s := &c.SSH
	for _, p := range []struct {
		key      string
		v        string
		optional bool
	}{{"ssh.journal_directory", s.JournalDirectory, true}, {"ssh.auth_log", s.AuthLog, true}, {"ssh.home_root", s.HomeRoot, false}} {
		if (p.v != "" || !p.optional) && !filepath.IsAbs(p.v) {
			bad(p.key, "must be an absolute path (or start with ~/), not %q", p.v)
		}
	}
	if s.JournalDirectory != "" && s.AuthLog != "" {
		bad("ssh.auth_log", "set either journal_directory (read that journal) or auth_log (read that file), not both")
	}
	if s.BruteForceThreshold < 1 || s.BruteForceThreshold > 100 {
		bad("ssh.brute_force_threshold", "must be from 1 to 100 failures, not %d", s.BruteForceThreshold)
	}
	if s.BruteForceWindowSeconds < 1 || s.BruteForceWindowSeconds > 86400 {
		bad("ssh.brute_force_window_seconds", "must be from 1 to 86400 seconds, not %d", s.BruteForceWindowSeconds)
	}
}

func expandHome(p, home string) string {
	if p == "~" {
		return home
	}
	if strings.HasPrefix(p, "~/") && home != "" {
		return filepath.Join(home, p[2:])
	}
	return p
}
